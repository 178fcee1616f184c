//! The JSON-RPC server. Error codes: `docs/rpc.md`.

use crate::NodeCtx;
use jsonrpsee::core::SubscriptionError;
use jsonrpsee::server::{PendingSubscriptionSink, RpcModule, Server, ServerConfig, ServerHandle};
use jsonrpsee::types::{ErrorObjectOwned, Params};
use pc_codec::Hash32;
use pc_mempool::{PoolStatus, SubmitError};
use pc_runtime::{CallOutcome, Runtime};
use pc_runtime_api::{Call, RpcReply};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;

/// A transaction (call) was refused by its module; `data.code` names the rule.
pub const REJECTED: i32 = 1010;
/// It spends what a pending transaction already spends.
pub const CONFLICT: i32 = 1011;
/// The mempool is full of better-paying transactions.
pub const POOL_FULL: i32 = 1012;
/// Already pending or finalized.
pub const ALREADY_KNOWN: i32 = 1013;
/// Nothing with that id is known.
pub const NOT_FOUND: i32 = 1020;
/// The node failed internally (see its log).
pub const INTERNAL: i32 = -32603;
/// Largest request body.
pub const MAX_REQUEST_BYTES: u32 = 1 << 20;

fn err(code: i32, message: impl Into<String>, data: Option<Value>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(code, message, data)
}

fn internal(e: impl std::fmt::Display) -> ErrorObjectOwned {
    err(INTERNAL, e.to_string(), None)
}

fn submit_error(e: SubmitError) -> ErrorObjectOwned {
    let msg = e.to_string();
    match e {
        SubmitError::Invalid { code, .. } => err(REJECTED, msg, Some(json!({ "code": code }))),
        SubmitError::Conflict { with } => err(CONFLICT, msg, Some(json!({ "code": "mempool.conflict", "with": with }))),
        SubmitError::Full { .. } => err(POOL_FULL, msg, Some(json!({ "code": "mempool.full" }))),
        SubmitError::Duplicate => err(ALREADY_KNOWN, msg, Some(json!({ "code": "mempool.duplicate" }))),
        SubmitError::Finalized(a) => err(ALREADY_KNOWN, msg, Some(json!({ "code": "mempool.finalized", "anchor": a }))),
        SubmitError::Internal(_) => err(INTERNAL, msg, None),
    }
}

fn anchor_param(params: &Params<'_>) -> Result<u64, ErrorObjectOwned> {
    params
        .one()
        .map_err(|e| err(jsonrpsee::types::error::INVALID_PARAMS_CODE, format!("expected [anchor index]: {e}"), None))
}

fn id_param(params: &Params<'_>) -> Result<Hash32, ErrorObjectOwned> {
    let s: String = params.one()?;
    Hash32::from_hex(&s).map_err(|e| err(-32602, format!("id must be 64 hex characters: {e}"), None))
}

/// Most faults one `chain_getEvidence` answer lists; pass the last key to read on.
pub const MAX_FAULTS_PER_PAGE: usize = 100;

fn fault_json(k: &pc_runtime::KnownFault) -> Value {
    use parity_scale_codec::Encode;
    let pc_runtime_api::Evidence::Equivocation { first, second } = &k.evidence;
    json!({
        "key": k.fault.key(),
        "kind": "equivocation",
        "shard": k.fault.shard,
        "epoch": k.fault.epoch,
        "seat": k.fault.seat,
        "seq": k.fault.seq,
        "anchor": k.anchor,
        "first": hex::encode(first.encode()),
        "second": hex::encode(second.encode()),
    })
}

/// `{status, …}` of a call key: pending, finalized at an anchor, rejected (with code and
/// reason), or unknown.
fn status_of(ctx: &NodeCtx, key: &Hash32) -> Result<Value, ErrorObjectOwned> {
    // The pool is read first: a call leaves it only after its anchor is committed, so a call
    // gone from the pool is always found in the call index below. Read the other way round,
    // a call finalized between the two reads would show as unknown.
    let pool = ctx.mempool.status(key);
    if let Some(rec) = Runtime::call_record(&ctx.db, key).map_err(internal)?
        // A dropped copy (a broken witness under the same id) leaves the valid call pending.
        && !(matches!(rec.outcome, CallOutcome::Dropped { .. }) && pool == Some(PoolStatus::Pending))
    {
        return Ok(match rec.outcome {
            CallOutcome::Applied => json!({ "status": "finalized", "anchor": rec.anchor }),
            CallOutcome::Dropped { code, reason } => {
                json!({ "status": "rejected", "anchor": rec.anchor, "code": code, "reason": reason })
            }
        });
    }
    Ok(match pool {
        Some(PoolStatus::Pending) => json!({ "status": "pending" }),
        Some(PoolStatus::Rejected { code, reason }) => json!({ "status": "rejected", "code": code, "reason": reason }),
        None => json!({ "status": "unknown" }),
    })
}

