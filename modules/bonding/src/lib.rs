//! The bonding module: value at stake behind every committee seat.
//!
//! A `Bond` locks UTXOs (immature mints too) through the UTXO module's ledger interface under
//! a lock whose id is the bond id, with the owners' signatures over the ledger's
//! authorization digest, so a transaction's signature never doubles as a bond's. A bond is
//! Pending until `activation_buffer` anchors have passed, then Active (a committee candidate),
//! then Unbonding after an `Unbond`, and Withdrawn by an explicit `Withdraw` once its release
//! anchor has come and the slash window of every epoch its seat served has closed: the outputs
//! come back unchanged, maturity included. Every window counts finalized anchors. Rules:
//! `docs/spec/modules/bonding.md`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod config;
mod rpc;
mod types;

pub use config::{BondingConfig, GenesisBond, check_keys};
pub use types::{
    Activated, BondRecord, BondState, BondTerms, Bonded, BondingCall, Unbonding, Withdrawn, bond_id, genesis_bond_id,
    operator_consent, seat_consent, unbond_digest, withdraw_digest,
};

use pc_runtime_api::codec::{Hash32, decode_canonical};
use pc_runtime_api::{
    AnchorCtx, EpochGrid, EventSink, GenesisCtx, Module, ModuleDescriptor, ModuleError, ModuleInit, ModuleState,
    ModuleView, Prechecked, RpcMethod, StorageMap, StorageRead, Validity, register_module,
};
use pc_utxo_tx::{OutPoint, TxOut, Witness};
use std::collections::BTreeSet;

/// The module's name.
pub const NAME: &str = "bonding";

/// Largest encoded call.
const MAX_CALL: usize = 64 << 10;
/// Most inputs of one bond.
pub const MAX_BOND_INPUTS: usize = 64;

/// Bonds by id.
const BONDS: StorageMap<Hash32, BondRecord> = StorageMap::new("bonds");
/// The bond that holds a seat key, for bonds that are not Withdrawn.
const BY_SEAT: StorageMap<[u8; 32], Hash32> = StorageMap::new("by-seat");
/// Slashes so far per bond: the index of the next remainder output.
const SLASH_COUNT: StorageMap<Hash32, u64> = StorageMap::new("slash-count");
/// The bond that registered a VRF key, and a BLS key, for bonds that are not Withdrawn: one
/// key, one bond (a copied public key cannot stand for a second candidate or attestor).
const BY_VRF: StorageMap<[u8; 32], Hash32> = StorageMap::new("by-vrf");
const BY_BLS: StorageMap<[u8; 48], Hash32> = StorageMap::new("by-bls");
/// Pending bonds by (big-endian `active_at`, id): the activation queue, scanned in anchor order.
const ACTIVATIONS: StorageMap<([u8; 8], Hash32), ()> = StorageMap::new("activations");
/// (operator, seat key or bond key, bond) → (), for `bonding_bondsOf` (outside the root).
const BY_KEY: StorageMap<([u8; 32], Hash32), ()> = StorageMap::aux("by-key");

fn invalid(code: &'static str, reason: impl Into<String>) -> ModuleError {
    ModuleError::invalid(code, reason)
}

/// Read access to the bonds, for modules that declare `bonding` (committee-vrf, slashing) and
/// for this module's RPC.
#[derive(Debug, Clone, Copy)]
pub struct BondsView<'a> {
    view: ModuleView<'a>,
}

impl<'a> BondsView<'a> {
    /// Opens the bonds from the caller's view (it must declare `bonding`), or from the
    /// module's own view.
    pub fn open(own: &ModuleView<'a>) -> Result<Self, ModuleError> {
        if own.namespace() == NAME {
            return Ok(BondsView { view: *own });
        }
        Ok(BondsView { view: own.dependency(NAME)? })
    }

