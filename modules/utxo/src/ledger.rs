//! The ledger as other modules see it (docs/spec/utxo.md, "The ledger interface"): typed
//! operations instead of storage handles, so that every move of value keeps the supply
//! equation
//!
//! Σ unspent + fees + locked + held = issued
//!
//! and no module writes the UTXO set by hand. A module declares `depends_on: ["utxo"]` and
//! opens [`Ledger`] on its own state (writes, in `apply` and hooks) or [`LedgerView`] on its
//! own view (reads, in `validate` and RPC).
//!
//! - **Issue**: new value (mint-pow's rewards), within the chain's supply cap, which the
//!   ledger keeps from genesis, at a [`module_outpoint`] of the calling module.
//! - **Lock / unlock**: outputs leave the spendable set under a lock that the calling module
//!   owns (a bond), keeping their value and maturity, and come back unchanged. A transfer that
//!   spends a locked output is refused with `utxo.output-locked`. A lock carries the owners'
//!   consent: [`Ledger::lock`] takes each output's witness and checks it, as a transaction's
//!   inputs are checked, over [`authorization_digest`], which binds the chain, the calling
//!   module, the lock id, the outputs and the module's own message, so no signature made for a
//!   transaction, another module or another lock authorizes it. A lock id is used once per
//!   module, ever (`utxo.lock-reused`), so a signed lock cannot be replayed after its unlock.
//! - **Seize / pay out**: locked value, or collected fees, moves into the calling module's
//!   held balance (a slash, a fee pot), and leaves it only as new outputs the module pays out
//!   at [`module_outpoint`]s of its own. A payout is never spendable before the latest
//!   maturity of the value the module holds (a seized immature mint keeps its maturity).
//!
//! What the ledger cannot enforce: the runtime gives a module that declares `utxo` raw access
//! to its namespace too (`ModuleState::dependency_mut`), so that a module writes the ledger
//! only through this interface is a rule of review, not of the type system.
//! - **Conflicts**: [`outpoint_tag`] is the mempool tag of an output. A call that locks
//!   outputs lists their tags in `Validity::requires` (so it conflicts with a pending
//!   transfer of them) and reports them through `Prechecked::consuming` (so the pool drops
//!   the transfers once the lock is final), exactly as a transaction does for its inputs.

use crate::store::{self, LOCKED, OUTPUTS, TOTALS, Totals, Utxo};
use pc_runtime_api::codec::{Decode, Domain, Encode, Hash32, hash_encoded};
use pc_runtime_api::{ModuleError, ModuleState, ModuleView, StorageMap, StorageRead};
use pc_utxo_tx::{OutPoint, SpendCtx, TxOut, Witness};
use std::collections::BTreeSet;

/// Value a module holds outside the UTXO set (seized bonds, fee pots), by module name.
const HELD: StorageMap<String, Held> = StorageMap::new("held");
/// Every lock id a module ever used: (module, lock) → ().
const LOCK_IDS: StorageMap<(String, Hash32), ()> = StorageMap::new("lock-ids");

const AUTHORIZATION: Domain = Domain::new("phantomcoin/v1/utxo/ledger-authorization");
const MODULE_OUTPUT: Domain = Domain::new("phantomcoin/v1/utxo/module-output");

/// What a module holds outside the UTXO set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Encode, Decode)]
pub struct Held {
    /// Units held.
    pub value: u64,
    /// The latest `spendable_from` of the value taken in since the balance was last empty; no
    /// payout from it is spendable earlier.
    pub mature_from: u64,
}

/// What the owners of `outputs` sign to let module `module` lock them under `lock`: the chain,
/// the module, the lock and the outputs, plus `msg`, the module's own commitment to the rest
/// of its call (a bond's keys and terms), so the signature authorizes nothing else.
pub fn authorization_digest(
    genesis: &Hash32,
    module: &str,
    lock: &Hash32,
    outputs: &[OutPoint],
    msg: &[u8; 32],
) -> [u8; 32] {
    hash_encoded(AUTHORIZATION, &(genesis, module, lock, outputs, msg)).0
}

/// The outpoint of output `index` that module `module` creates under its id `id` (a mint, a
/// claim, an anchor's payouts): in a domain of its own, so it never meets a transaction's
/// outputs or another module's.
pub fn module_outpoint(module: &str, id: &Hash32, index: u32) -> OutPoint {
    OutPoint { tx: hash_encoded(MODULE_OUTPUT, &(module, id)), index }
}

