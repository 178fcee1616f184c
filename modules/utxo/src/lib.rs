//! The UTXO module: spends outputs whose predicates are satisfied and creates new ones, in
//! finalized order.
//!
//! - `validate` (mempool admission) and `apply` (finalized order) run the same checks
//!   ([`check`]); `apply` then spends and creates. The host runs `precheck` for all calls of
//!   an anchor in parallel against the pre-anchor state, and `apply` reuses its result where
//!   every input still holds the output it was checked against (the check is a function of
//!   the transaction and those outputs), so the sequential pass only reads and writes state.
//! - `revalidate` (before a pooled transaction goes into an event) only asks whether its
//!   inputs are still unspent: every other check stays true as anchors pass. When two finalized transactions spend the
//!   same output, the first in the total order wins and the second fails `apply`, which the host
//!   records as a `system/CallDropped` event with code `utxo.unknown-input`.
//! - Signatures are verified through a cache of verified (key, message, signature) triples:
//!   admission, run in parallel, fills it, so `apply` on the consensus path rarely verifies.
//!   A hit only ever stands for a check that succeeded, so the cache cannot change a result.
//! - Other modules reach the ledger only through its typed interface ([`ledger`]): issue
//!   (mint-pow), lock and unlock (bonds), seize, take fees and pay out, which keep
//!   Σ unspent + fees + locked + held = issued and the supply cap. The storage is private.
//!
//! Rules: `docs/spec/utxo.md`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod check;
mod config;
pub mod ledger;
mod rpc;
mod sigcache;
mod spent;
mod store;

pub use check::{Checked, check};
pub use config::{Allocation, UtxoConfig};
pub use ledger::{Held, Ledger, LedgerView, Locked, LockedOutput, authorization_digest, module_outpoint, outpoint_tag};
pub use sigcache::SigCache;
use spent::SpentMemo;
use store::{GENESIS_HASH, OUTPUTS, TOTALS, create_output, issue_output};
pub use store::{Totals, Utxo, genesis_outpoint};

use pc_runtime_api::codec::{Decode, Encode, Hash32, decode_canonical};
use pc_runtime_api::{
    AnchorCtx, EventSink, GenesisCtx, Module, ModuleDescriptor, ModuleError, ModuleEvent, ModuleInit, ModuleState,
    ModuleView, Prechecked, RpcMethod, Validity, register_module,
};
use pc_utxo_tx::{MAX_TX_BYTES, OutPoint, Transaction};
use std::sync::Arc;

/// The module's name: storage namespace, chainspec key and call target.
pub const NAME: &str = "utxo";

/// Emitted for every applied transaction.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct TxApplied {
    /// The transaction id.
    pub txid: Hash32,
    /// Fee paid (units).
    pub fee: u64,
}

impl ModuleEvent for TxApplied {
    const NAME: &'static str = "TxApplied";
}

/// Emitted at genesis for each allocation.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Allocated {
    /// The output created.
    pub outpoint: OutPoint,
    /// Its value.
    pub value: u64,
}

impl ModuleEvent for Allocated {
    const NAME: &'static str = "Allocated";
}

/// Output `i` of transaction `txid`.
fn output_point(txid: Hash32, i: usize) -> OutPoint {
    OutPoint { tx: txid, index: u32::try_from(i).unwrap_or(u32::MAX) }
}

/// Decodes a call: a canonically SCALE-encoded [`Transaction`].
pub fn decode_tx(call: &[u8]) -> Result<Transaction, ModuleError> {
    decode_canonical::<Transaction>(call, MAX_TX_BYTES).map_err(|e| ModuleError::invalid("utxo.decode", e.to_string()))
}

/// The UTXO module.
#[derive(Debug)]
pub struct UtxoModule {
    config: UtxoConfig,
    /// Bound into every sighash.
    genesis: Hash32,
    sigs: Arc<SigCache>,
    spent: SpentMemo,
}

/// What [`Module::precheck`] found: the decoded transaction and, when it passed every check
/// against the pre-anchor state, the outputs it spends.
struct Pre {
    tx: Transaction,
    checked: Option<(Checked, Vec<Utxo>)>,
}

