//! The single-seat validator: mempool → event payload → engine → finalized anchor → runtime.

use crate::dag::{DagLog, DagRecord, EpochGrid};
use crate::keys::{SeatKeys, SeatSigner};
use crate::{NodeCtx, ServiceError};
use pc_codec::{Encode, Hash32, Identified, merkle};
use pc_consensus::{AnchorBatch, Config, Engine, Output, SignedEvent};
use pc_runtime_api::Call;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Coin rounds every this many election levels (as the simulator runs it).
const COIN_PERIOD: u64 = 8;

/// How the producer paces itself.
#[derive(Debug, Clone, Copy)]
pub struct ProducerConfig {
    /// Time between two events (wall clock paces production only; nothing consensus-relevant
    /// depends on it).
    pub interval: Duration,
    /// Largest payload of one event, in bytes.
    pub max_payload_bytes: usize,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig { interval: Duration::from_millis(250), max_payload_bytes: 4 << 20 }
    }
}

/// The validator state of a single seat.
pub struct Producer {
    ctx: Arc<NodeCtx>,
    cfg: ProducerConfig,
    engine: Engine,
    key: SeatSigner,
    verifier: SeatKeys,
    /// The event of the current slot, built and persisted but not signed yet.
    unsigned: Option<DagRecord>,
    /// Our last persisted seq in this epoch.
    last_seq: u64,
    /// When each unfinalized event was accepted (for the finality-latency histogram).
    accepted_at: std::collections::HashMap<Hash32, std::time::Instant>,
    log: DagLog,
    grid: EpochGrid,
    /// Payloads of events not finalized yet.
    payloads: BTreeMap<Hash32, Vec<Call>>,
    max_calls: usize,
    /// True while persisted events are re-inserted at start: only then may an anchor the
    /// state already holds come out of the engine.
    replaying: bool,
}

impl std::fmt::Debug for Producer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer").field("stats", &self.engine.stats()).finish()
    }
}

/// The Merkle root over a payload's call ids (the event's `payload_root`).
pub fn payload_root(calls: &[Call]) -> Hash32 {
    let leaves: Vec<Hash32> = calls.iter().map(|c| merkle::leaf_hash(&c.id().0)).collect();
    merkle::root(&leaves)
}

impl Producer {
    /// Builds the engine and replays every persisted event, applying finalized anchors the
    /// state does not have yet (the anchors a crash interrupted).
    pub fn start(ctx: Arc<NodeCtx>, key: SeatSigner, cfg: ProducerConfig) -> Result<Self, ServiceError> {
        let c = &ctx.rt.spec().constants;
        if c.committee_size != 1 {
            return Err(ServiceError::NoSeat(format!(
                "this chain has {} seats; producing events for more than one seat needs the network layer",
                c.committee_size
            )));
        }
        let head = ctx.db.head()?.map_or(0, |h| h.anchor);
        let grid = c.windows.epoch_grid();
        let (log, records, first_anchor_index) = DagLog::open(ctx.db.kv().clone(), head, grid, true, ctx.dag_store())?;
        let engine = Self::engine(c.max_parents, first_anchor_index)?;
        ctx.metrics.consensus_epoch.set(i64::try_from(first_anchor_index).unwrap_or(i64::MAX));
        let verifier = SeatKeys(vec![key.public_key()]);
        let max_calls = usize::try_from(c.max_event_txs).unwrap_or(usize::MAX);
        let mut p = Producer {
            ctx,
            cfg,
            engine,
            key,
            verifier,
            log,
            grid,
            unsigned: None,
            last_seq: 0,
            accepted_at: std::collections::HashMap::new(),
            payloads: BTreeMap::new(),
            max_calls,
            replaying: true,
        };
        let replayed = records.len();
        for r in records {
            if r.event.event.epoch != p.engine.epoch() {
                continue; // the epoch ended during replay: the rest will never finalize
            }
            p.last_seq = r.event.event.seq;
            if payload_root(&r.payload) != r.event.event.payload_root {
                return Err(ServiceError::Consensus(format!(
                    "persisted event {} does not match its payload",
                    r.event.event.id()
                )));
            }
            p.insert(r)?;
        }
        p.replaying = false;
        tracing::info!(target: "pc::node", events = replayed, head = ?p.head()?, "consensus state rebuilt from the persisted DAG");
        // The event of the next slot, if a crash came between building and persisting it.
        let (epoch, next_seq) = (p.engine.epoch(), p.last_seq + 1);
        p.unsigned = p.log.unsigned()?.filter(|r| r.event.event.epoch == epoch && r.event.event.seq == next_seq);
        Ok(p)
    }

    fn engine(max_parents: u8, first_anchor_index: u64) -> Result<Engine, ServiceError> {
        Engine::new(Config { shard: 0, seats: 1, max_parents, coin_period: COIN_PERIOD, first_anchor_index })
            .map_err(|e| ServiceError::Consensus(e.to_string()))
    }

    fn head(&self) -> Result<u64, ServiceError> {
        Ok(self.ctx.db.head()?.map_or(0, |h| h.anchor))
    }

