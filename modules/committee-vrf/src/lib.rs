//! The committee-vrf module: the chain's committee provider.
//!
//! Candidates are Active bonds (`bonding`). For each epoch a bond proves a VRF output over the
//! epoch's seed, which was fixed one whole epoch before the selection by an anchor id nobody
//! knew in advance; the score is an integer from the verified output. At every epoch's last
//! anchor the host asks `next_committee`: the eligible candidates (seen within the heartbeat
//! window, not cooling down) are ranked per shard, one seat per operator per shard is taken,
//! and at most f = ⌊(k−1)/3⌋ seats change, unbonded and absent seats first. A seat's presence
//! is judged on its own finalized events only; heartbeats and candidacies keep unseated
//! candidates eligible. Absence costs a cooldown,
//! never bond. Rules: `docs/spec/modules/committee-vrf.md`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod rpc;
mod select;
mod types;

pub use select::{Outcome, Ranked, Sitting, Standing, select};
pub use types::{
    Candidate, CommitteeCall, CommitteeKept, SeatAbsent, SeatMeta, Selected, first_seed, heartbeat_digest, next_seed,
    rank, vrf_input,
};

use pc_module_bonding::{BondRecord, BondsView};
use pc_runtime_api::codec::{Encode, Hash32, decode_canonical};
use pc_runtime_api::{
    AnchorCtx, CommitteeSeat, EpochGrid, EventSink, GenesisCtx, Module, ModuleDescriptor, ModuleError, ModuleInit,
    ModuleState, ModuleView, RpcMethod, StorageMap, Validity, register_module,
};
use serde::Deserialize;

/// The module's name.
pub const NAME: &str = "committee-vrf";

/// Largest encoded call.
const MAX_CALL: usize = 4096;
/// The shard the host runs (one today; the rank is per shard already).
const SHARD: u16 = 0;

/// Pool priority of candidacies and heartbeats: above any fee-paying transaction (a validator's
/// duty must not be crowded out), below mints; each bond sends one candidacy per epoch and a
/// heartbeat per half window at most, so the pool cannot be flooded at this priority.
const DUTY_PRIORITY: u64 = u64::MAX / 2;

/// Seeds by the first anchor of the epoch they serve.
const SEEDS: StorageMap<u64, Hash32> = StorageMap::new("seeds");
/// Candidacies: (big-endian first anchor of the epoch, bond) → score.
const CANDIDACIES: StorageMap<([u8; 8], Hash32), u128> = StorageMap::new("candidacies");
/// The last anchor in which a bond was seen (an event of its seat, a heartbeat, a candidacy).
const LAST_SEEN: StorageMap<Hash32, u64> = StorageMap::new("last-seen");
/// The last anchor in which the bond's seat created a finalized event (or its epoch's first
/// anchor when it entered): what a sitting seat's absence is judged on. Heartbeats and
/// candidacies do not write it, so a seat that stopped working cannot keep its seat by them.
const LAST_EVENT: StorageMap<Hash32, u64> = StorageMap::new("last-event");
/// The anchor the bond's last heartbeat was bound to (a heartbeat must be newer).
const HEARTBEAT_REF: StorageMap<Hash32, u64> = StorageMap::new("heartbeat-ref");
/// Cooldowns: a bond is not selected while the anchor is ≤ this.
const COOLDOWN: StorageMap<Hash32, u64> = StorageMap::new("cooldown");
/// Attendance: (big-endian first anchor of the epoch, bond) → anchors in which its seat
/// created events.
const ATTENDANCE: StorageMap<([u8; 8], Hash32), u64> = StorageMap::new("attendance");

/// `modules.committee-vrf` in a chainspec (§1).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommitteeConfig {
    /// A candidate or seat is eligible only if seen within this many anchors.
    pub heartbeat: u64,
    /// Anchors an absent seat waits, from its drop, before it may be selected again.
    pub cooldown: u64,
}

fn invalid(code: &'static str, reason: impl Into<String>) -> ModuleError {
    ModuleError::invalid(code, reason)
}

/// The committee-vrf module.
#[derive(Debug, Clone)]
pub struct CommitteeVrf {
    config: CommitteeConfig,
    genesis: Hash32,
    grid: EpochGrid,
    seats: usize,
    /// Seats that may change per rotation: f = ⌊(k−1)/3⌋ (§5).
    cap: usize,
}

