//! The mint-pow module: coins are created by BLAKE3 proof of work and nothing else.
//!
//! A mint is a call carrying a [`MintHeader`] whose PoW hash meets the current target and
//! whose `prev_mint` is the newest finalized mint, so mints form a chain ordered by the DAG like
//! any call: hash power buys emission, never ordering. Rewards halve by mint count, the target
//! is retargeted every `difficulty_retarget` finalized anchors, and each minted output matures
//! after the tier the miner chose, fixed at mint time. Outputs are issued through the UTXO
//! module's ledger interface, which enforces the supply cap. The emission curve and the
//! windows are this module's own constants, in its chainspec section (`MintConfig`). Rules:
//! `docs/spec/mint.md`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod emission;
mod header;
mod rpc;

pub use emission::{base_reward, curve_total, retarget, tier_reward};
pub use header::{MintHeader, genesis_tip, pow_hash_bytes, pow_midstate, tip_tag};

use pc_runtime_api::codec::{Decode, Encode, Hash32, decode_canonical};
use pc_runtime_api::{
    AnchorCtx, EventSink, GenesisCtx, Module, ModuleDescriptor, ModuleError, ModuleEvent, ModuleInit, ModuleState,
    ModuleView, RpcMethod, StorageMap, StorageValue, Validity, register_module,
};
use pc_utxo_tx::{Address, TxOut};
use serde::Deserialize;

/// The module's name.
pub const NAME: &str = "mint-pow";

/// The newest finalized mint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub struct Tip {
    /// Its id ([`genesis_tip`] before the first mint).
    pub id: Hash32,
    /// Its height (0 before the first mint).
    pub height: u64,
}

/// A finalized mint.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct MintRecord {
    /// Height.
    pub height: u64,
    /// The anchor that finalized it.
    pub anchor: u64,
    /// Units paid.
    pub reward: u64,
    /// Maturity tier.
    pub tier: u8,
    /// First anchor in which the output may be spent.
    pub spendable_from: u64,
}

/// Emitted for every applied mint.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Minted {
    /// Mint id.
    pub id: Hash32,
    /// Height.
    pub height: u64,
    /// Units paid.
    pub reward: u64,
    /// Maturity.
    pub spendable_from: u64,
}

impl ModuleEvent for Minted {
    const NAME: &'static str = "Minted";
}

/// The newest finalized mint.
pub const TIP: StorageValue<Tip> = StorageValue::new("tip");
/// The current target, big-endian.
pub const TARGET: StorageValue<[u8; 32]> = StorageValue::new("target");
/// Mints finalized in the current retarget window.
pub const WINDOW_MINTS: StorageValue<u64> = StorageValue::new("window-mints");
/// Finalized mints by id.
pub const MINTS: StorageMap<Hash32, MintRecord> = StorageMap::new("mints");

/// `modules.mint-pow` in a chainspec: the module's own constants (docs/spec/mint.md §2).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MintConfig {
    /// The target at genesis, 64 hex characters (big-endian).
    pub initial_target: Hash32,
    /// The easiest target a retarget may reach.
    pub pow_limit: Hash32,
    /// Intended anchors between two mints.
    pub anchors_per_mint: u64,
    /// Maturity tiers in anchors, strictly ascending; a mint picks one (plan: 50k/100k/200k).
    pub maturity_tiers: Vec<u64>,
    /// Anchors between two difficulty retargets.
    pub difficulty_retarget: u64,
    /// Reward of the first mint, in units.
    pub initial_mint_reward: u64,
    /// Mints between two halvings (counted in mints, not time).
    pub halving_mints: u64,
}