fn chain_info(ctx: &NodeCtx) -> Result<Value, ErrorObjectOwned> {
    let head = ctx.db.head().map_err(internal)?.ok_or_else(|| internal("no genesis committed"))?;
    let spec = ctx.rt.spec();
    let (pending, pending_bytes) = ctx.mempool.size();
    Ok(json!({
        "chain": spec.id,
        "name": spec.name,
        "network_id": spec.network_id,
        "genesis_hash": ctx.rt.genesis_hash(),
        "best_finalized_anchor": head.anchor,
        "best_anchor_id": head.anchor_id,
        "state_root": head.state_root,
        "modules": ctx.rt.module_names(),
        "mempool": { "pending": pending, "bytes": pending_bytes },
        "consensus": {
            "epoch": ctx.metrics.consensus_epoch.get(),
            "events_accepted": ctx.metrics.events.get(),
            "own_events": ctx.metrics.own_events.get(),
            "events_in_memory": ctx.metrics.consensus_events_in_memory.get(),
            "engine_bytes": ctx.metrics.consensus_engine_bytes.get(),
        },
    }))
}

async fn finalized_subscription(pending: PendingSubscriptionSink, ctx: Arc<NodeCtx>) -> Result<(), SubscriptionError> {
    let mut rx = ctx.finalized.subscribe();
    let sink = pending.accept().await?;
    loop {
        tokio::select! {
            _ = sink.closed() => return Ok(()),
            r = rx.recv() => match r {
                Ok(notice) => sink.send(serde_json::value::to_raw_value(&notice)?).await?,
                // A slow subscriber skips anchors rather than stall the node.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return Ok(()),
            }
        }
    }
}

/// Which module events a subscription wants: all when a field is absent.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct EventFilter {
    module: Option<String>,
    name: Option<String>,
}

impl EventFilter {
    /// `[]`, `[filter]` or `{filter}`; anything more is refused.
    fn from_params(params: &Params<'_>) -> Result<EventFilter, ErrorObjectOwned> {
        if params.is_object() {
            return params.parse();
        }
        let mut seq = params.sequence();
        let filter: Option<EventFilter> = seq.optional_next()?;
        if seq.optional_next::<Value>()?.is_some() {
            return Err(err(jsonrpsee::types::error::INVALID_PARAMS_CODE, "expected at most one filter", None));
        }
        Ok(filter.unwrap_or_default())
    }

    fn wants(&self, e: &crate::EventNotice) -> bool {
        self.module.as_ref().is_none_or(|m| *m == e.module) && self.name.as_ref().is_none_or(|n| *n == e.name)
    }
}

async fn events_subscription(
    pending: PendingSubscriptionSink,
    ctx: Arc<NodeCtx>,
    filter: EventFilter,
) -> Result<(), SubscriptionError> {
    let mut rx = ctx.events.subscribe();
    let sink = pending.accept().await?;
    loop {
        tokio::select! {
            _ = sink.closed() => return Ok(()),
            r = rx.recv() => match r {
                Ok(e) if filter.wants(&e) => sink.send(serde_json::value::to_raw_value(&e)?).await?,
                Ok(_) => {}
                // A slow subscriber loses events rather than stall the node, and is told so:
                // `chain_getEvents` reads the anchors it missed back.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    sink.send(serde_json::value::to_raw_value(&json!({ "lagged": n }))?).await?
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return Ok(()),
            }
        }
    }
}

