//! Applying a finalized anchor: the one step every validator and full node shares.

use crate::{FinalizedNotice, NodeCtx, ServiceError};
use pc_codec::{ConsensusTime, Identified};
use pc_consensus::AnchorBatch;
use pc_runtime::AnchorInput;
use pc_runtime_api::{Ack, AnchorCtx, Call};

/// Applies `batch` with its `calls` (in total order) in one atomic commit, clears them from the
/// mempool and notifies subscribers. An anchor the state already holds is skipped: one
/// committed before a restart (`replaying`), or one from before the snapshot a node was
/// restored from, which the node finalizes again while it joins the running epoch
/// (consensus.md §11). Where the state still has that anchor's record, the ids must match:
/// a different anchor at a held index means this node's DAG disagrees with its own past.
pub(crate) fn apply(ctx: &NodeCtx, batch: &AnchorBatch, calls: Vec<Call>, replaying: bool) -> Result<(), ServiceError> {
    let _span =
        tracing::info_span!(target: "pc::node", "apply_anchor", index = batch.index, calls = calls.len()).entered();
    let head = ctx.db.head()?.map_or(0, |h| h.anchor);
    if batch.index <= head {
        if let Some(held) = pc_runtime::Runtime::anchor_record(&ctx.db, batch.index)?
            && held.anchor_id != batch.anchor
        {
            return Err(ServiceError::Consensus(format!(
                "the engine finalized anchor {} as {} but the state holds {} there",
                batch.index, batch.anchor, held.anchor_id
            )));
        }
        if replaying {
            // Committed before the restart: its calls are done.
            let (mut applied, mut dropped) = (Vec::new(), Vec::new());
            for c in &calls {
                let key = ctx.rt.call_key(c);
                match pc_runtime::Runtime::call_record(&ctx.db, &key)? {
                    Some(r) if r.outcome == pc_runtime::CallOutcome::Applied => applied.push(key),
                    _ => dropped.push((key, c.id())),
                }
            }
            ctx.mempool.finalized(&applied, &dropped, &[]);
        } else {
            // Finalized again after a restore: the state cannot confirm these calls, so they
            // stay pending; one that was applied fails its checks and is dropped then.
            tracing::debug!(target: "pc::node", anchor = batch.index, head, "anchor already in the state: skipped");
        }
        return Ok(());
    }
    let actx = AnchorCtx {
        shard: batch.shard,
        index: batch.index,
        anchor_id: batch.anchor,
        consensus_time: ConsensusTime { anchor: batch.index, lamport: batch.lamport },
        epoch: batch.epoch,
        creator: batch.creator,
        creators: batch.creators,
        acks: batch.acks.iter().map(|&(seat, distance)| Ack { seat, distance }).collect(),
    };
    let outcome = ctx.rt.apply_anchor(&ctx.db, &AnchorInput { ctx: actx, calls })?;
    ctx.mempool.finalized(&outcome.applied, &outcome.dropped, &outcome.consumed);
    let r = &outcome.record;
    ctx.metrics.finalized_anchors.inc();
    ctx.metrics.best_anchor.set(i64::try_from(r.index).unwrap_or(i64::MAX));
    tracing::debug!(target: "pc::node", anchor = r.index, calls = r.calls, dropped = r.dropped, root = %r.state_root, "anchor finalized");
    // No subscriber is not an error.
    for e in &outcome.events {
        let _ = ctx.events.send(e.into());
    }
    let _ = ctx.finalized.send(FinalizedNotice {
        anchor: r.index,
        anchor_id: r.anchor_id.to_hex(),
        state_root: r.state_root.to_hex(),
        calls: r.calls,
        dropped: r.dropped,
    });
    Ok(())
}