fn nonzero(out: &TxOut) -> Result<(), ModuleError> {
    if out.value == 0 {
        return Err(invalid("utxo.shape", "an output of 0 units"));
    }
    Ok(())
}

/// An output under a lock.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct LockedOutput {
    /// The output as it was when locked (value, predicate, maturity).
    pub utxo: Utxo,
    /// The module that locked it.
    pub owner: String,
    /// The owner's id for the lock (a bond id).
    pub lock: Hash32,
}

/// What a lock took: its value and the first anchor every output in it is mature at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub struct Locked {
    /// Σ values.
    pub value: u64,
    /// The latest `spendable_from` of the outputs (an immature mint keeps its maturity).
    pub spendable_from: u64,
}

/// The mempool tag of an output: what a transaction spending it requires, and what a call that
/// locks it must require too.
pub fn outpoint_tag(op: &OutPoint) -> Hash32 {
    store::outpoint_tag(op)
}

fn invalid(code: &'static str, msg: impl Into<String>) -> ModuleError {
    ModuleError::invalid(code, msg)
}

fn overflow(what: &str) -> ModuleError {
    ModuleError::Fatal(format!("ledger total `{what}` out of range"))
}

/// Read access to the ledger from a module that depends on `utxo`.
pub struct LedgerView<'a> {
    view: ModuleView<'a>,
    /// The module that opened it: what [`authorize`](Self::authorize) binds.
    caller: String,
}

impl std::fmt::Debug for LedgerView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LedgerView").finish_non_exhaustive()
    }
}

impl<'a> LedgerView<'a> {
    /// Opens the ledger from the calling module's view (it must declare `utxo`), or from the
    /// `utxo` module's own view (its RPC, tests).
    pub fn open(own: &ModuleView<'a>) -> Result<Self, ModuleError> {
        let caller = own.namespace().to_string();
        if caller == crate::NAME {
            return Ok(LedgerView { view: *own, caller });
        }
        Ok(LedgerView { view: own.dependency(crate::NAME)?, caller })
    }

    /// The chain's genesis hash (bound into every signature over ledger operations).
    pub fn genesis_hash(&self) -> Result<Hash32, ModuleError> {
        store::GENESIS_HASH.get(&self.view)?.ok_or_else(|| ModuleError::Fatal("utxo genesis hash missing".into()))
    }

    /// The supply totals.
    pub fn totals(&self) -> Result<Totals, ModuleError> {
        Ok(TOTALS.get(&self.view)?.unwrap_or_default())
    }

    /// The chain's supply cap (`constants.supply_cap`): `issued` never passes it.
    pub fn supply_cap(&self) -> Result<u64, ModuleError> {
        store::SUPPLY_CAP.get(&self.view)?.ok_or_else(|| ModuleError::Fatal("utxo supply cap missing".into()))
    }

    /// An unspent (and unlocked) output.
    pub fn output(&self, op: &OutPoint) -> Result<Option<Utxo>, ModuleError> {
        OUTPUTS.get(&self.view, op)
    }

    /// Unspent outputs in outpoint order from `from`, at most `limit`.
    pub fn outputs(&self, from: Option<&OutPoint>, limit: usize) -> Result<Vec<(OutPoint, Utxo)>, ModuleError> {
        OUTPUTS.iter(&self.view, from, limit)
    }

    /// A locked output.
    pub fn locked(&self, op: &OutPoint) -> Result<Option<LockedOutput>, ModuleError> {
        LOCKED.get(&self.view, op)
    }

    /// Locked outputs in outpoint order from `from`, at most `limit`.
    pub fn locked_outputs(
        &self,
        from: Option<&OutPoint>,
        limit: usize,
    ) -> Result<Vec<(OutPoint, LockedOutput)>, ModuleError> {
        LOCKED.iter(&self.view, from, limit)
    }

    /// What `module` holds outside the UTXO set.
    pub fn held(&self, module: &str) -> Result<Held, ModuleError> {
        Ok(HELD.get(&self.view, &module.to_string())?.unwrap_or_default())
    }

    /// Whether the calling module ever used lock id `lock` (a new lock under it is refused).
    pub fn lock_used(&self, lock: &Hash32) -> Result<bool, ModuleError> {
        LOCK_IDS.contains(&self.view, &(self.caller.clone(), *lock))
    }

