//! `bonding_getBond`, `bonding_bondsOf`, `bonding_submit` (docs/spec/modules/bonding.md §7).

use crate::{BondRecord, BondState, BondingCall, BondsView, MAX_CALL};
use pc_runtime_api::codec::Hash32;
use pc_runtime_api::{ModuleView, RpcError, RpcMethod, RpcReply, hash_param, submit_param};
use pc_utxo_tx::Address;
use serde_json::{Value, json};

pub(crate) fn methods(slash_window: u64) -> Vec<RpcMethod> {
    vec![
        RpcMethod {
            name: "bonding_getBond",
            handler: Box::new(move |view: &ModuleView<'_>, p: Value| get_bond(view, &p, slash_window)),
        },
        RpcMethod {
            name: "bonding_bondsOf",
            handler: Box::new(move |view: &ModuleView<'_>, p: Value| bonds_of(view, &p, slash_window)),
        },
        RpcMethod { name: "bonding_submit", handler: Box::new(|_: &ModuleView<'_>, p: Value| submit(&p)) },
    ]
}

/// A bond as JSON. `withdrawable_from` is the first anchor a `Withdraw` may be in as things
/// stand: `release_at`, or later while the seat keeps serving (its slash window must close).
pub fn bond_json(id: &Hash32, r: &BondRecord, slash_window: u64) -> Value {
    let (active_at, release_at) = match r.state {
        BondState::Pending { active_at } => (Some(active_at), None),
        BondState::Active { since } => (Some(since), None),
        BondState::Unbonding { release_at, .. } => (None, Some(release_at)),
        BondState::Withdrawn { .. } => (None, None),
    };
    let requested_at = match r.state {
        BondState::Unbonding { requested_at, .. } => Some(requested_at),
        _ => None,
    };
    let withdrawable_from = release_at.map(|at| at.max(r.served_until.saturating_add(slash_window).saturating_add(1)));
    let payout = Address::from_bytes(&r.terms.payout).map(|a| a.to_string()).unwrap_or_default();
    json!({
        "bond": id.to_hex(),
        "state": r.state.name(),
        "value": r.value,
        "mature_from": r.mature_from,
        "bonded_at": r.bonded_at,
        "active_at": active_at,
        "requested_at": requested_at,
        "release_at": release_at,
        "withdrawable_from": withdrawable_from,
        "served_until": r.served_until,
        "slashed": r.slashed,
        "operator": hex::encode(r.terms.operator),
        "seat_key": hex::encode(r.terms.seat_key),
        "bond_key": hex::encode(r.terms.bond_key),
        "payout": payout,
        "vrf_key": hex::encode(r.terms.vrf_key.0),
        "bls_key": hex::encode(r.terms.bls_key.0),
        "outpoints": r.outpoints.iter().map(|op| json!({ "txid": op.tx.to_hex(), "index": op.index })).collect::<Vec<_>>(),
    })
}

fn get_bond(view: &ModuleView<'_>, params: &Value, slash: u64) -> Result<RpcReply, RpcError> {
    let id = hash_param(params, 0, "bond")?;
    let bonds = BondsView::open(view).map_err(RpcError::storage)?;
    Ok(RpcReply::Value(bonds.bond(&id).map_err(RpcError::storage)?.map_or(Value::Null, |r| bond_json(&id, &r, slash))))
}

fn bonds_of(view: &ModuleView<'_>, params: &Value, slash: u64) -> Result<RpcReply, RpcError> {
    let key = hash_param(params, 0, "key")?;
    let bonds = BondsView::open(view).map_err(RpcError::storage)?;
    let list = bonds.bonds_of(&key.0, 256).map_err(RpcError::storage)?;
    Ok(RpcReply::Value(Value::Array(list.iter().map(|(id, r)| bond_json(id, r, slash)).collect())))
}

fn submit(params: &Value) -> Result<RpcReply, RpcError> {
    submit_param::<BondingCall>(params, "call", MAX_CALL, "a bonding call")
}
