//! Shared fixtures for PhantomCoin's integration tests: a test-only module (`churn`), a
//! deterministic anchor generator and chainspecs with chosen module sets.
//!
//! `churn` lives here, outside host/, on purpose: it is a module written the way any module
//! author writes one, and the host finds it only through `inventory`.
#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use pc_chainspec::{ChainSpec, DEV_JSON};
use pc_codec::{ConsensusTime, Decode, Domain, Encode, Hash32, decode_canonical};
use pc_runtime::{AnchorInput, Runtime};
use pc_runtime_api::{
    AnchorCtx, Call, EventSink, Module, ModuleDescriptor, ModuleError, ModuleEvent, ModuleInit, ModuleState,
    StorageMap, StorageValue, register_module,
};
use pc_state::StateDb;
use std::sync::Arc;

// Keep the genesis module linked in every test binary that uses these fixtures (a test that
// needs `utxo` links it itself, so the others show what a genesis-only host does).
use pc_module_genesis as _;

const SEED: Domain = Domain::new("phantomcoin/v1/test/churn");

/// A call to `churn`: set (`Some`) or delete (`None`) an entry; key 0xff is always refused.
#[derive(Debug, Clone, Encode, Decode)]
pub struct ChurnCall {
    /// Entry key.
    pub key: u32,
    /// New value.
    pub value: Option<Vec<u8>>,
}

/// Emitted for every applied churn call.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Churned(pub u32);
impl ModuleEvent for Churned {
    const NAME: &'static str = "Churned";
}

const ENTRIES: StorageMap<u32, Vec<u8>> = StorageMap::new("entries");
const LAST_ANCHOR: StorageValue<u64> = StorageValue::new("last-anchor");

/// Writes many keys per anchor so that commits take real work.
#[derive(Debug)]
pub struct Churn;

impl Module for Churn {
    fn apply(
        &self,
        _ctx: &AnchorCtx,
        call: &[u8],
        state: &mut ModuleState<'_>,
        events: &mut EventSink<'_>,
    ) -> Result<(), ModuleError> {
        let c: ChurnCall = decode_canonical(call, 4096)?;
        if c.key == 0xff {
            return Err(ModuleError::invalid("churn.refused", "key 0xff is refused"));
        }
        match &c.value {
            Some(v) => ENTRIES.insert(state, &c.key, v),
            None => ENTRIES.remove(state, &c.key),
        }
        events.emit(&Churned(c.key));
        Ok(())
    }

    fn on_anchor_begin(
        &self,
        ctx: &AnchorCtx,
        state: &mut ModuleState<'_>,
        _e: &mut EventSink<'_>,
    ) -> Result<(), ModuleError> {
        LAST_ANCHOR.put(state, &ctx.index);
        Ok(())
    }

    fn on_anchor_end(
        &self,
        ctx: &AnchorCtx,
        state: &mut ModuleState<'_>,
        _e: &mut EventSink<'_>,
    ) -> Result<(), ModuleError> {
        let h = SEED.hash(&ctx.index.to_le_bytes());
        for i in 0..24u32 {
            let key = 1000 + u32::from(h.0[i as usize % 32]) * 16 + i % 16;
            ENTRIES.insert(state, &key, &h.0[..(i as usize % 32) + 1].to_vec());
        }
        Ok(())
    }
}

register_module!(ModuleDescriptor {
    name: "churn",
    feature: "test-only",
    order: 100,
    depends_on: &[],
    build: |_init: &ModuleInit<'_>| Ok(Box::new(Churn)),
});

/// The dev chainspec with only the `genesis` module.
pub fn genesis_only_spec() -> ChainSpec {
    let mut spec = ChainSpec::from_json(DEV_JSON).unwrap();
    spec.modules.retain(|name, _| name == "genesis");
    spec
}

/// The dev chainspec with `churn` enabled next to `genesis` (and nothing else).
pub fn churn_spec() -> ChainSpec {
    let mut spec = genesis_only_spec();
    spec.modules.insert("churn".into(), serde_json::json!({}));
    spec
}

/// The `i`-th synthetic finalized anchor (i ≥ 1): churn calls, a refused call every 5th anchor
/// and a call to a module that is not enabled every 7th.
pub fn synthetic_anchor(i: u64) -> AnchorInput {
    let h = SEED.hash(&i.to_be_bytes());
    let mut calls: Vec<Call> = (0..6u32)
        .map(|j| {
            let key = u32::from(h.0[j as usize]) % 64;
            let value = if h.0[j as usize + 8].is_multiple_of(4) { None } else { Some(h.0[..8].to_vec()) };
            Call { module: "churn".into(), data: ChurnCall { key, value }.encode() }
        })
        .collect();
    if i.is_multiple_of(5) {
        calls.push(Call { module: "churn".into(), data: ChurnCall { key: 0xff, value: None }.encode() });
    }
    if i.is_multiple_of(7) {
        calls.push(Call { module: "absent".into(), data: vec![1, 2, 3] });
    }
    let ctx = AnchorCtx::bare(0, i, h, ConsensusTime { anchor: i, lamport: i * 3 });
    AnchorInput { ctx, calls }
}

/// State roots after genesis and after each synthetic anchor 1..=n, computed in memory.
pub fn reference_roots(n: u64) -> Vec<Hash32> {
    let rt = Runtime::new(churn_spec()).unwrap();
    let db = StateDb::new(Arc::new(pc_store::MemStore::new()));
    let mut roots = vec![rt.init_genesis(&db).unwrap().state_root];
    for i in 1..=n {
        roots.push(rt.apply_anchor(&db, &synthetic_anchor(i)).unwrap().record.state_root);
    }
    roots
}

/// A test key: secret bytes derived from `i`.
pub fn test_key(i: u32) -> pc_utxo_tx::Keypair {
    let secret = Domain::new("phantomcoin/v1/test/key").hash(&i.to_le_bytes()).0;
    pc_utxo_tx::keypair_from_seed(secret).unwrap()
}

/// The dev chainspec with only `genesis` and `utxo`, allocating `value` units to each key.
pub fn utxo_spec(keys: &[pc_utxo_tx::Keypair], value: u64) -> ChainSpec {
    let mut spec = genesis_only_spec();
    let allocations: Vec<serde_json::Value> = keys
        .iter()
        .map(|k| {
            let addr = pc_utxo_tx::Address::Key(pc_utxo_tx::XOnly::of(k));
            serde_json::json!({ "address": addr.to_string(), "value": value })
        })
        .collect();
    spec.modules.insert("utxo".into(), serde_json::json!({ "allocations": allocations }));
    spec
}

/// An anchor context for index `i` (tests drive anchors without consensus).
pub fn anchor_ctx(i: u64) -> AnchorCtx {
    AnchorCtx::bare(0, i, SEED.hash(&i.to_le_bytes()), ConsensusTime { anchor: i, lamport: i })
}
