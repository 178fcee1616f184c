//! The checks shared by admission and application.

use crate::config::UtxoConfig;
use crate::sigcache::SigCache;
use crate::store::{OUTPUTS, Utxo};
use pc_runtime_api::codec::Hash32;
use pc_runtime_api::{ModuleError, ModuleView};
use pc_utxo_tx::{SpendCtx, Transaction, sighash};

/// What a valid transaction amounts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checked {
    /// Its id.
    pub txid: Hash32,
    /// Σ inputs − Σ outputs.
    pub fee: u64,
}

/// Checks `tx` (encoded in `size` bytes) of the chain `genesis` for application in anchor
/// `anchor_index` against `state`, cheapest checks first so that a bad transaction costs
/// little: shape, inputs exist and are mature, value and fee, and last the predicates with
/// their signatures. Returns what the transaction amounts to and the outputs its inputs spend,
/// in input order. The result is a function of `tx`, `size`, `anchor_index`, the chain and
/// these outputs alone (the signature cache never changes a result), which is what lets
/// `apply` reuse a precheck.
pub fn check(
    tx: &Transaction,
    size: usize,
    state: &ModuleView<'_>,
    anchor_index: u64,
    genesis: &Hash32,
    config: &UtxoConfig,
    sigs: &SigCache,
) -> Result<(Checked, Vec<Utxo>), ModuleError> {
    tx.check_shape(config.dust).map_err(|e| {
        let code = match e {
            pc_utxo_tx::TxShapeError::DuplicateInput(_) => "utxo.double-spend",
            _ => "utxo.shape",
        };
        ModuleError::invalid(code, e.to_string())
    })?;
    let txid = tx.txid();
    let mut spent = Vec::with_capacity(tx.inputs.len());
    let mut total_in = 0u64;
    for input in &tx.inputs {
        let utxo = match OUTPUTS.get(state, &input.prev)? {
            Some(u) => u,
            None => return Err(crate::ledger::refusal(state, &input.prev)?),
        };
        if anchor_index < utxo.spendable_from {
            return Err(ModuleError::invalid(
                "utxo.immature",
                format!(
                    "output {}:{} matures at anchor {}; the spend was checked for anchor {anchor_index}",
                    input.prev.tx, input.prev.index, utxo.spendable_from
                ),
            ));
        }
        total_in = total_in
            .checked_add(utxo.out.value)
            .ok_or_else(|| ModuleError::invalid("utxo.value", "input values overflow"))?;
        spent.push(utxo);
    }
    let total_out = tx.output_total().ok_or_else(|| ModuleError::invalid("utxo.value", "output values overflow"))?;
    let fee = total_in.checked_sub(total_out).ok_or_else(|| {
        ModuleError::invalid("utxo.value", format!("outputs ({total_out}) exceed inputs ({total_in})"))
    })?;
    let min_fee = config.min_fee_per_byte.saturating_mul(size as u64);
    if fee < min_fee {
        return Err(ModuleError::invalid(
            "utxo.fee",
            format!(
                "fee {fee} is below the minimum {min_fee} ({} units per byte × {size} bytes)",
                config.min_fee_per_byte
            ),
        ));
    }
    let msg = sighash(genesis, &txid);
    let ctx = SpendCtx { anchor_index, sighash: &msg };
    for (i, (input, utxo)) in tx.inputs.iter().zip(&spent).enumerate() {
        utxo.out.predicate.satisfy(&input.witness, &ctx, sigs).map_err(|e| {
            ModuleError::invalid(e.code(), format!("input {i} ({}:{}): {e}", input.prev.tx, input.prev.index))
        })?;
    }
    Ok((Checked { txid, fee }, spent))
}