    /// A bond by id.
    pub fn bond(&self, id: &Hash32) -> Result<Option<BondRecord>, ModuleError> {
        BONDS.get(&self.view, id)
    }

    /// The bond, not Withdrawn, that holds seat key `key`.
    pub fn bond_by_seat(&self, key: &[u8; 32]) -> Result<Option<(Hash32, BondRecord)>, ModuleError> {
        let Some(id) = BY_SEAT.get(&self.view, key)? else { return Ok(None) };
        Ok(BONDS.get(&self.view, &id)?.map(|r| (id, r)))
    }

    /// The bonds whose operator, seat key or bond key is `key`, at most `limit`.
    pub fn bonds_of(&self, key: &[u8; 32], limit: usize) -> Result<Vec<(Hash32, BondRecord)>, ModuleError> {
        let mut out = Vec::new();
        for ((_, id), ()) in BY_KEY.iter_prefix(&self.view, key, None, limit)? {
            if let Some(r) = BONDS.get(&self.view, &id)? {
                out.push((id, r));
            }
        }
        Ok(out)
    }
}

/// Write access to the bonds for a module that declares `bonding` (slashing): it works in
/// bonding's namespace, with bonding's own access to the ledger.
#[derive(Debug)]
pub struct Bonds<'s> {
    state: ModuleState<'s>,
}

impl<'s> Bonds<'s> {
    /// Opens the bonds from the caller's state (it must declare `bonding`).
    pub fn open(own: &'s mut ModuleState<'_>) -> Result<Self, ModuleError> {
        Ok(Bonds { state: own.dependency_mut(NAME)? })
    }

    /// Slashes up to `amount` units of bond `id` at anchor `anchor` and hands them to module
    /// `to`'s held balance (docs/spec/modules/slashing.md §3): every locked output of the bond
    /// is seized, what is left goes back under the bond's lock as one output at
    /// `module_outpoint("bonding", id, n)` (n: the how-many-th slash) with the first output's
    /// predicate and the bond's maturity. Returns the units slashed (at most the bond's value).
    /// A Withdrawn bond is refused (`bonding.state`): its slash window has closed.
    pub fn slash(&mut self, id: &Hash32, amount: u64, anchor: u64, to: &str) -> Result<u64, ModuleError> {
        let mut rec = BONDS.get(&self.state, id)?.ok_or_else(|| invalid("bonding.unknown", format!("no bond {id}")))?;
        if matches!(rec.state, BondState::Withdrawn { .. }) {
            return Err(invalid("bonding.state", format!("bond {id} is withdrawn")));
        }
        let amount = amount.min(rec.value);
        if amount == 0 {
            return Ok(0);
        }
        let mut ledger = pc_module_utxo::Ledger::open(&mut self.state)?;
        let owner = match rec.outpoints.first() {
            Some(op) => ledger.view().locked(op)?.map(|l| l.utxo.out.predicate),
            None => None,
        }
        .ok_or_else(|| ModuleError::Fatal(format!("bond {id} has no locked output")))?;
        let seized = ledger.seize(&rec.outpoints, *id)?;
        if seized.value != rec.value {
            return Err(ModuleError::Fatal(format!(
                "bond {id} holds {} units, its outputs {}",
                rec.value, seized.value
            )));
        }
        let rest = rec.value - amount;
        // Each slash writes a fresh outpoint: its index counts the slashes so far.
        let count = SLASH_COUNT.get(&self.state, id)?.unwrap_or(0);
        rec.outpoints = if rest > 0 {
            let out = pc_utxo_tx::TxOut { value: rest, predicate: owner };
            let n = u32::try_from(count).map_err(|_| ModuleError::Fatal(format!("bond {id} slashed too often")))?;
            vec![pc_module_utxo::Ledger::open(&mut self.state)?.relock_held(id, n, out, anchor, *id)?.0]
        } else {
            Vec::new()
        };
        pc_module_utxo::Ledger::open(&mut self.state)?.move_held(to, amount)?;
        SLASH_COUNT.insert(&mut self.state, id, &count.saturating_add(1));
        rec.value = rest;
        rec.slashed = rec.slashed.saturating_add(amount);
        BONDS.insert(&mut self.state, id, &rec);
        Ok(amount)
    }
}

