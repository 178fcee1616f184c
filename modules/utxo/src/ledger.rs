//! The ledger as other modules see it (docs/spec/utxo.md §7): typed operations instead of
//! storage handles, so that every move of value keeps the supply equation
//!
//! Σ unspent + fees + locked + held = issued
//!
//! and no module writes the UTXO set by hand. A module declares `depends_on: ["utxo"]` and
//! opens [`Ledger`] on its own state (writes, in `apply` and hooks) or [`LedgerView`] on its
//! own view (reads, in `validate` and RPC).
//!
//! - **Issue**: new value (mint-pow's rewards), within the supply cap.
//! - **Lock / unlock**: outputs leave the spendable set under a lock that the calling module
//!   owns (a bond), keeping their value and maturity, and come back unchanged. A transfer that
//!   spends a locked output is refused with `utxo.output-locked`. A module proves the owner's consent
//!   with [`LedgerView::authorize`], the same predicate check a transaction passes, over a
//!   message of its own domain.
//! - **Seize / pay out**: locked value, or collected fees, moves into the calling module's
//!   held balance (a slash, a fee pot), and leaves it only as new outputs the module pays out
//!   (payouts inherit the maturity the module gives them, e.g. the seized bond's).
//! - **Conflicts**: [`outpoint_tag`] is the mempool tag of an output. A call that locks
//!   outputs lists their tags in `Validity::requires` (so it conflicts with a pending
//!   transfer of them) and reports them through `Prechecked::consuming` (so the pool drops
//!   the transfers once the lock is final), exactly as a transaction does for its inputs.

use crate::store::{self, LOCKED, OUTPUTS, TOTALS, Totals, Utxo};
use pc_runtime_api::codec::{Decode, Encode, Hash32};
use pc_runtime_api::{ModuleError, ModuleState, ModuleView, StorageMap, StorageRead};
use pc_utxo_tx::{OutPoint, SpendCtx, TxOut, Witness};

