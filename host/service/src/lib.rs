//! The node service: what turns a runtime and a database into a running chain.
//!
//! - [`replica`]: the one node driver. A validator batches mempool calls into event payloads,
//!   signs events with its seat key, feeds them to the consensus engine and applies every
//!   finalized anchor through the hook chain in one atomic commit; a full node follows
//!   finality without a seat. It runs over [`pc_net`] (libp2p), or alone for a single-seat
//!   development chain. At every epoch end it switches to the committee the chain state
//!   holds. Events and payloads are persisted before insertion, so after a crash the engine
//!   is rebuilt by replay and resumes at the last committed anchor.
//! - [`rpc`]: the JSON-RPC server (jsonrpsee, HTTP and WebSocket on one port): the chain and
//!   transaction methods plus every enabled module's own methods.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod anchor;
mod cache;
pub mod dag;
mod error;
pub mod keys;
pub mod replica;
pub mod rpc;

pub use error::ServiceError;

use pc_mempool::Mempool;
use pc_runtime::Runtime;
use pc_state::StateDb;
use std::sync::Arc;

/// A finalized anchor, as subscribers see it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FinalizedNotice {
    /// Global anchor index.
    pub anchor: u64,
    /// Anchor id.
    pub anchor_id: String,
    /// State root after it.
    pub state_root: String,
    /// Calls it finalized.
    pub calls: u32,
    /// Calls it dropped.
    pub dropped: u32,
}

/// A module event of a finalized anchor, as subscribers see it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EventNotice {
    /// Global anchor index.
    pub anchor: u64,
    /// Position among the anchor's events (emission order across the hook chain).
    pub index: u32,
    /// Emitting module.
    pub module: String,
    /// Event type name.
    pub name: String,
    /// SCALE-encoded body, hex.
    pub data: String,
}

impl From<&pc_runtime::EventRecord> for EventNotice {
    fn from(e: &pc_runtime::EventRecord) -> Self {
        EventNotice {
            anchor: e.anchor,
            index: e.index,
            module: e.module.clone(),
            name: e.name.clone(),
            data: hex::encode(&e.data),
        }
    }
}

/// What every part of the node shares.
#[derive(Debug)]
pub struct NodeCtx {
    /// The enabled modules.
    pub rt: Runtime,
    /// The database.
    pub db: StateDb,
    /// Pending calls.
    pub mempool: Mempool,
    /// Finalized anchors, for subscribers.
    pub finalized: tokio::sync::broadcast::Sender<FinalizedNotice>,
    /// Module events of finalized anchors, for subscribers.
    pub events: tokio::sync::broadcast::Sender<EventNotice>,
    /// Transactions admitted through RPC since the network last announced (call keys).
    new_txs: std::sync::Mutex<Vec<pc_codec::Hash32>>,
    /// Every exported series.
    pub metrics: Arc<pc_metrics::Metrics>,
    /// Header and payload cache sizes.
    pub caches: dag::CacheCaps,
}

impl NodeCtx {
    /// Shares a runtime, database and mempool.
    pub fn new(rt: Runtime, db: StateDb, mempool: Mempool) -> Arc<Self> {
        Self::with(rt, db, mempool, Arc::new(pc_metrics::Metrics::new()), dag::CacheCaps::default())
    }

    /// Like [`new`](Self::new), with the node's metrics registry and cache sizes.
    pub fn with(
        rt: Runtime,
        db: StateDb,
        mempool: Mempool,
        metrics: Arc<pc_metrics::Metrics>,
        caches: dag::CacheCaps,
    ) -> Arc<Self> {
        let (finalized, _) = tokio::sync::broadcast::channel(1024);
        let (events, _) = tokio::sync::broadcast::channel(4096);
        if let Ok(Some(head)) = db.head() {
            metrics.best_anchor.set(i64::try_from(head.anchor).unwrap_or(i64::MAX));
        }
        Arc::new(NodeCtx {
            rt,
            db,
            mempool,
            finalized,
            events,
            new_txs: std::sync::Mutex::new(Vec::new()),
            metrics,
            caches,
        })
    }

    /// Opens the persisted DAG's reader with this node's caches and metrics.
    pub fn dag_store(&self) -> dag::DagStore {
        dag::DagStore::new(self.db.kv().clone(), self.caches, self.metrics.clone())
    }

    /// Sets the mempool gauges.
    pub fn observe_mempool(&self) {
        let (pending, bytes) = self.mempool.size();
        self.metrics.mempool_pending.set(i64::try_from(pending).unwrap_or(i64::MAX));
        self.metrics.mempool_bytes.set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }

    /// Turns an equivocation the engine saw into an evidence call in the mempool, announced
    /// to peers like a transaction (docs/runtime-api.md §12). A fault already recorded or
    /// already pending needs nothing more.
    pub fn submit_evidence(&self, e: &pc_consensus::Equivocation) {
        use parity_scale_codec::Encode;
        let evidence = pc_runtime_api::Evidence::Equivocation { first: e.first.clone(), second: e.second.clone() };
        let call = pc_runtime_api::Call { module: pc_runtime_api::EVIDENCE_TARGET.into(), data: evidence.encode() };
        let (seat, seq) = (e.first.event.creator, e.first.event.seq);
        match self.mempool.submit(&self.rt, &self.db, call) {
            Ok(key) => {
                self.note_new_tx(key);
                tracing::info!(target: "pc::node", seat, seq, %key, "equivocation evidence submitted");
            }
            Err(pc_mempool::SubmitError::Duplicate | pc_mempool::SubmitError::Finalized(_)) => {}
            Err(pc_mempool::SubmitError::Invalid { code, .. }) if code == "evidence.known" => {}
            Err(err) => tracing::warn!(target: "pc::node", seat, seq, %err, "equivocation evidence not submitted"),
        }
    }

    /// Notes a transaction admitted locally, for the next announcement to peers.
    pub fn note_new_tx(&self, key: pc_codec::Hash32) {
        if let Ok(mut v) = self.new_txs.lock()
            && v.len() < pc_net::wire::MAX_IDS
        {
            v.push(key);
        }
    }

    /// Takes the transactions noted since the last call.
    pub fn take_new_txs(&self) -> Vec<pc_codec::Hash32> {
        self.new_txs.lock().map(|mut v| std::mem::take(&mut *v)).unwrap_or_default()
    }
}