/// The bonding module.
#[derive(Debug)]
pub struct Bonding {
    config: BondingConfig,
    genesis: Hash32,
    grid: EpochGrid,
    slash_window: u64,
}

fn build(init: &ModuleInit<'_>) -> Result<Box<dyn Module>, ModuleError> {
    let config: BondingConfig = init.parse_config()?;
    config.validate(&init.constants.windows)?;
    let (mut seats, mut vrfs, mut blss) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    for (i, g) in config.genesis_bonds.iter().enumerate() {
        let (terms, _) = g.terms(i)?;
        for (fresh, field) in [
            (seats.insert(terms.seat_key), "seat_key"),
            (vrfs.insert(terms.vrf_key.0), "vrf_key"),
            (blss.insert(terms.bls_key.0), "bls_key"),
        ] {
            if !fresh {
                return Err(ModuleError::Config {
                    field: format!("genesis_bonds[{i}].{field}"),
                    reason: "another genesis bond has this key".into(),
                });
            }
        }
    }
    Ok(Box::new(Bonding {
        config,
        genesis: init.genesis_hash,
        grid: init.constants.windows.epoch_grid(),
        slash_window: init.constants.windows.slash_window,
    }))
}

/// What a valid `Bond` amounts to before the ledger checks its inputs.
struct BondPlan {
    id: Hash32,
}

impl Bonding {
    fn decode(call: &[u8]) -> Result<BondingCall, ModuleError> {
        decode_canonical::<BondingCall>(call, MAX_CALL).map_err(|e| invalid("bonding.decode", e.to_string()))
    }

    /// The state-free and index checks of a `Bond` (§3), in the spec's order up to the ledger.
    fn plan_bond(
        &self,
        terms: &BondTerms,
        inputs: &[(OutPoint, Witness)],
        seat_sig: &[u8; 64],
        operator_sig: &[u8; 64],
        view: &ModuleView<'_>,
    ) -> Result<BondPlan, ModuleError> {
        if inputs.is_empty() || inputs.len() > MAX_BOND_INPUTS {
            return Err(invalid(
                "bonding.shape",
                format!("a bond has 1..={MAX_BOND_INPUTS} inputs, not {}", inputs.len()),
            ));
        }
        check_keys(terms)?;
        let ops: Vec<OutPoint> = inputs.iter().map(|(op, _)| *op).collect();
        let id = bond_id(&self.genesis, terms, &ops);
        if !pc_crypto::Bip340::verify(&pc_crypto::XOnly(terms.seat_key), &seat_consent(&self.genesis, &id), seat_sig) {
            return Err(invalid("bonding.seat-key", "the seat key did not sign its consent to this bond"));
        }
        if !pc_crypto::Bip340::verify(
            &pc_crypto::XOnly(terms.operator),
            &operator_consent(&self.genesis, &id),
            operator_sig,
        ) {
            return Err(invalid("bonding.operator", "the operator key did not sign this bond"));
        }
        if let Some(other) = BY_SEAT.get(view, &terms.seat_key)? {
            return Err(invalid("bonding.seat-taken", format!("bond {other} already holds this seat key")));
        }
        if let Some(other) = BY_VRF.get(view, &terms.vrf_key.0)? {
            return Err(invalid("bonding.key-taken", format!("bond {other} already registered this VRF key")));
        }
        if let Some(other) = BY_BLS.get(view, &terms.bls_key.0)? {
            return Err(invalid("bonding.key-taken", format!("bond {other} already registered this BLS key")));
        }
        Ok(BondPlan { id })
    }

