//! The host's constants sheet (plan item t1): the chain-wide protocol constants that the
//! consensus engine and the runtime themselves need, each a chainspec field under `constants`.
//! A module's own constants (mint-pow's emission curve, the fee split, slashing shares, bond
//! windows) live in its own section `modules.<name>`, which it parses and validates itself
//! (docs/spec/constants.md), so the host knows no module's rules.
//!
//! All quantities are integers, and every window is counted in finalized anchors on the
//! global index (never seconds).

use serde::{Deserialize, Serialize};

/// The supply cap of the design card: 50,000,000 PC × 10^8 units.
pub const MAX_SUPPLY_CAP: u64 = 5_000_000_000_000_000;

/// One chain's host constants. See `docs/spec/constants.md` for each field's meaning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainConstants {
    /// S: number of shards.
    pub shards: u16,
    /// k: committee seats per shard, 1..=64 (a seat set is one `u64` mask).
    pub committee_size: u8,
    /// P: parents per event, 1..=4, the self-parent first.
    pub max_parents: u8,
    /// B: transactions per event payload at most.
    pub max_event_txs: u32,
    /// Hard cap on all value ever issued (genesis allocations and mints), in units. The ledger
    /// enforces it on every issue, whichever module asks.
    pub supply_cap: u64,
    /// Windows the host keeps, counted in finalized anchors.
    pub windows: Windows,
}

/// The host's clock-free windows, in finalized anchors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Windows {
    /// Anchors after the end of a fault's epoch during which evidence of it is accepted; the
    /// runtime keeps each epoch's committee that long (runtime-api.md §12, §13).
    pub slash_window: u64,
    /// R: anchors per consensus epoch. An epoch ends at every anchor whose index is a multiple
    /// of R; the next anchor starts a new DAG, so what a node keeps in memory is bounded by
    /// the events of two epochs (consensus.md §11).
    pub epoch_anchors: u64,
}

/// A constant that breaks a rule, with the path of the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("constants.{field}: {reason}")]
pub struct ConstantsError {
    /// Path below `constants`.
    pub field: &'static str,
    /// The rule broken.
    pub reason: String,
}

fn rule(ok: bool, field: &'static str, reason: impl FnOnce() -> String) -> Result<(), ConstantsError> {
    if ok { Ok(()) } else { Err(ConstantsError { field, reason: reason() }) }
}

impl ChainConstants {
    /// Checks every cross-field rule; the first violation is reported with its field path.
    pub fn validate(&self) -> Result<(), ConstantsError> {
        rule(self.shards >= 1, "shards", || "must be at least 1".into())?;
        rule((1..=64).contains(&self.committee_size), "committee_size", || {
            format!("must be 1..=64 (one bit per seat in a u64 vote mask), got {}", self.committee_size)
        })?;
        rule((1..=4).contains(&self.max_parents), "max_parents", || {
            format!("must be 1..=4, got {}", self.max_parents)
        })?;
        rule(self.committee_size == 1 || self.max_parents >= 2, "max_parents", || {
            "must be at least 2 when committee_size > 1 (a self-parent plus one cross-link)".into()
        })?;
        rule(self.max_event_txs >= 1, "max_event_txs", || "must be at least 1".into())?;
        rule((1..=MAX_SUPPLY_CAP).contains(&self.supply_cap), "supply_cap", || {
            format!("must be 1..=5·10^15 units (50,000,000 PC), got {}", self.supply_cap)
        })?;
        let w = &self.windows;
        rule(w.slash_window >= 1, "windows.slash_window", || "must be at least 1 anchor".into())?;
        rule(w.epoch_anchors >= 1, "windows.epoch_anchors", || "must be at least 1 anchor".into())?;
        Ok(())
    }

    /// Byzantine seats tolerated: f = ⌊(k−1)/3⌋.
    pub fn max_faulty(&self) -> u8 {
        self.committee_size.saturating_sub(1) / 3
    }

    /// Quorum q = k − f.
    pub fn quorum(&self) -> u8 {
        self.committee_size.saturating_sub(self.max_faulty())
    }
}

/// The epoch grid (consensus.md §11): an epoch ends at every anchor whose index is a multiple
/// of `r`, so every node derives the same boundaries from the chainspec alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochGrid {
    /// R: anchors per epoch (at least 1).
    pub r: u64,
}

impl EpochGrid {
    /// The first anchor of the grid epoch that holds anchor `a` (a ≥ 1).
    pub fn start_of(self, a: u64) -> u64 {
        (a.max(1) - 1) / self.r.max(1) * self.r.max(1) + 1
    }

    /// The last anchor of the epoch that starts at `first`: the first multiple of R at or
    /// after it. An epoch that starts off the grid (a single seat's restart) ends on it.
    pub fn end_of(self, first: u64) -> u64 {
        first.div_ceil(self.r.max(1)).max(1).saturating_mul(self.r.max(1))
    }
}

impl Windows {
    /// The consensus epoch grid of `epoch_anchors`.
    pub fn epoch_grid(&self) -> EpochGrid {
        EpochGrid { r: self.epoch_anchors }
    }
}