fn build(init: &ModuleInit<'_>) -> Result<Box<dyn Module>, ModuleError> {
    let config: CommitteeConfig = init.parse_config()?;
    let r = init.constants.windows.epoch_anchors;
    if config.heartbeat == 0 || config.heartbeat >= r {
        return Err(ModuleError::Config {
            field: "heartbeat".into(),
            reason: format!(
                "must be 1..constants.windows.epoch_anchors ({r}): a seat is judged on its events in the last `heartbeat` anchors of an epoch"
            ),
        });
    }
    if init.constants.shards != 1 {
        return Err(ModuleError::Config {
            field: ".".into(),
            reason: format!("the host runs one shard; constants.shards is {}", init.constants.shards),
        });
    }
    Ok(Box::new(CommitteeVrf {
        config,
        genesis: init.genesis_hash,
        grid: init.constants.windows.epoch_grid(),
        seats: usize::from(init.constants.committee_size),
        cap: usize::from(init.constants.max_faulty()),
    }))
}

/// The bond behind a committee seat: its `meta`, or for a seat without one (the chainspec's
/// committee) the bond that holds its key.
pub fn seat_bond(bonds: &BondsView<'_>, seat: &CommitteeSeat) -> Result<Option<(Hash32, BondRecord)>, ModuleError> {
    if let Ok(meta) = decode_canonical::<SeatMeta>(&seat.meta, pc_runtime_api::MAX_SEAT_META) {
        return Ok(bonds.bond(&meta.bond)?.map(|r| (meta.bond, r)));
    }
    bonds.bond_by_seat(&seat.key)
}

/// Why a bond is not eligible for the next selection, if it is not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ineligible {
    /// No such bond, or not Active.
    NotActive,
    /// No candidacy for the epoch.
    NoCandidacy,
    /// Not seen within the heartbeat window.
    NotSeen,
    /// Cooling down until this anchor.
    Cooldown(u64),
}

impl CommitteeVrf {
    fn decode(call: &[u8]) -> Result<CommitteeCall, ModuleError> {
        decode_canonical::<CommitteeCall>(call, MAX_CALL).map_err(|e| invalid("committee-vrf.decode", e.to_string()))
    }

    /// The first anchor of the epoch after the one that holds `anchor`.
    pub fn next_epoch(&self, anchor: u64) -> u64 {
        self.grid.end_of(self.grid.start_of(anchor)).saturating_add(1)
    }

    /// The seed a candidacy for the epoch starting at `epoch` proves over.
    pub fn seed(view: &ModuleView<'_>, epoch: u64) -> Result<Option<Hash32>, ModuleError> {
        SEEDS.get(view, &epoch)
    }

    /// The last anchor in which `bond`'s seat created a finalized event (absence is judged on it).
    pub fn last_event(view: &ModuleView<'_>, bond: &Hash32) -> Result<Option<u64>, ModuleError> {
        LAST_EVENT.get(view, bond)
    }

    /// The anchors of epoch `epoch` (its first anchor) in which `bond`'s seat created events.
    pub fn attendance(view: &ModuleView<'_>, epoch: u64, bond: &Hash32) -> Result<u64, ModuleError> {
        Ok(ATTENDANCE.get(view, &(epoch.to_be_bytes(), *bond))?.unwrap_or(0))
    }

    /// The score of `bond`'s candidacy for the epoch starting at `epoch`, if it made one.
    pub fn candidacy_of(view: &ModuleView<'_>, epoch: u64, bond: &Hash32) -> Result<Option<u128>, ModuleError> {
        CANDIDACIES.get(view, &(epoch.to_be_bytes(), *bond))
    }

    /// Whether `bond` would be eligible in a selection at anchor `at` for the epoch starting
    /// at `epoch` (§4).
    pub fn eligibility(
        &self,
        view: &ModuleView<'_>,
        bond: &Hash32,
        epoch: u64,
        at: u64,
    ) -> Result<Result<u128, Ineligible>, ModuleError> {
        let bonds = BondsView::open(view)?;
        if !bonds.bond(bond)?.is_some_and(|r| r.is_active()) {
            return Ok(Err(Ineligible::NotActive));
        }
        let Some(score) = CANDIDACIES.get(view, &(epoch.to_be_bytes(), *bond))? else {
            return Ok(Err(Ineligible::NoCandidacy));
        };
        if let Some(until) = COOLDOWN.get(view, bond)?
            && until >= at
        {
            return Ok(Err(Ineligible::Cooldown(until)));
        }
        let seen = LAST_SEEN.get(view, bond)?.unwrap_or(0);
        if seen.saturating_add(self.config.heartbeat) <= at {
            return Ok(Err(Ineligible::NotSeen));
        }
        Ok(Ok(score))
    }