    /// What [`Ledger::lock`] checks, for admission: `lock` is an id the caller never used, and
    /// each output exists unspent and unlocked, is named once, and its witness satisfies its
    /// predicate over [`authorization_digest`]`(genesis, caller, lock, outputs, msg)` at anchor
    /// `anchor` (what a transaction's inputs pass, without the maturity rule: locking an
    /// immature mint is allowed). Returns the outputs in order. Codes: `utxo.lock-reused`,
    /// `utxo.unknown-input`, `utxo.output-locked`, `utxo.double-spend`, the predicate's own.
    pub fn authorize(
        &self,
        inputs: &[(OutPoint, Witness)],
        lock: &Hash32,
        msg: &[u8; 32],
        anchor: u64,
    ) -> Result<Vec<Utxo>, ModuleError> {
        if self.lock_used(lock)? {
            return Err(invalid("utxo.lock-reused", format!("module `{}` used lock id {lock} before", self.caller)));
        }
        let mut seen = BTreeSet::new();
        let mut out = Vec::with_capacity(inputs.len());
        let ops: Vec<OutPoint> = inputs.iter().map(|(op, _)| *op).collect();
        let digest = authorization_digest(&self.genesis_hash()?, &self.caller, lock, &ops, msg);
        let ctx = SpendCtx { anchor_index: anchor, sighash: &digest };
        for (i, (op, witness)) in inputs.iter().enumerate() {
            if !seen.insert(*op) {
                return Err(invalid("utxo.double-spend", format!("output {}:{} is named twice", op.tx, op.index)));
            }
            let utxo = self.spendable(op)?;
            utxo.out
                .predicate
                .satisfy(witness, &ctx, &pc_utxo_tx::Bip340)
                .map_err(|e| invalid(e.code(), format!("input {i} ({}:{}): {e}", op.tx, op.index)))?;
            out.push(utxo);
        }
        Ok(out)
    }

    fn spendable(&self, op: &OutPoint) -> Result<Utxo, ModuleError> {
        if let Some(u) = OUTPUTS.get(&self.view, op)? {
            return Ok(u);
        }
        Err(refusal(&self.view, op)?)
    }
}

/// `utxo.output-locked` for a locked output, else `utxo.unknown-input`.
pub(crate) fn refusal(view: &impl StorageRead, op: &OutPoint) -> Result<ModuleError, ModuleError> {
    Ok(match LOCKED.get(view, op)? {
        Some(l) => invalid(
            "utxo.output-locked",
            format!("output {}:{} is locked by module `{}` (lock {})", op.tx, op.index, l.owner, l.lock),
        ),
        None => store::unknown_input(op),
    })
}

/// Write access to the ledger for the calling module, during `apply` and hooks.
pub struct Ledger<'s> {
    owner: String,
    state: ModuleState<'s>,
}

impl std::fmt::Debug for Ledger<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger").field("owner", &self.owner).finish_non_exhaustive()
    }
}

impl<'s> Ledger<'s> {
    /// Opens the ledger on the calling module's state (it must declare `utxo`); locks and held
    /// value belong to that module.
    pub fn open(own: &'s mut ModuleState<'_>) -> Result<Self, ModuleError> {
        let owner = own.namespace().to_string();
        Ok(Ledger { owner, state: own.dependency_mut(crate::NAME)? })
    }