    /// Creates, persists and inserts one event carrying the best pending calls, then applies
    /// whatever it finalized.
    ///
    /// The event is persisted unsigned before it goes to the signer and is offered again until
    /// signed, so a signer that is down (or a crash) pauses production without changing the
    /// event of the slot.
    pub fn step(&mut self) -> Result<(), ServiceError> {
        let _span = tracing::debug_span!(target: "pc::consensus", "own_event").entered();
        let mut record = match self.unsigned.take() {
            Some(r) => r,
            None => {
                // A quiet chain (consensus.md §12): nothing waiting and nothing unfinalized
                // to order, so no event.
                if self.ctx.mempool.size().0 == 0 && self.payloads.values().all(Vec::is_empty) {
                    return Ok(());
                }
                let selected =
                    self.ctx.mempool.select(&self.ctx.rt, &self.ctx.db, self.max_calls, self.cfg.max_payload_bytes);
                let payload: Vec<Call> = selected.iter().map(|(_, c)| c.clone()).collect();
                let len = u32::try_from(payload.encoded_size()).unwrap_or(u32::MAX);
                let event = self
                    .engine
                    .next_event(0, payload_root(&payload), len)
                    .ok_or_else(|| ServiceError::Consensus("the engine cannot create an event".into()))?;
                let r = DagRecord { event: SignedEvent { event, sig: [0; 64] }, payload };
                self.log.save_unsigned(&r)?;
                r
            }
        };
        match self.key.sign(&record.event.event) {
            Ok(sig) => record.event.sig = sig,
            Err(e) => {
                self.unsigned = Some(record);
                return Err(e);
            }
        }
        self.log.append(&record)?;
        self.last_seq = record.event.event.seq;
        self.ctx.metrics.own_events.inc();
        self.ctx.observe_mempool();
        self.insert(record)
    }

    fn insert(&mut self, r: DagRecord) -> Result<(), ServiceError> {
        let id = r.event.event.id();
        self.payloads.insert(id, r.payload);
        let timed = crate::keys::Timed { inner: &self.verifier, hist: &self.ctx.metrics.sig_verify };
        let outs = self.engine.insert(r.event, &timed).map_err(|e| ServiceError::Consensus(e.to_string()))?;
        if !self.replaying {
            self.ctx.metrics.events.inc();
            self.accepted_at.insert(id, std::time::Instant::now());
        }
        let end = self.grid.end_of(self.engine.epoch());
        for o in outs {
            match o {
                Output::Finalized(batch) if batch.index < end => self.apply(batch)?,
                Output::Finalized(batch) if batch.index == end => {
                    self.apply(batch)?;
                    return self.next_epoch(end);
                }
                Output::Finalized(_) => {}
                Output::Equivocation(e) => {
                    tracing::warn!(target: "pc::consensus", seat = e.first.event.creator, seq = e.first.event.seq, "equivocation");
                    self.ctx.submit_evidence(&e);
                }
            }
        }
        Ok(())
    }

    /// After the epoch's last anchor (consensus.md §11): a fresh engine and log for the next
    /// epoch; the old one's unfinalized events will never finalize, so what they carried is
    /// offered again.
    fn next_epoch(&mut self, end: u64) -> Result<(), ServiceError> {
        let first = end + 1;
        self.engine = Self::engine(self.ctx.rt.spec().constants.max_parents, first)?;
        // A single seat serves no peer: only the new epoch stays on disk.
        self.log.switch(first, first, Vec::new())?;
        // Calls of unfinalized events go back to the pool (a restart may have lost them there).
        for call in std::mem::take(&mut self.payloads).into_values().flatten() {
            let _ = self.ctx.mempool.submit(&self.ctx.rt, &self.ctx.db, call);
        }
        self.accepted_at.clear();
        self.last_seq = 0;
        self.unsigned = None;
        self.ctx.mempool.release_reserved();
        self.ctx.metrics.consensus_epoch.set(i64::try_from(first).unwrap_or(i64::MAX));
        tracing::info!(target: "pc::consensus", epoch = first, ends_at = self.grid.end_of(first), "new consensus epoch");
        Ok(())
    }

    fn apply(&mut self, batch: AnchorBatch) -> Result<(), ServiceError> {
        let mut calls = Vec::new();
        for id in &batch.events {
            calls.extend(self.payloads.remove(id).unwrap_or_default());
        }
        crate::anchor::apply(&self.ctx, &batch, calls, self.replaying)?;
        for id in &batch.events {
            if let Some(t) = self.accepted_at.remove(id) {
                pc_metrics::Metrics::observe(&self.ctx.metrics.finality_latency, t.elapsed());
            }
        }
        Ok(())
    }

    /// Runs [`step`](Self::step) every interval on its own thread until `stop` is set.
    pub fn spawn(mut self, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Result<(), ServiceError>> {
        std::thread::spawn(move || {
            let slice = Duration::from_millis(10).min(self.cfg.interval);
            while !stop.load(Ordering::Relaxed) {
                match self.step() {
                    Ok(()) => {}
                    Err(ServiceError::Signer(why)) => {
                        tracing::warn!(target: "pc::node", %why, "event not signed; production paused, retrying")
                    }
                    Err(e) => return Err(e),
                }
                let mut waited = Duration::ZERO;
                while waited < self.cfg.interval && !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(slice);
                    waited += slice;
                }
            }
            Ok(())
        })
    }
}
