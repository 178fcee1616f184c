//! `utxo_listUnspent`, `utxo_getBalance` and `tx_submit`.

use crate::store::{BY_ADDRESS, OUTPUTS};
use pc_runtime_api::{ModuleView, RpcError, RpcMethod, RpcReply, str_param};
use pc_utxo_tx::{Address, MAX_TX_BYTES};
use serde_json::{Value, json};

/// Largest page `utxo_listUnspent` returns.
const MAX_LIST: usize = 1_000;
/// Error code of an unparsable address (see docs/rpc.md).
pub const BAD_ADDRESS: i32 = 1001;

pub(crate) fn methods() -> Vec<RpcMethod> {
    vec![
        RpcMethod { name: "utxo_listUnspent", handler: Box::new(list_unspent) },
        RpcMethod { name: "utxo_getBalance", handler: Box::new(get_balance) },
        RpcMethod { name: "tx_submit", handler: Box::new(submit) },
    ]
}

fn address(params: &Value) -> Result<Address, RpcError> {
    str_param(params, 0, "address")?
        .parse::<Address>()
        .map_err(|e| RpcError { code: BAD_ADDRESS, message: format!("invalid address: {e}") })
}

fn list_unspent(view: &ModuleView<'_>, params: Value) -> Result<RpcReply, RpcError> {
    let addr = address(&params)?;
    let entries = BY_ADDRESS.iter_prefix(view, &addr.to_bytes(), None, MAX_LIST).map_err(RpcError::storage)?;
    let next = view.next_anchor();
    let mut out = Vec::with_capacity(entries.len());
    for ((_, op), ()) in entries {
        if let Some(u) = OUTPUTS.get(view, &op).map_err(RpcError::storage)? {
            out.push(json!({
                "txid": op.tx.to_hex(),
                "index": op.index,
                "value": u.out.value,
                "created_at_anchor": u.created,
                "spendable_from_anchor": u.spendable_from,
                "mature": u.spendable_from <= next,
            }));
        }
    }
    Ok(RpcReply::Value(Value::Array(out)))
}

fn get_balance(view: &ModuleView<'_>, params: Value) -> Result<RpcReply, RpcError> {
    let addr = address(&params)?;
    let key = addr.to_bytes();
    let next = view.next_anchor();
    let (mut total, mut spendable, mut outputs) = (0u64, 0u64, 0u64);
    let mut from: Option<([u8; 33], pc_utxo_tx::OutPoint)> = None;
    loop {
        // A page starts at (and includes) the last key of the previous one: skip it.
        let page = BY_ADDRESS.iter_prefix(view, &key, from.as_ref(), MAX_LIST).map_err(RpcError::storage)?;
        let full = page.len() == MAX_LIST;
        let mut last = None;
        for (k, ()) in page {
            if from.as_ref() == Some(&k) {
                continue;
            }
            if let Some(u) = OUTPUTS.get(view, &k.1).map_err(RpcError::storage)? {
                total = total.saturating_add(u.out.value);
                outputs += 1;
                if u.spendable_from <= next {
                    spendable = spendable.saturating_add(u.out.value);
                }
            }
            last = Some(k);
        }
        match last {
            Some(k) if full => from = Some(k),
            _ => break,
        }
    }
    Ok(RpcReply::Value(json!({
        "address": addr.to_string(),
        "total": total,
        "spendable": spendable,
        "immature": total - spendable,
        "outputs": outputs,
    })))
}

fn submit(_view: &ModuleView<'_>, params: Value) -> Result<RpcReply, RpcError> {
    let hex_tx = str_param(&params, 0, "tx")?;
    if hex_tx.len() > 2 * MAX_TX_BYTES + 2 {
        return Err(RpcError::invalid_params(format!("transaction larger than {MAX_TX_BYTES} bytes")));
    }
    let bytes = hex::decode(hex_tx.strip_prefix("0x").unwrap_or(hex_tx))
        .map_err(|e| RpcError::invalid_params(format!("transaction is not hex: {e}")))?;
    crate::decode_tx(&bytes).map_err(|e| RpcError::invalid_params(format!("not a transaction: {e}")))?;
    Ok(RpcReply::Submit(bytes))
}