impl MintConfig {
    /// Checks every rule of the section against the chain's supply cap; the first broken
    /// one is named by its field (the host prefixes `modules.mint-pow.`).
    pub fn validate(&self, supply_cap: u64) -> Result<(), ModuleError> {
        let rule = |ok: bool, field: &str, reason: String| {
            if ok { Ok(()) } else { Err(ModuleError::Config { field: field.into(), reason }) }
        };
        rule(self.anchors_per_mint >= 1, "anchors_per_mint", "must be at least 1".into())?;
        rule(self.initial_target <= self.pow_limit, "initial_target", "must not be easier than pow_limit".into())?;
        let t = &self.maturity_tiers;
        rule(
            !t.is_empty() && t.len() <= 256 && t.windows(2).all(|p| p[0] < p[1]),
            "maturity_tiers",
            "must be a non-empty, strictly ascending list of at most 256 tiers".into(),
        )?;
        rule(self.difficulty_retarget >= 1, "difficulty_retarget", "must be at least 1 anchor".into())?;
        rule(
            (1..=supply_cap).contains(&self.initial_mint_reward),
            "initial_mint_reward",
            format!("must be 1..=constants.supply_cap ({supply_cap})"),
        )?;
        rule(self.halving_mints >= 1, "halving_mints", "must be at least 1".into())?;
        // The halving series sums to less than reward × halving × 2. Genesis allocations count
        // against the cap too, so the curve may still meet it: `check` then pays what is left.
        let bound = u128::from(self.initial_mint_reward) * u128::from(self.halving_mints) * 2;
        rule(
            bound <= u128::from(supply_cap),
            "halving_mints",
            format!(
                "initial_mint_reward × halving_mints × 2 = {bound} exceeds constants.supply_cap ({supply_cap}); the halving series would hit the cap"
            ),
        )
    }

    /// The reward of a mint at `height` in `tier`, before the cap (docs/spec/mint.md §4).
    pub fn curve(&self, height: u64, tier: u8) -> u64 {
        tier_reward(base_reward(self.initial_mint_reward, self.halving_mints, height), tier, self.maturity_tiers.len())
    }
}

/// The mint-pow module.
#[derive(Debug)]
pub struct MintPow {
    config: MintConfig,
}

fn build(init: &ModuleInit<'_>) -> Result<Box<dyn Module>, ModuleError> {
    let config: MintConfig = init.parse_config()?;
    config.validate(init.constants.supply_cap)?;
    Ok(Box::new(MintPow { config }))
}

/// The chain's genesis hash, as the UTXO module (a declared dependency) keeps it.
pub fn genesis_hash(view: &ModuleView<'_>) -> Result<Hash32, ModuleError> {
    pc_module_utxo::LedgerView::open(view)?.genesis_hash()
}

/// What a valid mint amounts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckedMint {
    /// Its id.
    pub id: Hash32,
    /// Units it pays.
    pub reward: u64,
    /// Its maturity tier's length in anchors.
    pub maturity: u64,
}

fn invalid(code: &'static str, reason: impl Into<String>) -> ModuleError {
    ModuleError::invalid(code, reason)
}

impl MintPow {
    fn decode(call: &[u8]) -> Result<MintHeader, ModuleError> {
        decode_canonical::<MintHeader>(call, 1024).map_err(|e| invalid("mint.decode", e.to_string()))
    }

    /// Every rule of docs/spec/mint.md §6 against `state`.
    pub fn check(&self, h: &MintHeader, state: &ModuleView<'_>) -> Result<CheckedMint, ModuleError> {
        if h.version != 0 {
            return Err(invalid("mint.version", format!("unknown mint version {}", h.version)));
        }
        let genesis = genesis_hash(state)?;
        if h.genesis != genesis {
            return Err(invalid("mint.network", "the header is for another chain"));
        }
        let tip = TIP.get(state)?.ok_or_else(|| ModuleError::Fatal("mint-pow tip missing".into()))?;
        if h.prev_mint != tip.id || Some(h.height) != tip.height.checked_add(1) {
            return Err(invalid(
                "mint.stale",
                format!(
                    "the header builds on mint {} at height {}; the tip is height {}",
                    h.prev_mint,
                    h.height.saturating_sub(1),
                    tip.height
                ),
            ));
        }
        let target = TARGET.get(state)?.ok_or_else(|| ModuleError::Fatal("mint-pow target missing".into()))?;
        if h.target != target {
            return Err(invalid("mint.target", "the header's target is not the current target"));
        }
        let tiers = &self.config.maturity_tiers;
        let maturity = *tiers
            .get(usize::from(h.tier))
            .ok_or_else(|| invalid("mint.tier", format!("tier {} does not exist; tiers: {tiers:?}", h.tier)))?;
        Address::from_bytes(&h.payout).map_err(|e| invalid("mint.payout", e.to_string()))?;
        if !h.meets_target() {
            return Err(invalid("mint.pow", "the proof-of-work hash is above the target"));
        }
        // Genesis allocations count against the cap too: near it, a mint pays what is left
        // (possibly nothing) and still advances the tip, so minting never wedges.
        let ledger = pc_module_utxo::LedgerView::open(state)?;
        let reward =
            self.config.curve(h.height, h.tier).min(ledger.supply_cap()?.saturating_sub(ledger.totals()?.issued));
        Ok(CheckedMint { id: h.id(), reward, maturity })
    }
}

