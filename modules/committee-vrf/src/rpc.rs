//! `committee_current`, `committee_next`, `committee_candidacy`, `committee_seed`,
//! `committee_submit` (docs/spec/modules/committee-vrf.md §6).

use crate::{CANDIDACIES, COOLDOWN, CommitteeCall, CommitteeVrf, Ineligible, LAST_SEEN, MAX_CALL, SEEDS, seat_bond};
use pc_module_bonding::BondsView;
use pc_runtime_api::codec::Hash32;
use pc_runtime_api::{ModuleView, RpcError, RpcMethod, RpcReply, hash_param, param, submit_param};
use serde_json::{Value, json};
use std::sync::Arc;

pub(crate) fn methods(m: Arc<CommitteeVrf>) -> Vec<RpcMethod> {
    let (a, b, c) = (m.clone(), m.clone(), m.clone());
    vec![
        RpcMethod { name: "committee_current", handler: Box::new(move |v: &ModuleView<'_>, _p: Value| current(&a, v)) },
        RpcMethod { name: "committee_next", handler: Box::new(move |v: &ModuleView<'_>, _p: Value| next(&b, v)) },
        RpcMethod {
            name: "committee_candidacy",
            handler: Box::new(move |v: &ModuleView<'_>, p: Value| candidacy(&c, v, &p)),
        },
        RpcMethod { name: "committee_seed", handler: Box::new(move |v: &ModuleView<'_>, p: Value| seed(&m, v, &p)) },
        RpcMethod { name: "committee_submit", handler: Box::new(|_: &ModuleView<'_>, p: Value| submit(&p)) },
    ]
}

fn current(m: &CommitteeVrf, view: &ModuleView<'_>) -> Result<RpcReply, RpcError> {
    let anchor = view.next_anchor().saturating_sub(1).max(1);
    let Some(c) = view.committee(anchor, m.grid.r).map_err(RpcError::storage)? else {
        return Ok(RpcReply::Value(Value::Null));
    };
    let bonds = BondsView::open(view).map_err(RpcError::storage)?;
    let mut seats = Vec::new();
    for (i, s) in c.seats.iter().enumerate() {
        let found = seat_bond(&bonds, s).map_err(RpcError::storage)?;
        seats.push(json!({
            "seat": i,
            "key": hex::encode(s.key),
            "bond": found.as_ref().map(|(b, _)| b.to_hex()),
            "operator": found.as_ref().map(|(_, r)| hex::encode(r.terms.operator)),
        }));
    }
    Ok(RpcReply::Value(json!({ "epoch": c.epoch, "decided_at": c.decided_at, "seats": seats })))
}

fn next(m: &CommitteeVrf, view: &ModuleView<'_>) -> Result<RpcReply, RpcError> {
    let epoch = m.next_epoch(view.next_anchor());
    let seed = SEEDS.get(view, &epoch).map_err(RpcError::storage)?;
    let mut ranked: Vec<(Hash32, Hash32)> = CANDIDACIES
        .iter_prefix(view, &epoch.to_be_bytes(), None, 4096)
        .map_err(RpcError::storage)?
        .into_iter()
        .map(|((_, bond), score)| (crate::rank(score, crate::SHARD), bond))
        .collect();
    ranked.sort();
    let candidates: Vec<Value> =
        ranked.iter().enumerate().map(|(i, (_, bond))| json!({ "bond": bond.to_hex(), "rank": i })).collect();
    Ok(RpcReply::Value(json!({
        "epoch": epoch,
        "selection_at": epoch.saturating_sub(1),
        "seed": seed.map(|s| s.to_hex()),
        "candidates": candidates,
    })))
}

fn candidacy(m: &CommitteeVrf, view: &ModuleView<'_>, params: &Value) -> Result<RpcReply, RpcError> {
    // A bond id, or a seat key: the bond (not withdrawn) that holds it.
    let given = hash_param(params, 0, "bond")?;
    let bonds = BondsView::open(view).map_err(RpcError::storage)?;
    let bond = match bonds.bond(&given).map_err(RpcError::storage)? {
        Some(_) => given,
        None => bonds.bond_by_seat(&given.0).map_err(RpcError::storage)?.map_or(given, |(id, _)| id),
    };
    let epoch = m.next_epoch(view.next_anchor());
    let at = epoch.saturating_sub(1);
    let (eligible, reason) = match m.eligibility(view, &bond, epoch, at).map_err(RpcError::storage)? {
        Ok(_) => (true, None),
        Err(Ineligible::NotActive) => (false, Some("the bond is unknown or not Active".to_string())),
        Err(Ineligible::NoCandidacy) => (false, Some(format!("no candidacy for the epoch starting at {epoch}"))),
        Err(Ineligible::NotSeen) => {
            (false, Some(format!("not seen since anchor {}", at.saturating_sub(m.config.heartbeat))))
        }
        Err(Ineligible::Cooldown(until)) => (false, Some(format!("cooling down until anchor {until}"))),
    };
    Ok(RpcReply::Value(json!({
        "bond": bond.to_hex(),
        "epoch": epoch,
        "candidate": CANDIDACIES.contains(view, &(epoch.to_be_bytes(), bond)).map_err(RpcError::storage)?,
        "last_seen": LAST_SEEN.get(view, &bond).map_err(RpcError::storage)?,
        "last_event": CommitteeVrf::last_event(view, &bond).map_err(RpcError::storage)?,
        "attendance": CommitteeVrf::attendance(view, m.grid.start_of(view.next_anchor()), &bond).map_err(RpcError::storage)?,
        "cooldown_until": COOLDOWN.get(view, &bond).map_err(RpcError::storage)?,
        "eligible_at_selection": eligible,
        "reason": reason,
    })))
}

fn seed(m: &CommitteeVrf, view: &ModuleView<'_>, params: &Value) -> Result<RpcReply, RpcError> {
    let epoch = match param(params, 0, "epoch") {
        None | Some(Value::Null) => m.next_epoch(view.next_anchor()),
        Some(v) => v.as_u64().ok_or_else(|| RpcError::invalid_params("`epoch` must be an anchor index"))?,
    };
    let seed = SEEDS.get(view, &epoch).map_err(RpcError::storage)?;
    Ok(RpcReply::Value(json!({ "epoch": epoch, "seed": seed.map(|s| s.to_hex()) })))
}

fn submit(params: &Value) -> Result<RpcReply, RpcError> {
    submit_param::<CommitteeCall>(params, "call", MAX_CALL, "a committee-vrf call")
}