    fn check_candidacy(
        &self,
        bond: &Hash32,
        epoch: u64,
        proof: &pc_crypto::vrf::VrfProof,
        view: &ModuleView<'_>,
    ) -> Result<u128, ModuleError> {
        let next = self.next_epoch(view.next_anchor());
        if epoch != next {
            return Err(invalid(
                "committee-vrf.epoch",
                format!("candidacies are taken now for the epoch starting at anchor {next}, not {epoch}"),
            ));
        }
        let seed = SEEDS.get(view, &epoch)?.ok_or_else(|| ModuleError::Fatal(format!("no seed for epoch {epoch}")))?;
        let rec = BondsView::open(view)?
            .bond(bond)?
            .filter(BondRecord::is_active)
            .ok_or_else(|| invalid("committee-vrf.bond", format!("bond {bond} is unknown or not Active")))?;
        // The anchor whose id fixed this seed: the last of the epoch before the current one.
        let fixed_by = epoch.saturating_sub(self.grid.r).saturating_sub(1);
        if rec.bonded_at != 0 && rec.bonded_at >= fixed_by {
            return Err(invalid(
                "committee-vrf.bond",
                format!(
                    "bond {bond} was made at anchor {}, after its seed was fixed at anchor {fixed_by}",
                    rec.bonded_at
                ),
            ));
        }
        let score = pc_crypto::vrf::verify(
            &rec.terms.vrf_key,
            pc_crypto::vrf::COMMITTEE,
            &vrf_input(&self.genesis, epoch, &seed, bond),
            proof,
        )
        .map_err(|e| invalid("committee-vrf.vrf", e.to_string()))?;
        if CANDIDACIES.contains(view, &(epoch.to_be_bytes(), *bond))? {
            return Err(invalid("committee-vrf.duplicate", format!("bond {bond} is already a candidate for {epoch}")));
        }
        Ok(score)
    }

    fn check_heartbeat(
        &self,
        bond: &Hash32,
        anchor: u64,
        sig: &[u8; 64],
        view: &ModuleView<'_>,
    ) -> Result<(), ModuleError> {
        let rec = BondsView::open(view)?
            .bond(bond)?
            .filter(BondRecord::is_active)
            .ok_or_else(|| invalid("committee-vrf.bond", format!("bond {bond} is unknown or not Active")))?;
        if !pc_crypto::Bip340::verify(
            &pc_crypto::XOnly(rec.terms.seat_key),
            &heartbeat_digest(&self.genesis, bond, anchor),
            sig,
        ) {
            return Err(invalid("committee-vrf.signature", "not the bond's seat key's signature over this heartbeat"));
        }
        let next = view.next_anchor();
        // One heartbeat per half window is enough to stay seen, and all a bond may send.
        let spacing = self.config.heartbeat.div_ceil(2);
        let earliest = HEARTBEAT_REF.get(view, bond)?.map_or(0, |l| l.saturating_add(spacing));
        if anchor >= next || anchor.saturating_add(self.config.heartbeat) < next || anchor < earliest {
            return Err(invalid(
                "committee-vrf.stale",
                format!(
                    "a heartbeat must name an anchor in {}..{next}, and not before {earliest}; not {anchor}",
                    next.saturating_sub(self.config.heartbeat)
                ),
            ));
        }
        Ok(())
    }

    /// Seats whose bit is set in `creators` were seen, and attended.
    fn note_creators(&self, ctx: &AnchorCtx, state: &mut ModuleState<'_>) -> Result<(), ModuleError> {
        if ctx.creators == 0 {
            return Ok(());
        }
        let Some(committee) = state.view().committee(ctx.index, self.grid.r)? else { return Ok(()) };
        let epoch = self.grid.start_of(ctx.index).to_be_bytes();
        for (i, seat) in committee.seats.iter().enumerate() {
            if i >= 64 || ctx.creators & (1u64 << i) == 0 {
                continue;
            }
            let found = seat_bond(&BondsView::open(&state.view())?, seat)?;
            if let Some((bond, _)) = found {
                LAST_SEEN.insert(state, &bond, &ctx.index);
                LAST_EVENT.insert(state, &bond, &ctx.index);
                let n = ATTENDANCE.get(&state.view(), &(epoch, bond))?.unwrap_or(0);
                ATTENDANCE.insert(state, &(epoch, bond), &n.saturating_add(1));
            }
        }
        Ok(())
    }