impl Module for MintPow {
    fn genesis(
        &self,
        ctx: &GenesisCtx<'_>,
        state: &mut ModuleState<'_>,
        _events: &mut EventSink<'_>,
    ) -> Result<(), ModuleError> {
        TIP.put(state, &Tip { id: genesis_tip(&ctx.genesis_hash), height: 0 });
        TARGET.put(state, &self.config.initial_target.0);
        WINDOW_MINTS.put(state, &0);
        Ok(())
    }

    fn call_key(&self, call: &[u8]) -> Option<Hash32> {
        Self::decode(call).ok().map(|h| h.id())
    }

    fn validate(&self, call: &[u8], view: &ModuleView<'_>) -> Result<Validity, ModuleError> {
        let h = Self::decode(call)?;
        let c = self.check(&h, view)?;
        // Mints go first: they pay no fee but are few, and a stale one is worthless.
        Ok(Validity {
            priority: u64::MAX,
            provides: vec![c.id],
            requires: vec![tip_tag(&h.prev_mint)],
            stable: false,
            key: Some(c.id),
        })
    }

    fn apply(
        &self,
        ctx: &AnchorCtx,
        call: &[u8],
        state: &mut ModuleState<'_>,
        events: &mut EventSink<'_>,
    ) -> Result<(), ModuleError> {
        let h = Self::decode(call)?;
        let c = self.check(&h, &state.view())?;
        let spendable_from = ctx
            .index
            .checked_add(c.maturity)
            .ok_or_else(|| invalid("mint.tier", "maturity overflows the anchor index"))?;
        if c.reward > 0 {
            let payout = Address::from_bytes(&h.payout).map_err(|e| invalid("mint.payout", e.to_string()))?;
            let out = TxOut { value: c.reward, predicate: payout.predicate() };
            pc_module_utxo::Ledger::open(state)?.issue(&c.id, 0, out, ctx.index, spendable_from)?;
        }
        TIP.put(state, &Tip { id: c.id, height: h.height });
        let minted = WINDOW_MINTS.get(&state.view())?.unwrap_or(0) + 1;
        WINDOW_MINTS.put(state, &minted);
        MINTS.insert(
            state,
            &c.id,
            &MintRecord { height: h.height, anchor: ctx.index, reward: c.reward, tier: h.tier, spendable_from },
        );
        events.emit(&Minted { id: c.id, height: h.height, reward: c.reward, spendable_from });
        Ok(())
    }

    fn on_anchor_end(
        &self,
        ctx: &AnchorCtx,
        state: &mut ModuleState<'_>,
        _events: &mut EventSink<'_>,
    ) -> Result<(), ModuleError> {
        let window = self.config.difficulty_retarget;
        if window == 0 || !ctx.index.is_multiple_of(window) {
            return Ok(());
        }
        let minted = WINDOW_MINTS.get(&state.view())?.unwrap_or(0);
        let target = TARGET.get(&state.view())?.ok_or_else(|| ModuleError::Fatal("mint-pow target missing".into()))?;
        let expected = window / self.config.anchors_per_mint;
        TARGET.put(state, &retarget(target, expected, minted, self.config.pow_limit.0));
        WINDOW_MINTS.put(state, &0);
        Ok(())
    }

    fn rpc_methods(&self) -> Vec<RpcMethod> {
        rpc::methods(self.config.clone())
    }
}

register_module!(ModuleDescriptor { name: NAME, feature: "module-mint-pow", order: 200, depends_on: &["utxo"], build });
