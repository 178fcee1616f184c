//! The constants sheet (plan item t1): every protocol constant is a chainspec field.
//!
//! All quantities are integers: shares in basis points (1/10,000), the ack decay α as a
//! fraction, and every window counted in finalized anchors on the global index (never seconds).

use serde::{Deserialize, Serialize};

/// One chain's protocol constants. See `docs/spec/constants.md` for each field's meaning.
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
    /// Fee distribution per anchor.
    pub fees: Fees,
    /// Windows, counted in finalized anchors.
    pub windows: Windows,
    /// Supply and emission.
    pub emission: Emission,
    /// Slashing shares.
    pub slashing: Slashing,
    /// M: attestors sampled per anchor.
    pub attestor_sample: u16,
}

/// Fee split and the ack performance bonus (plan item t4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fees {
    /// p_base: floor shared by all eligible seats.
    pub base_bps: u16,
    /// p_prop: the anchor's proposer.
    pub proposer_bps: u16,
    /// p_perf: performance bonus by ack distance.
    pub performance_bps: u16,
    /// p_att: the attestor pot.
    pub attestor_bps: u16,
    /// α = alpha_num / alpha_den, weight of an ack at distance d is α^(d−1).
    pub ack_alpha_num: u32,
    /// Denominator of α.
    pub ack_alpha_den: u32,
    /// D_max: acks farther than this earn nothing.
    pub ack_max_distance: u32,
    /// Small fee per anchor charged against anchor credit (anti-spam), in units.
    pub anchor_fee: u64,
}

/// Clock-free windows, all in finalized anchors (plan item t2, t3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Windows {
    /// Maturity tiers of a mint, ascending (plan: 50k / 100k / 200k).
    pub maturity_tiers: Vec<u64>,
    /// Anchors between bonding and a seat becoming eligible.
    pub activation_buffer: u64,
    /// Anchors between unbond request and release of the bond.
    pub unbonding: u64,
    /// Anchors after a fault during which evidence is accepted.
    pub slash_window: u64,
    /// Anchors a slashed or absent seat waits before it may rejoin.
    pub cooldown: u64,
    /// Anchors a payout or slash claim stays claimable.
    pub claim_expiry: u64,
    /// Anchors between difficulty retargets.
    pub difficulty_retarget: u64,
    /// Anchors within which a seat must heartbeat to stay eligible.
    pub heartbeat: u64,
    /// R: anchors per consensus epoch. An epoch ends at every anchor whose index is a multiple
    /// of R; the next anchor starts a new DAG, so what a node keeps in memory is bounded by
    /// the events of two epochs (consensus.md §11).
    pub epoch_anchors: u64,
}

/// Supply cap and emission (plan item t5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Emission {
    /// Hard cap in units (50,000,000 PC × 10^8 = 5·10^15).
    pub supply_cap: u64,
    /// Reward of the first mint, in units.
    pub initial_mint_reward: u64,
    /// Mints between halvings (counted in mints, not time).
    pub halving_mints: u64,
}

/// Slashing shares in basis points (plan item t3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Slashing {
    /// Equivocation: 10,000 (100 %).
    pub equivocation_bps: u16,
    /// Vote for invalid: first offence, then repeat (50 % then 100 %).
    pub vote_invalid_bps: Vec<u16>,
    /// Conflicting data-availability claims: 25 / 50 / 100 %.
    pub da_conflict_bps: Vec<u16>,
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

fn ascending_bps(v: &[u16]) -> bool {
    !v.is_empty() && v.windows(2).all(|w| w[0] <= w[1]) && v.iter().all(|b| *b <= 10_000)
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
        let f = &self.fees;
        let sum = u32::from(f.base_bps)
            + u32::from(f.proposer_bps)
            + u32::from(f.performance_bps)
            + u32::from(f.attestor_bps);
        rule(sum == 10_000, "fees", || format!("base+proposer+performance+attestor must be 10000 bps, got {sum}"))?;
        rule(f.ack_alpha_den > 0, "fees.ack_alpha_den", || "must not be 0".into())?;
        rule(f.ack_alpha_num > 0 && f.ack_alpha_num <= f.ack_alpha_den, "fees.ack_alpha_num", || {
            "α must be in (0, 1]".into()
        })?;
        rule(f.ack_max_distance >= 1, "fees.ack_max_distance", || "must be at least 1".into())?;
        let w = &self.windows;
        rule(
            !w.maturity_tiers.is_empty() && w.maturity_tiers.windows(2).all(|p| p[0] < p[1]),
            "windows.maturity_tiers",
            || "must be a non-empty, strictly ascending list".into(),
        )?;
        for (field, v) in [
            ("windows.unbonding", w.unbonding),
            ("windows.slash_window", w.slash_window),
            ("windows.difficulty_retarget", w.difficulty_retarget),
            ("windows.heartbeat", w.heartbeat),
            ("windows.claim_expiry", w.claim_expiry),
            ("windows.epoch_anchors", w.epoch_anchors),
        ] {
            rule(v >= 1, field, || "must be at least 1 anchor".into())?;
        }
        // Evidence is taken until slash_window anchors after the end of the offence's epoch,
        // and a fault may fall on an epoch's first anchor: R + slash_window after it.
        rule(w.unbonding >= w.slash_window.saturating_add(w.epoch_anchors), "windows.unbonding", || {
            "must be at least windows.slash_window + windows.epoch_anchors, or a bond could leave before its evidence lands"
                .into()
        })?;
        let e = &self.emission;
        rule(e.supply_cap <= 5_000_000_000_000_000, "emission.supply_cap", || {
            "must not exceed 5·10^15 units (50,000,000 PC)".into()
        })?;
        rule(
            e.initial_mint_reward >= 1 && e.initial_mint_reward <= e.supply_cap,
            "emission.initial_mint_reward",
            || "must be 1..=supply_cap".into(),
        )?;
        rule(e.halving_mints >= 1, "emission.halving_mints", || "must be at least 1".into())?;
        let series_bound = u128::from(e.initial_mint_reward) * u128::from(e.halving_mints) * 2;
        rule(series_bound <= u128::from(e.supply_cap), "emission", || {
            format!(
                "initial_mint_reward × halving_mints × 2 = {series_bound} exceeds supply_cap; the halving series would hit the cap"
            )
        })?;
        let s = &self.slashing;
        rule(s.equivocation_bps <= 10_000, "slashing.equivocation_bps", || "must be at most 10000".into())?;
        rule(ascending_bps(&s.vote_invalid_bps), "slashing.vote_invalid_bps", || {
            "must be a non-empty ascending list of bps ≤ 10000".into()
        })?;
        rule(ascending_bps(&s.da_conflict_bps), "slashing.da_conflict_bps", || {
            "must be a non-empty ascending list of bps ≤ 10000".into()
        })?;
        rule(self.attestor_sample >= 1, "attestor_sample", || "must be at least 1".into())?;
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