impl UtxoModule {
    /// A module with `config` for the chain `genesis` (tests and benchmarks build it directly).
    pub fn new(config: UtxoConfig, genesis: Hash32) -> Self {
        UtxoModule { config, genesis, sigs: Arc::new(SigCache::default()), spent: SpentMemo::default() }
    }

    /// Whether a precheck of `tx` (its result `spends`) still stands: every input still holds
    /// the output it was checked against. A key this anchor has not written still holds what
    /// the precheck read, so only written keys are read again.
    fn precheck_stands(&self, state: &ModuleState<'_>, tx: &Transaction, spends: &[Utxo]) -> bool {
        tx.inputs.iter().zip(spends).all(|(input, was)| {
            !OUTPUTS.written(state, &input.prev) || OUTPUTS.get(state, &input.prev).ok().flatten().as_ref() == Some(was)
        })
    }

    /// Applies `tx` (encoded in `size` bytes). `pre` is a precheck against the pre-anchor
    /// state; where it no longer stands, the transaction is checked again here.
    fn apply_tx(
        &self,
        ctx: &AnchorCtx,
        tx: &Transaction,
        size: usize,
        pre: Option<(Checked, Vec<Utxo>)>,
        state: &mut ModuleState<'_>,
        events: &mut EventSink<'_>,
    ) -> Result<(), ModuleError> {
        let reuse = pre.filter(|(_, spends)| self.precheck_stands(state, tx, spends));
        let prechecked = reuse.is_some();
        let (c, spends) = match reuse {
            Some(found) => found,
            None => check(tx, size, &state.view(), ctx.index, &self.genesis, &self.config, &self.sigs)?,
        };
        for (input, utxo) in tx.inputs.iter().zip(&spends) {
            store::remove_output(state, &input.prev, utxo);
        }
        for (i, out) in tx.outputs.iter().enumerate() {
            let utxo = Utxo { out: out.clone(), created: ctx.index, spendable_from: ctx.index };
            if prechecked {
                // No output of this transaction can exist: it would have been created by a
                // transaction with the same id, i.e. spending the same inputs, which exist
                // unspent, and spent outputs are never created again (transfer, mint and
                // genesis outpoints are hashes in separate domains; mint ids are used once).
                // `create_output` checks anyway on the slow path; docs/spec/utxo.md §5.
                store::insert_output(state, output_point(c.txid, i), &utxo);
            } else {
                create_output(state, output_point(c.txid, i), utxo.out, ctx.index, ctx.index)?;
            }
        }
        let mut totals = TOTALS.get(&state.view())?.unwrap_or_default();
        totals.fees = totals.fees.checked_add(c.fee).ok_or_else(|| ModuleError::Fatal("fee total overflows".into()))?;
        TOTALS.put(state, &totals);
        events.emit(&TxApplied { txid: c.txid, fee: c.fee });
        for input in &tx.inputs {
            self.spent.insert(input.prev, c.txid, ctx.index);
        }
        Ok(())
    }

    /// Turns "unknown input" into "already spent by …" when this node saw the spend: only
    /// the message changes, never whether the call is valid.
    fn explain(&self, tx: &Transaction, e: ModuleError) -> ModuleError {
        if !matches!(&e, ModuleError::Invalid { code: "utxo.unknown-input", .. }) {
            return e;
        }
        tx.inputs.iter().find_map(|i| self.spent.get(&i.prev).map(|(by, at)| (i.prev, by, at))).map_or(
            e,
            |(op, by, at)| {
                ModuleError::invalid(
                    "utxo.spent",
                    format!("output {}:{} was already spent by transaction {by} at anchor {at}", op.tx, op.index),
                )
            },
        )
    }
}

fn build(init: &ModuleInit<'_>) -> Result<Box<dyn Module>, ModuleError> {
    Ok(Box::new(UtxoModule::new(UtxoConfig::parse(init.config)?, init.genesis_hash)))
}