    /// Removes candidacies for epochs up to `epoch` and attendance older than two epochs.
    fn prune(&self, epoch: u64, state: &mut ModuleState<'_>) -> Result<(), ModuleError> {
        drain_below(&CANDIDACIES, state, epoch.saturating_add(1))?;
        drain_below(&ATTENDANCE, state, epoch.saturating_sub(self.grid.r.saturating_mul(2)))?;
        let seeds: Vec<u64> =
            SEEDS.iter(&state.view(), None, 16)?.into_iter().map(|(k, _)| k).filter(|e| *e < epoch).collect();
        seeds.iter().for_each(|e| SEEDS.remove(state, e));
        Ok(())
    }
}

/// Removes the entries of `map` (keyed by big-endian epoch, then bond) of epochs below `bound`,
/// with a cursor past what it removed, so deleted keys are not scanned again.
fn drain_below<V: Encode + pc_runtime_api::codec::Decode>(
    map: &StorageMap<([u8; 8], Hash32), V>,
    state: &mut ModuleState<'_>,
    bound: u64,
) -> Result<(), ModuleError> {
    let mut from = None;
    loop {
        let old: Vec<_> = map
            .iter(&state.view(), from.as_ref(), 256)?
            .into_iter()
            .map(|(k, _)| k)
            .take_while(|(e, _)| u64::from_be_bytes(*e) < bound)
            .collect();
        let Some(last) = old.last() else { return Ok(()) };
        from = Some(*last);
        old.iter().for_each(|k| map.remove(state, k));
    }
}

impl Module for CommitteeVrf {
    fn genesis(
        &self,
        ctx: &GenesisCtx<'_>,
        state: &mut ModuleState<'_>,
        _e: &mut EventSink<'_>,
    ) -> Result<(), ModuleError> {
        let s0 = first_seed(&ctx.genesis_hash);
        SEEDS.insert(state, &1, &s0);
        SEEDS.insert(state, &self.grid.r.saturating_add(1), &next_seed(&s0, &ctx.genesis_hash));
        Ok(())
    }

    fn validate(&self, call: &[u8], view: &ModuleView<'_>) -> Result<Validity, ModuleError> {
        match Self::decode(call)? {
            CommitteeCall::Candidacy { bond, epoch, proof } => {
                self.check_candidacy(&bond, epoch, &proof, view)?;
                Ok(Validity {
                    priority: DUTY_PRIORITY,
                    provides: vec![types::tag(0, &bond, epoch)],
                    ..Validity::default()
                })
            }
            CommitteeCall::Heartbeat { bond, anchor, sig } => {
                self.check_heartbeat(&bond, anchor, &sig, view)?;
                Ok(Validity { priority: DUTY_PRIORITY, provides: vec![types::tag(1, &bond, 0)], ..Validity::default() })
            }
        }
    }

    fn apply(
        &self,
        ctx: &AnchorCtx,
        call: &[u8],
        state: &mut ModuleState<'_>,
        events: &mut EventSink<'_>,
    ) -> Result<(), ModuleError> {
        match Self::decode(call)? {
            CommitteeCall::Candidacy { bond, epoch, proof } => {
                let score = self.check_candidacy(&bond, epoch, &proof, &state.view())?;
                CANDIDACIES.insert(state, &(epoch.to_be_bytes(), bond), &score);
                LAST_SEEN.insert(state, &bond, &ctx.index);
                events.emit(&Candidate { bond, epoch });
            }
            CommitteeCall::Heartbeat { bond, anchor, sig } => {
                self.check_heartbeat(&bond, anchor, &sig, &state.view())?;
                HEARTBEAT_REF.insert(state, &bond, &anchor);
                LAST_SEEN.insert(state, &bond, &ctx.index);
            }
        }
        Ok(())
    }