    /// Reads, as [`LedgerView`] does, with this anchor's writes.
    pub fn view(&self) -> LedgerView<'_> {
        LedgerView { view: self.state.view(), caller: self.owner.clone() }
    }

    fn totals(&self) -> Result<Totals, ModuleError> {
        Ok(TOTALS.get(&self.state)?.unwrap_or_default())
    }

    /// Creates newly issued value (a mint) at [`module_outpoint`]`(caller, id, index)` and
    /// raises `issued`; returns the outpoint. Refused with `utxo.supply-cap` past the chain's
    /// supply cap, `utxo.duplicate-output` if the caller issued or paid there before,
    /// `utxo.shape` for 0 units.
    pub fn issue(
        &mut self,
        id: &Hash32,
        index: u32,
        out: TxOut,
        created: u64,
        spendable_from: u64,
    ) -> Result<OutPoint, ModuleError> {
        nonzero(&out)?;
        let outpoint = module_outpoint(&self.owner, id, index);
        store::issue_output(&mut self.state, outpoint, out, created, spendable_from)?;
        Ok(outpoint)
    }

    /// Issues new value straight into the caller's new lock `lock` (a genesis bond): the
    /// output is created at [`module_outpoint`]`(caller, id, index)` with predicate and
    /// maturity as given, counts against the supply cap like [`issue`](Self::issue), and is
    /// locked at once, so it never was spendable. Refused with `utxo.lock-reused` for a lock id
    /// the caller used before, and with [`issue`](Self::issue)'s codes; nothing is written then.
    pub fn issue_locked(
        &mut self,
        id: &Hash32,
        index: u32,
        out: TxOut,
        created: u64,
        spendable_from: u64,
        lock: Hash32,
    ) -> Result<(OutPoint, Locked), ModuleError> {
        if self.view().lock_used(&lock)? {
            return Err(invalid("utxo.lock-reused", format!("module `{}` used lock id {lock} before", self.owner)));
        }
        let value = out.value;
        let outpoint = self.issue(id, index, out, created, spendable_from)?;
        let utxo =
            OUTPUTS.get(&self.state, &outpoint)?.ok_or_else(|| ModuleError::Fatal("issued output missing".into()))?;
        let mut t = self.totals()?;
        t.locked = t.locked.checked_add(value).ok_or_else(|| overflow("locked"))?;
        store::remove_output(&mut self.state, &outpoint, &utxo);
        LOCKED.insert(&mut self.state, &outpoint, &LockedOutput { utxo, owner: self.owner.clone(), lock });
        LOCK_IDS.insert(&mut self.state, &(self.owner.clone(), lock), &());
        TOTALS.put(&mut self.state, &t);
        Ok((outpoint, Locked { value, spendable_from }))
    }

    /// Locks the outputs of `inputs` under the caller's new lock `lock`, with their owners'
    /// consent: every check of [`LedgerView::authorize`] at anchor `anchor`, then they leave
    /// the spendable set with their value and maturity. Refused with that method's codes, with
    /// nothing written. Derive `lock` from the signed call (a bond's id), so that it is new.
    pub fn lock(
        &mut self,
        inputs: &[(OutPoint, Witness)],
        lock: Hash32,
        msg: &[u8; 32],
        anchor: u64,
    ) -> Result<Locked, ModuleError> {
        let utxos = self.view().authorize(inputs, &lock, msg, anchor)?;
        let mut locked = Locked { value: 0, spendable_from: 0 };
        for utxo in &utxos {
            locked.value = locked.value.checked_add(utxo.out.value).ok_or_else(|| overflow("locked"))?;
            locked.spendable_from = locked.spendable_from.max(utxo.spendable_from);
        }
        let mut t = self.totals()?;
        t.locked = t.locked.checked_add(locked.value).ok_or_else(|| overflow("locked"))?;
        for ((op, _), utxo) in inputs.iter().zip(utxos) {
            store::remove_output(&mut self.state, op, &utxo);
            LOCKED.insert(&mut self.state, op, &LockedOutput { utxo, owner: self.owner.clone(), lock });
        }
        LOCK_IDS.insert(&mut self.state, &(self.owner.clone(), lock), &());
        TOTALS.put(&mut self.state, &t);
        Ok(locked)
    }

    /// Checks that every output of `ops` is under the caller's lock `lock` (each named once)
    /// and returns them with their sum and latest maturity; writes nothing. Refused with
    /// `utxo.not-locked` otherwise.
    fn under_lock(&self, ops: &[OutPoint], lock: &Hash32) -> Result<(Vec<(OutPoint, Utxo)>, Locked), ModuleError> {
        let mut seen = BTreeSet::new();
        let mut out = Vec::with_capacity(ops.len());
        let mut sum = Locked { value: 0, spendable_from: 0 };
        for op in ops {
            // The set and the locks are disjoint (`create_output` refuses a locked outpoint).
            if OUTPUTS.contains(&self.state, op)? {
                return Err(ModuleError::Fatal(format!("output {}:{} is both locked and unspent", op.tx, op.index)));
            }
            match LOCKED.get(&self.state, op)? {
                Some(l) if l.owner == self.owner && l.lock == *lock && seen.insert(*op) => {
                    sum.value = sum.value.checked_add(l.utxo.out.value).ok_or_else(|| overflow("locked"))?;
                    sum.spendable_from = sum.spendable_from.max(l.utxo.spendable_from);
                    out.push((*op, l.utxo));
                }
                _ => {
                    return Err(invalid(
                        "utxo.not-locked",
                        format!(
                            "output {}:{} is not (or twice) under lock {lock} of module `{}`",
                            op.tx, op.index, self.owner
                        ),
                    ));
                }
            }
        }
        Ok((out, sum))
    }

    /// Returns `ops` from lock `lock` to the spendable set, unchanged (same outpoint, value,
    /// predicate and maturity), all or none. Returns their value.
    pub fn unlock(&mut self, ops: &[OutPoint], lock: Hash32) -> Result<u64, ModuleError> {
        let (outs, sum) = self.under_lock(ops, &lock)?;
        let mut t = self.totals()?;
        t.locked = t.locked.checked_sub(sum.value).ok_or_else(|| overflow("locked"))?;
        for (op, utxo) in outs {
            LOCKED.remove(&mut self.state, &op);
            store::insert_output(&mut self.state, op, &utxo);
        }
        TOTALS.put(&mut self.state, &t);
        Ok(sum.value)
    }

    /// Moves the value of `ops` from lock `lock` into the caller's held balance (a slash), all
    /// or none: nothing is burnt; the caller pays it out, and its payouts keep the seized
    /// outputs' maturity. Returns what was seized.
    pub fn seize(&mut self, ops: &[OutPoint], lock: Hash32) -> Result<Locked, ModuleError> {
        let (outs, seized) = self.under_lock(ops, &lock)?;
        let mut t = self.totals()?;
        t.locked = t.locked.checked_sub(seized.value).ok_or_else(|| overflow("locked"))?;
        t.held = t.held.checked_add(seized.value).ok_or_else(|| overflow("held"))?;
        let held = self.held_after(seized.value, seized.spendable_from)?;
        for (op, _) in outs {
            LOCKED.remove(&mut self.state, &op);
        }
        self.put_held(held);
        TOTALS.put(&mut self.state, &t);
        Ok(seized)
    }

    /// Puts `out` from the caller's held balance back under the caller's lock `lock` (a lock
    /// id it used before: what is left of a partly slashed bond) as a new locked output at
    /// [`module_outpoint`]`(caller, id, index)`, spendable from the held value's maturity.
    /// Refused with `utxo.insufficient` beyond the balance, `utxo.not-locked` for a lock id the
    /// caller never used, `utxo.duplicate-output` if the outpoint was used, `utxo.shape` for 0
    /// units; nothing is written then.
    pub fn relock_held(
        &mut self,
        id: &Hash32,
        index: u32,
        out: TxOut,
        created: u64,
        lock: Hash32,
    ) -> Result<(OutPoint, Locked), ModuleError> {
        nonzero(&out)?;
        if !self.view().lock_used(&lock)? {
            return Err(invalid("utxo.not-locked", format!("module `{}` never used lock id {lock}", self.owner)));
        }
        let now = HELD.get(&self.state, &self.owner)?.unwrap_or_default();
        let left = now.value.checked_sub(out.value).ok_or_else(|| {
            invalid(
                "utxo.insufficient",
                format!("{} units to lock, module `{}` holds {}", out.value, self.owner, now.value),
            )
        })?;
        let outpoint = module_outpoint(&self.owner, id, index);
        if OUTPUTS.contains(&self.state, &outpoint)? || LOCKED.contains(&self.state, &outpoint)? {
            return Err(invalid("utxo.duplicate-output", format!("output {outpoint:?} already exists")));
        }
        let mut t = self.totals()?;
        t.held = t.held.checked_sub(out.value).ok_or_else(|| overflow("held"))?;
        t.locked = t.locked.checked_add(out.value).ok_or_else(|| overflow("locked"))?;
        let locked = Locked { value: out.value, spendable_from: now.mature_from };
        let utxo = Utxo { out, created, spendable_from: now.mature_from };
        LOCKED.insert(&mut self.state, &outpoint, &LockedOutput { utxo, owner: self.owner.clone(), lock });
        self.put_held(if left == 0 { Held::default() } else { Held { value: left, mature_from: now.mature_from } });
        TOTALS.put(&mut self.state, &t);
        Ok((outpoint, locked))
    }

    /// Moves `amount` of the caller's held balance to module `to`'s (seized value handed to the
    /// module that distributes it), with its maturity: the receiver's balance matures no earlier
    /// than either. Refused with `utxo.insufficient` beyond the balance; the totals do not move.
    pub fn move_held(&mut self, to: &str, amount: u64) -> Result<(), ModuleError> {
        let from = HELD.get(&self.state, &self.owner)?.unwrap_or_default();
        let left = from.value.checked_sub(amount).ok_or_else(|| {
            invalid(
                "utxo.insufficient",
                format!("{amount} units to move, module `{}` holds {}", self.owner, from.value),
            )
        })?;
        if amount == 0 || to == self.owner {
            return Ok(());
        }
        let key = to.to_string();
        let there = HELD.get(&self.state, &key)?.unwrap_or_default();
        let there = Held {
            value: there.value.checked_add(amount).ok_or_else(|| overflow("held"))?,
            mature_from: there.mature_from.max(from.mature_from),
        };
        HELD.insert(&mut self.state, &key, &there);
        self.put_held(if left == 0 { Held::default() } else { Held { value: left, mature_from: from.mature_from } });
        Ok(())
    }

    /// Moves `amount` of the collected fees into the caller's held balance (the fees module's
    /// pot); refused with `utxo.insufficient` beyond what was collected.
    pub fn take_fees(&mut self, amount: u64) -> Result<(), ModuleError> {
        let mut t = self.totals()?;
        t.fees = t.fees.checked_sub(amount).ok_or_else(|| {
            invalid("utxo.insufficient", format!("{amount} units of fees asked, {} collected", t.fees))
        })?;
        t.held = t.held.checked_add(amount).ok_or_else(|| overflow("held"))?;
        // Fees come from spent outputs, which were mature: they add no maturity.
        let held = self.held_after(amount, 0)?;
        self.put_held(held);
        TOTALS.put(&mut self.state, &t);
        Ok(())
    }

    fn held_after(&self, amount: u64, mature_from: u64) -> Result<Held, ModuleError> {
        let now = HELD.get(&self.state, &self.owner)?.unwrap_or_default();
        Ok(Held {
            value: now.value.checked_add(amount).ok_or_else(|| overflow("held"))?,
            mature_from: now.mature_from.max(mature_from),
        })
    }

    fn put_held(&mut self, held: Held) {
        let key = self.owner.clone();
        if held.value == 0 {
            HELD.remove(&mut self.state, &key);
        } else {
            HELD.insert(&mut self.state, &key, &held);
        }
    }

    /// Pays `out` from the caller's held balance as a new output at
    /// [`module_outpoint`]`(caller, id, index)` (a claim, a payout), created at `created` and
    /// spendable from `spendable_from` or from the held value's maturity, whichever is later.
    /// Returns the output as written. Refused with `utxo.insufficient` beyond the balance,
    /// `utxo.duplicate-output` if the caller issued or paid there before, `utxo.shape` for 0
    /// units.
    pub fn pay_out(
        &mut self,
        id: &Hash32,
        index: u32,
        out: TxOut,
        created: u64,
        spendable_from: u64,
    ) -> Result<(OutPoint, Utxo), ModuleError> {
        nonzero(&out)?;
        let now = HELD.get(&self.state, &self.owner)?.unwrap_or_default();
        let left = now.value.checked_sub(out.value).ok_or_else(|| {
            invalid(
                "utxo.insufficient",
                format!("{} units to pay, module `{}` holds {}", out.value, self.owner, now.value),
            )
        })?;
        let mut t = self.totals()?;
        t.held = t.held.checked_sub(out.value).ok_or_else(|| overflow("held"))?;
        let outpoint = module_outpoint(&self.owner, id, index);
        let utxo = Utxo { out, created, spendable_from: spendable_from.max(now.mature_from) };
        store::create_output(&mut self.state, outpoint, utxo.out.clone(), utxo.created, utxo.spendable_from)?;
        // An emptied balance forgets its maturity: what comes in next brings its own.
        self.put_held(if left == 0 { Held::default() } else { Held { value: left, mature_from: now.mature_from } });
        TOTALS.put(&mut self.state, &t);
        Ok((outpoint, utxo))
    }
}
