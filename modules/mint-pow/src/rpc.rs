//! `get_mint_template`, `submit_mint_solution`, `mint_status`.

use crate::{MINTS, MintConfig, MintHeader, TARGET, TIP, genesis_hash};
use pc_runtime_api::codec::Encode;
use pc_runtime_api::{ModuleView, RpcError, RpcMethod, RpcReply, hash_param, param, str_param, submit_param};
use pc_utxo_tx::Address;
use serde_json::{Value, json};

pub(crate) fn methods(config: MintConfig) -> Vec<RpcMethod> {
    vec![
        RpcMethod {
            name: "get_mint_template",
            handler: Box::new(move |view: &ModuleView<'_>, params: Value| template(&config, view, &params)),
        },
        RpcMethod { name: "submit_mint_solution", handler: Box::new(|_: &ModuleView<'_>, p: Value| submit(&p)) },
        RpcMethod { name: "mint_status", handler: Box::new(|view: &ModuleView<'_>, p: Value| status(view, &p)) },
    ]
}

fn template(config: &MintConfig, view: &ModuleView<'_>, params: &Value) -> Result<RpcReply, RpcError> {
    let address: Address = str_param(params, 0, "address")?
        .parse()
        .map_err(|e| RpcError { code: 1001, message: format!("invalid address: {e}") })?;
    let tiers = &config.maturity_tiers;
    let tier = match param(params, 1, "tier") {
        None | Some(Value::Null) => tiers.len().saturating_sub(1) as u64,
        Some(v) => v.as_u64().ok_or_else(|| RpcError::invalid_params("`tier` must be a small integer"))?,
    };
    let tier = u8::try_from(tier)
        .ok()
        .filter(|t| usize::from(*t) < tiers.len())
        .ok_or_else(|| RpcError::invalid_params(format!("tier {tier} does not exist; tiers: {tiers:?}")))?;
    let genesis = genesis_hash(view).map_err(RpcError::storage)?;
    let tip = TIP
        .get(view)
        .map_err(RpcError::storage)?
        .ok_or_else(|| RpcError::storage(pc_runtime_api::ModuleError::Fatal("no tip".into())))?;
    let target = TARGET.get(view).map_err(RpcError::storage)?.unwrap_or([0; 32]);
    let header = MintHeader {
        version: 0,
        genesis,
        prev_mint: tip.id,
        height: tip.height.saturating_add(1),
        target,
        tier,
        payout: address.to_bytes(),
        nonce: 0,
    };
    // What `check` will pay: the curve, within what the cap leaves.
    let ledger = pc_module_utxo::LedgerView::open(view).map_err(RpcError::storage)?;
    let left = ledger
        .supply_cap()
        .map_err(RpcError::storage)?
        .saturating_sub(ledger.totals().map_err(RpcError::storage)?.issued);
    let reward = config.curve(header.height, tier).min(left);
    Ok(RpcReply::Value(json!({
        "header": hex::encode(header.encode()),
        "nonce_offset": header.nonce_offset(),
        "height": header.height,
        "prev_mint": tip.id,
        "target": hex::encode(target),
        "tier": tier,
        "maturity_anchors": tiers.get(usize::from(tier)),
        "reward": reward,
    })))
}

fn submit(params: &Value) -> Result<RpcReply, RpcError> {
    submit_param::<MintHeader>(params, "header", 1024, "a mint header")
}

fn status(view: &ModuleView<'_>, params: &Value) -> Result<RpcReply, RpcError> {
    let id = hash_param(params, 0, "id")?;
    Ok(RpcReply::Value(match MINTS.get(view, &id).map_err(RpcError::storage)? {
        Some(m) => {
            // The output the mint created (none for a mint at the cap that paid nothing).
            let op = (m.reward > 0).then(|| pc_module_utxo::module_outpoint(crate::NAME, &id, 0));
            json!({
                "status": "finalized",
                "anchor": m.anchor,
                "height": m.height,
                "reward": m.reward,
                "tier": m.tier,
                "spendable_from_anchor": m.spendable_from,
                "outpoint": op.map(|op| json!({ "txid": op.tx.to_hex(), "index": op.index })),
            })
        }
        None => json!({ "status": "unknown" }),
    }))
}