    fn on_anchor_end(
        &self,
        ctx: &AnchorCtx,
        state: &mut ModuleState<'_>,
        _e: &mut EventSink<'_>,
    ) -> Result<(), ModuleError> {
        self.note_creators(ctx, state)?;
        if self.grid.end_of(self.grid.start_of(ctx.index)) == ctx.index {
            // The end of epoch e fixes the seed of epoch e + 2 (§2).
            let next = ctx.index.saturating_add(1);
            let after = next.saturating_add(self.grid.r);
            let seed = SEEDS
                .get(&state.view(), &next)?
                .ok_or_else(|| ModuleError::Fatal(format!("no seed for epoch {next}")))?;
            SEEDS.insert(state, &after, &next_seed(&seed, &ctx.anchor_id));
        }
        Ok(())
    }

    fn provides_committee(&self) -> bool {
        true
    }

    fn next_committee(
        &self,
        ctx: &AnchorCtx,
        state: &mut ModuleState<'_>,
        events: &mut EventSink<'_>,
    ) -> Result<Option<Vec<CommitteeSeat>>, ModuleError> {
        let at = ctx.index;
        let epoch = at.saturating_add(1);
        let Some(current) = state.view().committee(at, self.grid.r)? else { return Ok(None) };
        // Absence first: an absent seat cools down whatever the selection does (§5.3).
        let mut sitting = Vec::with_capacity(current.seats.len());
        for seat in &current.seats {
            let found = seat_bond(&BondsView::open(&state.view())?, seat)?;
            let standing = match &found {
                Some((bond, rec)) if rec.is_active() => {
                    let seen = LAST_EVENT.get(&state.view(), bond)?.unwrap_or(0);
                    if seen.saturating_add(self.config.heartbeat) <= at {
                        let until = at.saturating_add(self.config.cooldown);
                        COOLDOWN.insert(state, bond, &until);
                        events.emit(&SeatAbsent { bond: *bond, cooldown_until: until });
                        Standing::Absent
                    } else {
                        Standing::Good
                    }
                }
                _ => Standing::Unbonded,
            };
            sitting.push(Sitting {
                seat: seat.clone(),
                bond: found.as_ref().map(|(b, _)| *b),
                operator: found.as_ref().map(|(_, r)| r.terms.operator),
                standing,
            });
        }
        let mut ranked = Vec::new();
        let bonds = BondsView::open(&state.view())?;
        for ((_, bond), _) in CANDIDACIES.iter_prefix(&state.view(), &epoch.to_be_bytes(), None, usize::MAX)? {
            let Ok(score) = self.eligibility(&state.view(), &bond, epoch, at)? else { continue };
            let Some(rec) = bonds.bond(&bond)? else { continue };
            let meta =
                SeatMeta { bond, operator: rec.terms.operator, payout: rec.terms.payout, bls_key: rec.terms.bls_key };
            let seat = CommitteeSeat { key: rec.terms.seat_key, meta: meta.encode() };
            ranked.push((rank(score, SHARD), Ranked { bond, operator: rec.terms.operator, seat }));
        }
        ranked.sort_by_key(|(r, c)| (*r, c.bond));
        let ranked: Vec<Ranked> = ranked.into_iter().map(|(_, r)| r).collect();
        let outcome = select(self.seats, self.cap, &sitting, &ranked);
        self.prune(epoch, state)?;
        match outcome {
            Outcome::Keep { eligible } => {
                events.emit(&CommitteeKept { epoch, eligible: u32::try_from(eligible).unwrap_or(u32::MAX) });
                Ok(None)
            }
            Outcome::Next { seats, entered, left } => {
                // An entrant counts as seen from its epoch's first anchor: its absence is judged
                // on its own seat's events, not on when its candidacy happened to land.
                for bond in &entered {
                    let seen = LAST_EVENT.get(&state.view(), bond)?.unwrap_or(0);
                    LAST_EVENT.insert(state, bond, &seen.max(epoch));
                }
                events.emit(&Selected { epoch, entered, left });
                Ok(Some(seats))
            }
        }
    }

    fn rpc_methods(&self) -> Vec<RpcMethod> {
        rpc::methods(std::sync::Arc::new(self.clone()))
    }
}

register_module!(ModuleDescriptor {
    name: NAME,
    feature: "module-committee-vrf",
    order: 310,
    depends_on: &["bonding"],
    build,
});