    fn min_bond(&self, value: u64) -> Result<(), ModuleError> {
        if value < self.config.min_bond {
            return Err(invalid(
                "bonding.value",
                format!("{value} units bonded, the minimum is {}", self.config.min_bond),
            ));
        }
        Ok(())
    }

    /// The checks of `Unbond` (kind 0) and `Withdraw` (kind 1) at anchor `anchor`.
    fn check_exit(
        &self,
        kind: u8,
        bond: &Hash32,
        sig: &[u8; 64],
        view: &ModuleView<'_>,
    ) -> Result<BondRecord, ModuleError> {
        let rec = BONDS.get(view, bond)?.ok_or_else(|| invalid("bonding.unknown", format!("no bond {bond}")))?;
        let digest = if kind == 0 { unbond_digest(&self.genesis, bond) } else { withdraw_digest(&self.genesis, bond) };
        if !pc_crypto::Bip340::verify(&pc_crypto::XOnly(rec.terms.bond_key), &digest, sig) {
            return Err(invalid("bonding.signature", "not the bond key's signature over this call"));
        }
        let anchor = view.next_anchor();
        match (kind, rec.state) {
            (0, BondState::Pending { .. } | BondState::Active { .. }) => Ok(rec),
            (1, BondState::Unbonding { release_at, .. }) => {
                let window_closes = rec.served_until.saturating_add(self.slash_window).saturating_add(1);
                if anchor < release_at || anchor < window_closes {
                    return Err(invalid(
                        "bonding.too-early",
                        format!("withdrawable from anchor {}, this is anchor {anchor}", release_at.max(window_closes)),
                    ));
                }
                Ok(rec)
            }
            (_, state) => Err(invalid(
                "bonding.state",
                format!("cannot {} a bond that is {}", if kind == 0 { "unbond" } else { "withdraw" }, state.name()),
            )),
        }
    }

    fn index_keys(state: &mut ModuleState<'_>, id: &Hash32, terms: &BondTerms) {
        for key in [terms.operator, terms.seat_key, terms.bond_key] {
            BY_KEY.insert(state, &(key, *id), &());
        }
    }

    /// Stores a new bond and its indexes.
    fn store_new(state: &mut ModuleState<'_>, id: &Hash32, rec: &BondRecord) {
        if let BondState::Pending { active_at } = rec.state {
            ACTIVATIONS.insert(state, &(active_at.to_be_bytes(), *id), &());
        }
        BY_SEAT.insert(state, &rec.terms.seat_key, id);
        BY_VRF.insert(state, &rec.terms.vrf_key.0, id);
        BY_BLS.insert(state, &rec.terms.bls_key.0, id);
        Self::index_keys(state, id, &rec.terms);
        BONDS.insert(state, id, rec);
    }

    fn activate_due(
        &self,
        ctx: &AnchorCtx,
        state: &mut ModuleState<'_>,
        events: &mut EventSink<'_>,
    ) -> Result<(), ModuleError> {
        // A cursor past the entries already taken: deleted keys are not scanned again.
        let mut from = None;
        loop {
            let due: Vec<_> = ACTIVATIONS
                .iter(&state.view(), from.as_ref(), 256)?
                .into_iter()
                .take_while(|((at, _), ())| u64::from_be_bytes(*at) <= ctx.index)
                .collect();
            let Some((last, ())) = due.last() else { return Ok(()) };
            from = Some(*last);
            for (key, ()) in due {
                ACTIVATIONS.remove(state, &key);
                let id = key.1;
                let Some(mut rec) = BONDS.get(&state.view(), &id)? else { continue };
                // An `Unbond` while Pending leaves the queue entry behind: skip it.
                if matches!(rec.state, BondState::Pending { .. }) {
                    rec.state = BondState::Active { since: ctx.index };
                    BONDS.insert(state, &id, &rec);
                    events.emit(&Activated { bond: id });
                }
            }
        }
    }

