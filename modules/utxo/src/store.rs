//! The module's state: outputs, the address index, totals.

use pc_runtime_api::codec::{Decode, Domain, Encode, Hash32, hash_encoded};
use pc_runtime_api::{ModuleError, ModuleState, StorageMap, StorageValue};
use pc_utxo_tx::{Address, OutPoint, TxOut};

/// An unspent output as stored.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Utxo {
    /// Value and predicate.
    pub out: TxOut,
    /// Global index of the anchor that created it (0 = genesis).
    pub created: u64,
    /// First anchor in which it may be spent (maturity of mints; `created` for transfers).
    pub spendable_from: u64,
}

/// The supply equation, at every anchor: Σ unspent values + `fees` + `locked` + `held` =
/// `issued` (docs/spec/utxo.md, "The ledger interface").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Encode, Decode)]
pub struct Totals {
    /// Units created by genesis allocations and mints.
    pub issued: u64,
    /// Fees collected and not yet taken by a module.
    pub fees: u64,
    /// Units in locked outputs (bonds).
    pub locked: u64,
    /// Units modules hold outside the UTXO set (seized bonds, fee pots), to pay out.
    pub held: u64,
}

/// Unspent outputs by outpoint. Private to the module: others go through `ledger`.
pub(crate) const OUTPUTS: StorageMap<OutPoint, Utxo> = StorageMap::new("out");
/// Locked outputs by outpoint (`ledger::Ledger::lock`).
pub(crate) const LOCKED: StorageMap<OutPoint, crate::ledger::LockedOutput> = StorageMap::new("locked");
/// Address index: (address bytes, outpoint) → (), for `utxo_listUnspent`.
pub(crate) const BY_ADDRESS: StorageMap<([u8; 33], OutPoint), ()> = StorageMap::aux("addr");
/// The chain's genesis hash (bound into every sighash).
pub(crate) const GENESIS_HASH: StorageValue<Hash32> = StorageValue::new("genesis-hash");
/// The supply totals.
pub(crate) const TOTALS: StorageValue<Totals> = StorageValue::new("totals");
/// `constants.supply_cap`, written at genesis: every issue, whichever module asks, stays
/// within it.
pub(crate) const SUPPLY_CAP: StorageValue<u64> = StorageValue::new("supply-cap");

const GENESIS_ALLOCATION: Domain = Domain::new("phantomcoin/v1/utxo/genesis-allocation");
const OUTPOINT_TAG: Domain = Domain::new("phantomcoin/v1/utxo/outpoint-tag");

/// The outpoint of genesis allocation `i`.
pub fn genesis_outpoint(i: u32) -> OutPoint {
    OutPoint { tx: GENESIS_ALLOCATION.hash(b"allocations"), index: i }
}

/// The mempool tag of an outpoint (what a transaction provides or requires).
pub(crate) fn outpoint_tag(op: &OutPoint) -> Hash32 {
    hash_encoded(OUTPOINT_TAG, op)
}

/// Creates an output that moves existing value (transfers). Newly issued value (genesis,
/// mints) goes through [`issue_output`], which also raises the issued total.
pub(crate) fn create_output(
    state: &mut ModuleState<'_>,
    outpoint: OutPoint,
    out: TxOut,
    created: u64,
    spendable_from: u64,
) -> Result<(), ModuleError> {
    // A locked output still exists: its outpoint is not free either.
    if OUTPUTS.contains(state, &outpoint)? || LOCKED.contains(state, &outpoint)? {
        return Err(ModuleError::invalid("utxo.duplicate-output", format!("output {outpoint:?} already exists")));
    }
    insert_output(state, outpoint, &Utxo { out, created, spendable_from });
    Ok(())
}

/// Writes an output and its index entry; the caller knows the outpoint is free.
pub(crate) fn insert_output(state: &mut ModuleState<'_>, outpoint: OutPoint, utxo: &Utxo) {
    let addr = Address::for_predicate(&utxo.out.predicate).to_bytes();
    BY_ADDRESS.insert(state, &(addr, outpoint), &());
    OUTPUTS.insert(state, &outpoint, utxo);
}

/// Creates a newly issued output (genesis allocation or mint) and raises the issued total;
/// refuses to pass the supply cap in state.
pub(crate) fn issue_output(
    state: &mut ModuleState<'_>,
    outpoint: OutPoint,
    out: TxOut,
    created: u64,
    spendable_from: u64,
) -> Result<(), ModuleError> {
    let supply_cap = SUPPLY_CAP.get(state)?.ok_or_else(|| ModuleError::Fatal("utxo supply cap missing".into()))?;
    let mut totals = TOTALS.get(state)?.unwrap_or_default();
    totals.issued = totals
        .issued
        .checked_add(out.value)
        .filter(|t| *t <= supply_cap)
        .ok_or_else(|| ModuleError::invalid("utxo.supply-cap", "issuing this output would pass the supply cap"))?;
    create_output(state, outpoint, out, created, spendable_from)?;
    TOTALS.put(state, &totals);
    Ok(())
}

/// Removes a spent output, which holds `utxo`, and its index entry.
pub(crate) fn remove_output(state: &mut ModuleState<'_>, outpoint: &OutPoint, utxo: &Utxo) {
    let addr = Address::for_predicate(&utxo.out.predicate).to_bytes();
    BY_ADDRESS.remove(state, &(addr, *outpoint));
    OUTPUTS.remove(state, outpoint);
}

pub(crate) fn unknown_input(op: &OutPoint) -> ModuleError {
    ModuleError::invalid(
        "utxo.unknown-input",
        format!("output {}:{} does not exist or is already spent", op.tx, op.index),
    )
}
