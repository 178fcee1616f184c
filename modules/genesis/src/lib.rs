//! The genesis module: commits anchor A0's identity into the state.
//!
//! At genesis it stores the BLAKE3 commitment of the chainspec's `genesis_note`, the network
//! id, the chain seed (the first finalized randomness, from which committee sampling starts)
//! and the genesis hash, so that every later state root binds them. It takes no calls and has
//! no anchor hooks. Rules: `docs/spec/modules/genesis.md`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use pc_runtime_api::codec::{Decode, Domain, Encode, Hash32};
use pc_runtime_api::{
    EventSink, GenesisCtx, Module, ModuleDescriptor, ModuleError, ModuleEvent, ModuleInit, ModuleState, StorageValue,
    register_module,
};
use serde::Deserialize;

/// Domain of the genesis-note commitment.
pub const NOTE_DOMAIN: Domain = Domain::new("phantomcoin/v1/genesis/note");

/// What genesis committed.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct GenesisInfo {
    /// BLAKE3 (note domain) of the genesis note text.
    pub note_commitment: Hash32,
    /// The network id.
    pub network_id: String,
    /// The chain seed.
    pub seed: Hash32,
    /// Hash of the raw chainspec.
    pub genesis_hash: Hash32,
}

/// Emitted once, at A0.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct GenesisCommitted(pub GenesisInfo);

impl ModuleEvent for GenesisCommitted {
    const NAME: &'static str = "GenesisCommitted";
}

/// The stored genesis facts.
pub const INFO: StorageValue<GenesisInfo> = StorageValue::new("info");

/// The module's chainspec section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// Free text committed at genesis (e.g. a headline), only its hash reaches the state.
    genesis_note: String,
    /// 32 bytes of hex: the chain seed.
    seed: Hash32,
}

/// The genesis module.
#[derive(Debug)]
pub struct Genesis {
    config: Config,
}

fn build(init: &ModuleInit<'_>) -> Result<Box<dyn Module>, ModuleError> {
    let config: Config = init.parse_config()?;
    if config.genesis_note.trim().is_empty() {
        return Err(ModuleError::Config { field: "genesis_note".into(), reason: "must not be empty".into() });
    }
    Ok(Box::new(Genesis { config }))
}

impl Module for Genesis {
    fn genesis(
        &self,
        ctx: &GenesisCtx<'_>,
        state: &mut ModuleState<'_>,
        events: &mut EventSink<'_>,
    ) -> Result<(), ModuleError> {
        let info = GenesisInfo {
            note_commitment: NOTE_DOMAIN.hash(self.config.genesis_note.as_bytes()),
            network_id: ctx.network_id.to_string(),
            seed: self.config.seed,
            genesis_hash: ctx.genesis_hash,
        };
        INFO.put(state, &info);
        events.emit(&GenesisCommitted(info));
        Ok(())
    }
}

register_module!(ModuleDescriptor { name: "genesis", feature: "module-genesis", order: 0, depends_on: &[], build });