/// Builds every method: the node's own and each module's.
pub fn module(ctx: Arc<NodeCtx>) -> Result<RpcModule<NodeCtx>, jsonrpsee::core::RegisterMethodError> {
    let mut m = RpcModule::from_arc(ctx.clone());
    m.register_method("chain_getInfo", |_, ctx, _| chain_info(ctx))?;
    m.register_method("chain_getAnchor", |params, ctx, _| {
        let index = anchor_param(&params)?;
        let rec = Runtime::anchor_record(&ctx.db, index)
            .map_err(internal)?
            .ok_or_else(|| err(NOT_FOUND, format!("no finalized anchor {index}"), None))?;
        Ok::<Value, ErrorObjectOwned>(json!({
            "index": rec.index,
            "anchor_id": rec.anchor_id,
            "state_root": rec.state_root,
            "events_root": rec.events_root,
            "lamport": rec.consensus_time.lamport,
        }))
    })?;
    m.register_method("chain_getCommittee", |params, ctx, _| {
        let mut seq = params.sequence();
        let anchor: Option<u64> = seq.optional_next()?;
        let head = ctx.db.head().map_err(internal)?.map_or(0, |h| h.anchor);
        let anchor = anchor.unwrap_or(head + 1);
        let c = ctx.rt.committee(&ctx.db, anchor).map_err(internal)?.ok_or_else(|| {
            err(NOT_FOUND, format!("no committee for the epoch of anchor {anchor}: not decided yet, or pruned"), None)
        })?;
        let seats: Vec<Value> = c
            .seats
            .iter()
            .enumerate()
            .map(|(i, s)| json!({ "seat": i, "key": hex::encode(s.key), "meta": hex::encode(&s.meta) }))
            .collect();
        Ok::<Value, ErrorObjectOwned>(json!({ "epoch": c.epoch, "decided_at": c.decided_at, "seats": seats }))
    })?;
    m.register_method("chain_getEvents", |params, ctx, _| {
        let index = anchor_param(&params)?;
        if Runtime::anchor_record(&ctx.db, index).map_err(internal)?.is_none() {
            return Err(err(NOT_FOUND, format!("no finalized anchor {index}"), None));
        }
        let events = Runtime::anchor_events(&ctx.db, index).map_err(internal)?;
        Ok::<Value, ErrorObjectOwned>(json!(events.iter().map(crate::EventNotice::from).collect::<Vec<_>>()))
    })?;
    m.register_method("chain_getEvidence", |params, ctx, _| {
        let mut seq = params.sequence();
        let from: Option<String> = seq.optional_next()?;
        let from = from
            .map(|s| Hash32::from_hex(&s))
            .transpose()
            .map_err(|e| err(-32602, format!("`after` must be a fault key, 64 hex characters: {e}"), None))?;
        let faults = Runtime::known_faults(&ctx.db, from.as_ref(), MAX_FAULTS_PER_PAGE).map_err(internal)?;
        Ok::<Value, ErrorObjectOwned>(json!(faults.iter().map(fault_json).collect::<Vec<_>>()))
    })?;
    m.register_method("tx_status", |params, ctx, _| {
        let key = id_param(&params)?;
        status_of(ctx, &key)
    })?;
    m.register_method("tx_get", |params, ctx, _| {
        let key = id_param(&params)?;
        let call = match Runtime::call_record(&ctx.db, &key).map_err(internal)? {
            Some(rec) => rec.call,
            None => ctx.mempool.get(&key).ok_or_else(|| err(NOT_FOUND, format!("no transaction {key}"), None))?,
        };
        Ok::<Value, ErrorObjectOwned>(json!({
            "id": key,
            "module": call.module,
            "hex": hex::encode(&call.data),
            "status": status_of(ctx, &key)?,
        }))
    })?;
    m.register_subscription(
        "chain_subscribeFinalized",
        "chain_finalized",
        "chain_unsubscribeFinalized",
        |_, pending, ctx, _| finalized_subscription(pending, ctx),
    )?;
    m.register_subscription(
        "chain_subscribeEvents",
        "chain_event",
        "chain_unsubscribeEvents",
        |params, pending, ctx, _| async move {
            match EventFilter::from_params(&params) {
                Ok(filter) => events_subscription(pending, ctx, filter).await,
                Err(e) => {
                    pending.reject(e).await;
                    Ok(())
                }
            }
        },
    )?;
    for (module, method) in ctx.rt.rpc_methods() {
        let handler = Arc::new(method.handler);
        m.register_blocking_method(method.name, move |params, ctx, _| {
            let value: Value = params.parse().unwrap_or(Value::Null);
            let handler = handler.clone();
            let reply = ctx.rt.with_view(&ctx.db, module, |view| handler(view, value)).map_err(internal)?;
            match reply.map_err(|e| err(e.code, e.message, None))? {
                RpcReply::Value(v) => Ok::<Value, ErrorObjectOwned>(v),
                RpcReply::Submit(data) => {
                    let call = Call { module: module.to_string(), data };
                    let t = std::time::Instant::now();
                    let submitted = ctx.mempool.submit(&ctx.rt, &ctx.db, call);
                    pc_metrics::Metrics::observe(&ctx.metrics.tx_admission, t.elapsed());
                    let key = submitted.map_err(submit_error)?;
                    ctx.note_new_tx(key);
                    Ok(json!(key))
                }
            }
        })?;
    }
    Ok(m)
}

/// Serves HTTP and WebSocket JSON-RPC on `addr` (127.0.0.1 by default; port 0 picks a free
/// one). Keep the handle: dropping it stops the server.
pub async fn serve(ctx: Arc<NodeCtx>, addr: SocketAddr) -> Result<(SocketAddr, ServerHandle), crate::ServiceError> {
    let cfg = ServerConfig::builder().max_request_body_size(MAX_REQUEST_BYTES).build();
    let server =
        Server::builder().set_config(cfg).build(addr).await.map_err(|e| crate::ServiceError::Rpc(e.to_string()))?;
    let local = server.local_addr().map_err(|e| crate::ServiceError::Rpc(e.to_string()))?;
    let methods = module(ctx).map_err(|e| crate::ServiceError::Rpc(e.to_string()))?;
    Ok((local, server.start(methods)))
}