    /// At an epoch's first anchor: every bonded seat of its committee serves until its end.
    fn mark_served(&self, ctx: &AnchorCtx, state: &mut ModuleState<'_>) -> Result<(), ModuleError> {
        if self.grid.start_of(ctx.index) != ctx.index {
            return Ok(());
        }
        let Some(committee) = state.view().committee(ctx.index, self.grid.r)? else { return Ok(()) };
        let end = self.grid.end_of(ctx.index);
        for seat in &committee.seats {
            let Some(id) = BY_SEAT.get(&state.view(), &seat.key)? else { continue };
            if let Some(mut rec) = BONDS.get(&state.view(), &id)?
                && rec.served_until < end
            {
                rec.served_until = end;
                BONDS.insert(state, &id, &rec);
            }
        }
        Ok(())
    }
}

impl Module for Bonding {
    fn genesis(
        &self,
        ctx: &GenesisCtx<'_>,
        state: &mut ModuleState<'_>,
        _events: &mut EventSink<'_>,
    ) -> Result<(), ModuleError> {
        for (i, g) in self.config.genesis_bonds.iter().enumerate() {
            let (terms, owner) = g.terms(i)?;
            let index = u32::try_from(i).map_err(|_| ModuleError::Fatal("too many genesis bonds".into()))?;
            let id = genesis_bond_id(&ctx.genesis_hash, index, &terms);
            let out = TxOut { value: g.value, predicate: owner.predicate() };
            let (op, locked) = pc_module_utxo::Ledger::open(state)?.issue_locked(&id, 0, out, 0, 0, id)?;
            let rec = BondRecord {
                terms,
                outpoints: vec![op],
                value: locked.value,
                mature_from: locked.spendable_from,
                bonded_at: 0,
                served_until: 0,
                slashed: 0,
                state: BondState::Active { since: 0 },
            };
            Self::store_new(state, &id, &rec);
        }
        Ok(())
    }

    fn call_key(&self, call: &[u8]) -> Option<Hash32> {
        match Self::decode(call).ok()? {
            BondingCall::Bond { terms, inputs, .. } => {
                let ops: Vec<OutPoint> = inputs.iter().map(|(op, _)| *op).collect();
                Some(bond_id(&self.genesis, &terms, &ops))
            }
            _ => None,
        }
    }

    fn validate(&self, call: &[u8], view: &ModuleView<'_>) -> Result<Validity, ModuleError> {
        match Self::decode(call)? {
            BondingCall::Bond { terms, inputs, seat_sig, operator_sig } => {
                let plan = self.plan_bond(&terms, &inputs, &seat_sig, &operator_sig, view)?;
                let ledger = pc_module_utxo::LedgerView::open(view)?;
                let utxos = ledger.authorize(&inputs, &plan.id, &plan.id.0, view.next_anchor())?;
                self.min_bond(utxos.iter().try_fold(0u64, |s, u| s.checked_add(u.out.value)).unwrap_or(u64::MAX))?;
                Ok(Validity {
                    priority: 1,
                    provides: vec![plan.id],
                    requires: inputs.iter().map(|(op, _)| pc_module_utxo::outpoint_tag(op)).collect(),
                    stable: false,
                    key: Some(plan.id),
                })
            }
            BondingCall::Unbond { bond, sig } => {
                self.check_exit(0, &bond, &sig, view)?;
                Ok(Validity { priority: 1, provides: vec![types::call_tag(0, &bond)], ..Validity::default() })
            }
            BondingCall::Withdraw { bond, sig } => {
                self.check_exit(1, &bond, &sig, view)?;
                Ok(Validity { priority: 1, provides: vec![types::call_tag(1, &bond)], ..Validity::default() })
            }
        }
    }