/// Value a module holds outside the UTXO set (seized bonds, fee pots), by module name.
const HELD: StorageMap<String, u64> = StorageMap::new("held");

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
        if own.namespace() == crate::NAME {
            return Ok(LedgerView { view: *own });
        }
        Ok(LedgerView { view: own.dependency(crate::NAME)? })
    }

    /// The chain's genesis hash (bound into every signature over ledger operations).
    pub fn genesis_hash(&self) -> Result<Hash32, ModuleError> {
        store::GENESIS_HASH.get(&self.view)?.ok_or_else(|| ModuleError::Fatal("utxo genesis hash missing".into()))
    }

    /// The supply totals.
    pub fn totals(&self) -> Result<Totals, ModuleError> {
        Ok(TOTALS.get(&self.view)?.unwrap_or_default())
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

    /// What `module` holds outside the UTXO set.
    pub fn held(&self, module: &str) -> Result<u64, ModuleError> {
        Ok(HELD.get(&self.view, &module.to_string())?.unwrap_or(0))
    }

    /// Checks that each output exists unspent and unlocked and that its witness satisfies its
    /// predicate over `msg` at anchor `anchor` (what a transaction's inputs pass, without the
    /// maturity rule: locking an immature mint is allowed). `msg` must commit to the whole
    /// call under the caller's own domain and the genesis hash, so that no signature made for
    /// anything else authorizes it. Returns the outputs in order. Codes: `utxo.unknown-input`,
    /// `utxo.output-locked`, `utxo.double-spend`, and the predicate's own.
    pub fn authorize(
        &self,
        inputs: &[(OutPoint, Witness)],
        msg: &[u8; 32],
        anchor: u64,
    ) -> Result<Vec<Utxo>, ModuleError> {
        let mut seen = std::collections::BTreeSet::new();
        let mut out = Vec::with_capacity(inputs.len());
        let ctx = SpendCtx { anchor_index: anchor, sighash: msg };
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
        LedgerView { view: self.state.view() }
    }

    fn totals(&self) -> Result<Totals, ModuleError> {
        Ok(TOTALS.get(&self.state)?.unwrap_or_default())
    }

    /// Creates newly issued value at `outpoint` (a mint) and raises `issued`; refused with
    /// `utxo.supply-cap` past `supply_cap`, `utxo.duplicate-output` if the outpoint exists.
    pub fn issue(
        &mut self,
        outpoint: OutPoint,
        out: TxOut,
        created: u64,
        spendable_from: u64,
        supply_cap: u64,
    ) -> Result<(), ModuleError> {
        store::issue_output(&mut self.state, outpoint, out, created, spendable_from, supply_cap)
    }

    /// Locks `ops` under the caller's lock `lock`: they leave the spendable set with their value
    /// and maturity. The caller checked consent ([`LedgerView::authorize`]).
    pub fn lock(&mut self, ops: &[OutPoint], lock: Hash32) -> Result<Locked, ModuleError> {
        let mut t = self.totals()?;
        let mut locked = Locked { value: 0, spendable_from: 0 };
        for op in ops {
            let utxo = match OUTPUTS.get(&self.state, op)? {
                Some(u) => u,
                None => return Err(refusal(&self.state, op)?),
            };
            store::remove_output(&mut self.state, op, &utxo);
            locked.value = locked.value.checked_add(utxo.out.value).ok_or_else(|| overflow("locked"))?;
            locked.spendable_from = locked.spendable_from.max(utxo.spendable_from);
            LOCKED.insert(&mut self.state, op, &LockedOutput { utxo, owner: self.owner.clone(), lock });
        }
        t.locked = t.locked.checked_add(locked.value).ok_or_else(|| overflow("locked"))?;
        TOTALS.put(&mut self.state, &t);
        Ok(locked)
    }

    /// Takes the caller's locked output `op` out of lock `lock`; refused with `utxo.not-locked`
    /// if it is not under that lock of this module.
    fn take(&mut self, op: &OutPoint, lock: &Hash32) -> Result<Utxo, ModuleError> {
        match LOCKED.get(&self.state, op)? {
            Some(l) if l.owner == self.owner && l.lock == *lock => {
                LOCKED.remove(&mut self.state, op);
                Ok(l.utxo)
            }
            _ => Err(invalid(
                "utxo.not-locked",
                format!("output {}:{} is not under lock {lock} of module `{}`", op.tx, op.index, self.owner),
            )),
        }
    }

    /// Returns `ops` from lock `lock` to the spendable set, unchanged (same outpoint, value,
    /// predicate and maturity). Returns their value.
    pub fn unlock(&mut self, ops: &[OutPoint], lock: Hash32) -> Result<u64, ModuleError> {
        let mut t = self.totals()?;
        let mut value = 0u64;
        for op in ops {
            let utxo = self.take(op, &lock)?;
            value = value.checked_add(utxo.out.value).ok_or_else(|| overflow("locked"))?;
            store::insert_output(&mut self.state, *op, &utxo);
        }
        t.locked = t.locked.checked_sub(value).ok_or_else(|| overflow("locked"))?;
        TOTALS.put(&mut self.state, &t);
        Ok(value)
    }

    /// Moves the value of `ops` from lock `lock` into the caller's held balance (a slash):
    /// nothing is burnt; the caller pays it out. Returns what was seized.
    pub fn seize(&mut self, ops: &[OutPoint], lock: Hash32) -> Result<Locked, ModuleError> {
        let mut t = self.totals()?;
        let mut seized = Locked { value: 0, spendable_from: 0 };
        for op in ops {
            let utxo = self.take(op, &lock)?;
            seized.value = seized.value.checked_add(utxo.out.value).ok_or_else(|| overflow("locked"))?;
            seized.spendable_from = seized.spendable_from.max(utxo.spendable_from);
        }
        t.locked = t.locked.checked_sub(seized.value).ok_or_else(|| overflow("locked"))?;
        t.held = t.held.checked_add(seized.value).ok_or_else(|| overflow("held"))?;
        TOTALS.put(&mut self.state, &t);
        self.add_held(seized.value)?;
        Ok(seized)
    }

    /// Moves `amount` of the collected fees into the caller's held balance (the fees module's
    /// pot); refused with `utxo.insufficient` beyond what was collected.
    pub fn take_fees(&mut self, amount: u64) -> Result<(), ModuleError> {
        let mut t = self.totals()?;
        t.fees = t.fees.checked_sub(amount).ok_or_else(|| {
            invalid("utxo.insufficient", format!("{amount} units of fees asked, {} collected", t.fees))
        })?;
        t.held = t.held.checked_add(amount).ok_or_else(|| overflow("held"))?;
        TOTALS.put(&mut self.state, &t);
        self.add_held(amount)
    }

    fn add_held(&mut self, amount: u64) -> Result<(), ModuleError> {
        let key = self.owner.clone();
        let now = HELD.get(&self.state, &key)?.unwrap_or(0);
        HELD.insert(&mut self.state, &key, &now.checked_add(amount).ok_or_else(|| overflow("held"))?);
        Ok(())
    }

    /// Pays `out` from the caller's held balance as a new output at `outpoint` (a claim, a
    /// payout), spendable from `spendable_from`. Refused with `utxo.insufficient` beyond the
    /// balance, `utxo.duplicate-output` if the outpoint exists.
    pub fn pay_out(
        &mut self,
        outpoint: OutPoint,
        out: TxOut,
        created: u64,
        spendable_from: u64,
    ) -> Result<(), ModuleError> {
        let key = self.owner.clone();
        let now = HELD.get(&self.state, &key)?.unwrap_or(0);
        let left = now.checked_sub(out.value).ok_or_else(|| {
            invalid("utxo.insufficient", format!("{} units to pay, module `{key}` holds {now}", out.value))
        })?;
        let mut t = self.totals()?;
        t.held = t.held.checked_sub(out.value).ok_or_else(|| overflow("held"))?;
        store::create_output(&mut self.state, outpoint, out, created, spendable_from)?;
        if left == 0 {
            HELD.remove(&mut self.state, &key);
        } else {
            HELD.insert(&mut self.state, &key, &left);
        }
        TOTALS.put(&mut self.state, &t);
        Ok(())
    }
}