impl Module for UtxoModule {
    fn genesis(
        &self,
        ctx: &GenesisCtx<'_>,
        state: &mut ModuleState<'_>,
        events: &mut EventSink<'_>,
    ) -> Result<(), ModuleError> {
        GENESIS_HASH.put(state, &ctx.genesis_hash);
        store::SUPPLY_CAP.put(state, &ctx.constants.supply_cap);
        for (i, a) in self.config.allocations.iter().enumerate() {
            let outpoint = genesis_outpoint(u32::try_from(i).unwrap_or(u32::MAX));
            let out = pc_utxo_tx::TxOut { value: a.value, predicate: a.address.predicate() };
            issue_output(state, outpoint, out, 0, 0)
                .map_err(|e| ModuleError::Config { field: format!("allocations[{i}]"), reason: e.to_string() })?;
            events.emit(&Allocated { outpoint, value: a.value });
        }
        Ok(())
    }

    fn call_key(&self, call: &[u8]) -> Option<Hash32> {
        decode_tx(call).ok().map(|tx| tx.txid())
    }

    fn validate(&self, call: &[u8], view: &ModuleView<'_>) -> Result<Validity, ModuleError> {
        let tx = decode_tx(call)?;
        let next = view.next_anchor();
        let (c, _) = check(&tx, call.len(), view, next, &self.genesis, &self.config, &self.sigs)
            .map_err(|e| self.explain(&tx, e))?;
        let provides = (0..tx.outputs.len()).map(|i| store::outpoint_tag(&output_point(c.txid, i))).collect();
        let requires = tx.inputs.iter().map(|i| store::outpoint_tag(&i.prev)).collect();
        // Fee per kilobyte keeps integer precision for small transactions.
        let priority = c.fee.saturating_mul(1000) / (call.len().max(1) as u64);
        // Valid until an input is spent (`revalidate`), which the spend's precheck reports.
        Ok(Validity { priority, provides, requires, stable: true, key: Some(c.txid) })
    }

    /// Locks and maturity only open as the anchor index grows, and every other check depends
    /// on the transaction and its inputs alone, so a transaction that passed `validate` stays
    /// valid until one of its inputs is spent.
    fn revalidate(&self, call: &[u8], view: &ModuleView<'_>) -> Result<(), ModuleError> {
        let tx = decode_tx(call)?;
        for input in &tx.inputs {
            if !OUTPUTS.contains(view, &input.prev)? {
                return Err(self.explain(&tx, ledger::refusal(view, &input.prev)?));
            }
        }
        Ok(())
    }

    fn apply(
        &self,
        ctx: &AnchorCtx,
        call: &[u8],
        state: &mut ModuleState<'_>,
        events: &mut EventSink<'_>,
    ) -> Result<(), ModuleError> {
        let tx = decode_tx(call)?;
        self.apply_tx(ctx, &tx, call.len(), None, state, events)
    }

    fn precheck(&self, ctx: &AnchorCtx, call: &[u8], view: &ModuleView<'_>) -> Option<Prechecked> {
        let tx = decode_tx(call).ok()?;
        let checked = check(&tx, call.len(), view, ctx.index, &self.genesis, &self.config, &self.sigs).ok();
        let key = checked.as_ref().map_or_else(|| tx.txid(), |(c, _)| c.txid);
        let spends = tx.inputs.iter().map(|i| store::outpoint_tag(&i.prev)).collect();
        Some(Prechecked::new(Some(key), Pre { tx, checked }).consuming(spends))
    }

    fn apply_prechecked(
        &self,
        ctx: &AnchorCtx,
        call: &[u8],
        pre: Option<Prechecked>,
        state: &mut ModuleState<'_>,
        events: &mut EventSink<'_>,
    ) -> Result<(), ModuleError> {
        match pre.and_then(Prechecked::into_work::<Pre>) {
            Some(Pre { tx, checked }) => self.apply_tx(ctx, &tx, call.len(), checked, state, events),
            None => self.apply(ctx, call, state, events),
        }
    }

    fn rpc_methods(&self) -> Vec<RpcMethod> {
        rpc::methods()
    }
}

register_module!(ModuleDescriptor { name: NAME, feature: "module-utxo", order: 100, depends_on: &[], build });