    fn precheck(&self, _ctx: &AnchorCtx, call: &[u8], _state: &ModuleView<'_>) -> Option<Prechecked> {
        // Only to tell the pool which transfers a final bond consumes; `apply` does the work.
        let BondingCall::Bond { terms, inputs, .. } = Self::decode(call).ok()? else { return None };
        let ops: Vec<OutPoint> = inputs.iter().map(|(op, _)| *op).collect();
        let key = bond_id(&self.genesis, &terms, &ops);
        Some(Prechecked::new(Some(key), ()).consuming(ops.iter().map(pc_module_utxo::outpoint_tag).collect()))
    }

    fn apply(
        &self,
        ctx: &AnchorCtx,
        call: &[u8],
        state: &mut ModuleState<'_>,
        events: &mut EventSink<'_>,
    ) -> Result<(), ModuleError> {
        match Self::decode(call)? {
            BondingCall::Bond { terms, inputs, seat_sig, operator_sig } => {
                let plan = self.plan_bond(&terms, &inputs, &seat_sig, &operator_sig, &state.view())?;
                // The ledger checks every owner's signature; a refusal below rolls it back.
                let locked = pc_module_utxo::Ledger::open(state)?.lock(&inputs, plan.id, &plan.id.0, ctx.index)?;
                self.min_bond(locked.value)?;
                let active_at = ctx.index.saturating_add(self.config.activation_buffer);
                let rec = BondRecord {
                    outpoints: inputs.iter().map(|(op, _)| *op).collect(),
                    value: locked.value,
                    mature_from: locked.spendable_from,
                    bonded_at: ctx.index,
                    served_until: 0,
                    slashed: 0,
                    state: BondState::Pending { active_at },
                    terms: *terms,
                };
                Self::store_new(state, &plan.id, &rec);
                events.emit(&Bonded {
                    bond: plan.id,
                    operator: rec.terms.operator,
                    seat_key: rec.terms.seat_key,
                    value: rec.value,
                    active_at,
                });
                // Due at once (no buffer): Active from this very anchor's end on.
                if active_at <= ctx.index {
                    self.activate_due(ctx, state, events)?;
                }
                Ok(())
            }
            BondingCall::Unbond { bond, sig } => {
                let mut rec = self.check_exit(0, &bond, &sig, &state.view())?;
                let release_at = ctx
                    .index
                    .saturating_add(self.config.unbonding)
                    .max(rec.mature_from)
                    .max(rec.served_until.saturating_add(self.slash_window).saturating_add(1));
                if let BondState::Pending { active_at } = rec.state {
                    ACTIVATIONS.remove(state, &(active_at.to_be_bytes(), bond));
                }
                rec.state = BondState::Unbonding { requested_at: ctx.index, release_at };
                BONDS.insert(state, &bond, &rec);
                events.emit(&Unbonding { bond, release_at });
                Ok(())
            }
            BondingCall::Withdraw { bond, sig } => {
                let mut rec = self.check_exit(1, &bond, &sig, &state.view())?;
                let value = pc_module_utxo::Ledger::open(state)?.unlock(&rec.outpoints, bond)?;
                rec.state = BondState::Withdrawn { at: ctx.index };
                BY_SEAT.remove(state, &rec.terms.seat_key);
                BY_VRF.remove(state, &rec.terms.vrf_key.0);
                BY_BLS.remove(state, &rec.terms.bls_key.0);
                BONDS.insert(state, &bond, &rec);
                events.emit(&Withdrawn { bond, value });
                Ok(())
            }
        }
    }

    fn on_anchor_begin(
        &self,
        ctx: &AnchorCtx,
        state: &mut ModuleState<'_>,
        events: &mut EventSink<'_>,
    ) -> Result<(), ModuleError> {
        self.activate_due(ctx, state, events)?;
        self.mark_served(ctx, state)
    }

    fn rpc_methods(&self) -> Vec<RpcMethod> {
        rpc::methods(self.slash_window)
    }
}

register_module!(ModuleDescriptor { name: NAME, feature: "module-bonding", order: 300, depends_on: &["utxo"], build });
