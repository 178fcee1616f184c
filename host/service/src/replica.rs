//! The node driver: a validator of one seat, or a full node without one, networked or (a
//! single-seat development chain) alone.
//!
//! It keeps the engine fed from the network with the fetch rules of docs/spec/consensus.md §3
//! (pull with ancestry; retry by timer, never by duplicate; anti-entropy by heads), persists
//! every accepted event with its payload before acting on it, creates and signs its own events
//! when it holds a seat, and applies every finalized anchor in one atomic commit. All the
//! network gives it goes through the same checks: a payload must match its event's root, an
//! event must pass the engine; a peer that sends otherwise is reported to [`pc_net`]'s scoring.

use crate::dag::{DagLog, DagRecord, EpochGrid};
use crate::keys::{SeatKeys, SeatSigner};
use crate::{NodeCtx, ServiceError};
use pc_codec::{Encode, Hash32, Identified, merkle};
use pc_consensus::{AnchorBatch, Config, Engine, Fetch, InsertError, Output, SignedEvent};
use pc_crypto::XOnly;
use pc_net::{Announce, Command, EventWithPayload, Net, NetEvent, Offence, PeerId, Request, Response};
use pc_runtime_api::Call;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

const COIN_PERIOD: u64 = 8;

/// The Merkle root over a payload's call ids (the event's `payload_root`).
pub fn payload_root(calls: &[Call]) -> Hash32 {
    let leaves: Vec<Hash32> = calls.iter().map(|c| merkle::leaf_hash(&c.id().0)).collect();
    merkle::root(&leaves)
}
/// Pull attempts per missing id before giving up on it (anti-entropy still covers it).
const PULL_ATTEMPTS: u32 = 6;
/// First pull retry; doubles per attempt.
const PULL_BACKOFF: Duration = Duration::from_millis(400);
/// How often a peer (in rotation) is asked for everything above our heads.
const ANTI_ENTROPY: Duration = Duration::from_millis(1500);
/// Own events a transaction waits for the seat whose share it is before the next seat carries
/// it (that seat may be down): about 2 s at the default pace, above the finality latency.
const SHARE_PATIENCE: u32 = 20;
/// New transactions are announced in batches at most this often (20 messages a second per
/// node at most, whatever the load: peers rate-limit what they accept).
const TX_ANNOUNCE: Duration = Duration::from_millis(50);
/// How often the pending transactions no event carries yet are announced again (a pull that
/// failed, a peer that joined late, a full node whose transactions must reach a validator).
const REANNOUNCE: Duration = Duration::from_secs(3);

/// A validator that starts waits at least this long before it signs: longer than a message of
/// its own can stay in flight, so an event it signed before a crash or a wipe reaches it (or
/// nobody) before it could sign that slot again (consensus.md §10).
const START_PATIENCE: Duration = Duration::from_secs(3);
/// While waiting, every peer is asked for the seat's newest events this often.
const SEAT_HEAD_ASK: Duration = Duration::from_millis(500);
/// While waiting, what it waits for is logged this often.
const WAIT_LOG: Duration = Duration::from_secs(5);
/// Consensus epochs whose events stay on disk to serve nodes that catch up (the current one
/// and the previous one are also kept in memory).
const EPOCHS_ON_DISK: u64 = 8;

/// A validator's wait at start to learn its own newest events (the doppelganger wait).
struct Recovery {
    since: Instant,
    /// Peers that answered [`Request::SeatHead`].
    answered: std::collections::BTreeSet<PeerId>,
    /// The newest own slot any peer showed, as (epoch, seq).
    own_seen: (u64, u64),
    last_ask: Option<Instant>,
    last_log: Instant,
}

impl Recovery {
    /// A wait that starts `now`, knowing own slots up to `own_seen`.
    fn new(now: Instant, own_seen: (u64, u64)) -> Recovery {
        Recovery { since: now, answered: Default::default(), own_seen, last_ask: None, last_log: now }
    }
}

/// What one answer may still hold: a count and a byte budget ([`pc_net::wire::ANSWER_BUDGET`]).
#[derive(Default)]
struct Budget {
    items: usize,
    bytes: usize,
}

impl Budget {
    /// Takes room for one more item of `size` bytes, if there is any.
    fn take(&mut self, size: usize, max_items: usize) -> bool {
        if self.items >= max_items || self.bytes + size > pc_net::wire::ANSWER_BUDGET {
            return false;
        }
        self.items += 1;
        self.bytes += size;
        true
    }
}

/// Pacing of a replica.
#[derive(Debug, Clone)]
pub struct ReplicaConfig {
    /// Least time between two own events.
    pub interval: Duration,
    /// Largest payload of one event, in bytes.
    pub max_payload_bytes: usize,
    /// Where the equivocation evidence goes if the engine halts (more than f Byzantine seats).
    pub halt_evidence: Option<std::path::PathBuf>,
}

/// Equivocations a replica keeps for the halt report.
const EVIDENCE_KEPT: usize = 4096;

/// The epoch before the current one, kept in memory to serve nodes that have not finished it.
struct Past {
    engine: Engine,
    /// Its accepted event ids in acceptance order.
    accepted: Vec<Hash32>,
    /// Its committee.
    verifier: SeatKeys,
}

/// A validator's key, and the seat it holds in the current epoch's committee, if any.
struct Seat {
    signer: SeatSigner,
    key: XOnly,
    /// The seat in the current epoch (`None`: not in this committee; the node follows).
    index: Option<u8>,
    /// The own event built and persisted but not signed yet.
    unsigned: Option<DagRecord>,
}

/// The replica's state; [`Replica::run`] drives it on its own thread.
pub struct Replica {
    ctx: Arc<NodeCtx>,
    cfg: ReplicaConfig,
    engine: Engine,
    /// The previous epoch, while the current one is young.
    past: Option<Past>,
    grid: EpochGrid,
    /// The current epoch's committee.
    verifier: SeatKeys,
    seat: Option<Seat>,
    log: DagLog,
    /// The network; `None` for a single-seat chain run alone.
    net: Option<Net>,
    /// A single seat run alone on a chain without a committee provider is its own committee,
    /// whatever key signs (a development chain with a phantom-signer key): that key.
    own_committee: Option<XOnly>,
    /// When each unfinalized event was accepted (for the finality-latency histogram).
    accepted_at: HashMap<Hash32, Instant>,
    /// Transactions submitted to this node over RPC and still pending: carried by this seat
    /// whatever their share.
    local_txs: std::collections::BTreeSet<Hash32>,
    /// Accepted event ids in acceptance order.
    accepted: Vec<Hash32>,
    /// Accepted events that carry calls and are not finalized yet: while there are any (or
    /// calls wait in the mempool) the seat produces events; otherwise the chain rests (§12).
    unfinalized: std::collections::BTreeSet<Hash32>,
    /// Highest accepted seq per seat.
    heads: Vec<u64>,
    /// Set while a validator that just started learns its own newest events from peers.
    recovery: Option<Recovery>,
    /// Equivocations seen (up to [`EVIDENCE_KEPT`]), written out if the engine halts.
    evidence: Vec<pc_consensus::Equivocation>,
    /// Events parked until their parents arrive, and the pulls fetching those parents.
    fetch: Fetch<EventWithPayload, Instant>,
    replaying: bool,
    max_calls: usize,
    /// A peer event arrived since our last own event.
    fresh: bool,
    last_own: Instant,
    last_sync: Instant,
    last_tx_announce: Instant,
    last_reannounce: Instant,
    last_gauges: Instant,
    /// When a peer last said it pruned our epoch (the warning is rate-limited).
    last_pruned_warning: Option<Instant>,
    peer_turn: usize,
}

impl std::fmt::Debug for Replica {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replica").field("seat", &self.seat.as_ref().and_then(|s| s.index)).finish_non_exhaustive()
    }
}

impl Replica {
    /// Builds the engine for the current epoch's committee and replays the persisted DAG.
    /// `signer` is a validator's seat key (it signs in every epoch whose committee holds it),
    /// `None` for a full node; `net` is `None` only for a single-seat chain run alone.
    pub fn start(
        ctx: Arc<NodeCtx>,
        net: Option<Net>,
        signer: Option<SeatSigner>,
        cfg: ReplicaConfig,
    ) -> Result<Replica, ServiceError> {
        let spec = ctx.rt.spec();
        let c = &spec.constants;
        if net.is_none() && c.committee_size != 1 {
            return Err(ServiceError::NoSeat(format!(
                "this chain has {} seats; a node of a multi-seat chain needs the network",
                c.committee_size
            )));
        }
        let head = ctx.db.head()?.map_or(0, |h| h.anchor);
        let grid = c.windows.epoch_grid();
        let (log, records, first) =
            DagLog::open(ctx.db.kv().clone(), head, grid, c.committee_size == 1, ctx.dag_store())?;
        let own_committee = signer
            .as_ref()
            .filter(|_| net.is_none() && ctx.rt.committee_provider().is_none())
            .map(SeatSigner::public_key);
        let keys = Self::committee(&ctx, first, own_committee)?;
        let seat = signer.map(|signer| {
            let key = signer.public_key();
            Seat { index: keys.seat_of(&key), key, signer, unsigned: None }
        });
        let engine = Self::engine_for(&ctx, first)?;
        ctx.metrics.consensus_epoch.set(i64::try_from(first).unwrap_or(i64::MAX));
        let now = Instant::now();
        let fetch = Fetch::new(c.committee_size);
        let networked_seat = c.committee_size > 1;
        let mut r = Replica {
            max_calls: usize::try_from(c.max_event_txs).unwrap_or(usize::MAX),
            heads: vec![0; usize::from(c.committee_size)],
            evidence: Vec::new(),
            recovery: None,
            verifier: keys,
            own_committee,
            ctx,
            cfg,
            engine,
            past: None,
            grid,
            unfinalized: Default::default(),
            seat,
            log,
            net,
            accepted_at: HashMap::new(),
            local_txs: std::collections::BTreeSet::new(),
            accepted: Vec::new(),
            fetch,
            replaying: true,
            fresh: true,
            last_own: now,
            last_sync: now,
            last_tx_announce: now,
            last_reannounce: now,
            last_gauges: now,
            last_pruned_warning: None,
            peer_turn: 0,
        };
        let replayed = records.len();
        for rec in records {
            if payload_root(&rec.payload) != rec.event.event.payload_root {
                return Err(ServiceError::Consensus(format!(
                    "persisted event {} does not match its payload",
                    rec.event.event.id()
                )));
            }
            if rec.event.event.epoch != r.engine.epoch() {
                // The epoch ended during replay (its last anchor committed just now): what
                // follows in the log belongs to the old DAG and will never finalize.
                continue;
            }
            let id = rec.event.event.id();
            let carries = !rec.payload.is_empty();
            // Accepted before, so the fork bound does not apply again (consensus.md §8).
            let outs = r
                .engine
                .insert_needed(rec.event, &r.verifier)
                .map_err(|e| ServiceError::Consensus(format!("replay: {e}")))?;
            r.accepted_event(id, carries, outs)?;
        }
        r.replaying = false;
        r.check_halt()?;
        if let Some(s) = r.seat.as_mut()
            && let Some(index) = s.index
        {
            let next = r.heads[usize::from(index)] + 1;
            let epoch = r.engine.epoch();
            s.unsigned = r.log.unsigned()?.filter(|u| u.event.event.epoch == epoch && u.event.event.seq == next);
            if networked_seat && r.net.is_some() {
                // Whatever the store holds, it may be behind what this seat signed (a wiped or
                // restored directory, a lost write): learn from peers first.
                r.recovery = Some(Recovery::new(now, (epoch, r.heads[usize::from(index)])));
            }
        }
        if let Some(s) = &r.seat
            && s.index.is_none()
        {
            tracing::info!(target: "pc::node", key = %hex::encode(s.key.0), epoch = r.engine.epoch(), "this key holds no seat in the current epoch: following until a committee seats it");
        }
        tracing::info!(target: "pc::node", events = replayed, epoch = r.engine.epoch(), seat = ?r.seat.as_ref().and_then(|s| s.index), "replica started");
        Ok(r)
    }

    /// The committee of the epoch that starts at `first`: the chain state's, or `own` for a
    /// single seat alone without a provider.
    fn committee(ctx: &NodeCtx, first: u64, own: Option<XOnly>) -> Result<SeatKeys, ServiceError> {
        match own {
            Some(key) => Ok(SeatKeys(vec![key])),
            None => SeatKeys::of_epoch(ctx, first),
        }
    }

    fn engine_for(ctx: &NodeCtx, first_anchor_index: u64) -> Result<Engine, ServiceError> {
        let c = &ctx.rt.spec().constants;
        Engine::new(Config {
            shard: 0,
            seats: c.committee_size,
            max_parents: c.max_parents,
            coin_period: COIN_PERIOD,
            first_anchor_index,
        })
        .map_err(|e| ServiceError::Consensus(e.to_string()))
    }

    /// The last anchor of the current epoch.
    fn epoch_end(&self) -> u64 {
        self.grid.end_of(self.engine.epoch())
    }

    /// Moves to the epoch after `end`, whose last anchor was just applied (consensus.md §11):
    /// a fresh engine, the old one kept to serve peers still in it, the epoch before that
    /// dropped from memory, and the calls that the old DAG's unfinalized events carried
    /// offered again. Every node switches at the same anchor, since the anchor sequence is the
    /// same everywhere.
    fn next_epoch(&mut self, end: u64) -> Result<(), ServiceError> {
        let first = end + 1;
        // Calls that only unfinalized events of the old DAG carry go back to the pool: their
        // carrier may have lost them from its own (a restart), and nobody else would carry them.
        for id in std::mem::take(&mut self.unfinalized) {
            for call in self.log.store().payload(&id)?.map(|p| p.as_ref().clone()).unwrap_or_default() {
                let _ = self.ctx.mempool.submit(&self.ctx.rt, &self.ctx.db, call);
            }
        }
        let newest: Vec<Vec<Hash32>> =
            (0..self.engine.seats()).map(|s| self.engine.newest_of(s).iter().map(|e| e.event.id()).collect()).collect();
        let engine = Self::engine_for(&self.ctx, first)?;
        let verifier = Self::committee(&self.ctx, first, self.own_committee)?;
        let old = std::mem::replace(&mut self.engine, engine);
        let accepted = std::mem::take(&mut self.accepted);
        let old_verifier = std::mem::replace(&mut self.verifier, verifier);
        self.past = Some(Past { engine: old, accepted, verifier: old_verifier });
        let k = self.heads.len();
        self.heads = vec![0; k];
        self.fetch = Fetch::new(u8::try_from(k).unwrap_or(u8::MAX));
        self.accepted_at.clear();
        let networked_seat = self.net.is_some() && self.engine.seats() > 1;
        if let Some(s) = self.seat.as_mut() {
            s.unsigned = None;
            let was = s.index;
            s.index = self.verifier.seat_of(&s.key);
            if s.index != was {
                tracing::info!(target: "pc::node", epoch = first, seat = ?s.index, before = ?was, "the committee changed this node's seat");
            }
            // Newly seated: a former run of this key may have signed in this epoch (a wiped
            // node catching up), so it learns its newest events first, as at a start (§14).
            if was.is_none() && s.index.is_some() && networked_seat && self.recovery.is_none() {
                self.recovery = Some(Recovery::new(Instant::now(), (first, 0)));
            }
        }
        let keep_from = if self.net.is_some() {
            first.saturating_sub(EPOCHS_ON_DISK.saturating_mul(self.grid.r))
        } else {
            first // a single seat alone serves no peer: only the new epoch stays on disk
        };
        self.log.switch(first, keep_from, newest)?;
        self.ctx.mempool.release_reserved();
        self.ctx.metrics.consensus_epoch.set(i64::try_from(first).unwrap_or(i64::MAX));
        self.fresh = true;
        tracing::info!(target: "pc::consensus", epoch = first, ends_at = self.epoch_end(), "new consensus epoch");
        Ok(())
    }

    /// Runs until `stop` is set: network events as they come (`None`: no network), timers
    /// every few milliseconds.
    pub fn run(mut self, events: Option<Receiver<NetEvent>>, stop: Arc<AtomicBool>) -> Result<(), ServiceError> {
        while !stop.load(Ordering::Relaxed) {
            match &events {
                Some(rx) => match rx.recv_timeout(Duration::from_millis(10)) {
                    Ok(ev) => self.net_event(ev)?,
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => return Ok(()),
                },
                None => std::thread::sleep(Duration::from_millis(10).min(self.cfg.interval)),
            }
            self.check_halt()?;
            self.timers()?;
        }
        Ok(())
    }

    /// [`run`](Self::run) on its own thread.
    pub fn spawn(
        self,
        events: Option<Receiver<NetEvent>>,
        stop: Arc<AtomicBool>,
    ) -> std::thread::JoinHandle<Result<(), ServiceError>> {
        std::thread::spawn(move || self.run(events, stop))
    }

    fn send(&self, cmd: Command) {
        if let Some(net) = &self.net
            && !net.send(cmd)
        {
            tracing::debug!(target: "pc::net", "network queue full: command dropped");
        }
    }

    fn peers(&self) -> Vec<PeerId> {
        self.net.as_ref().map(Net::peers).unwrap_or_default()
    }

    /// Asks `to` for `ids` (with our heads), in requests of at most [`pc_net::wire::MAX_IDS`].
    fn request_events(&self, to: PeerId, ids: Vec<Hash32>) {
        for chunk in ids.chunks(pc_net::wire::MAX_IDS) {
            self.send(Command::Request {
                to,
                req: Request::Events {
                    epoch: self.engine.epoch(),
                    ids: chunk.to_vec(),
                    heads: self.heads.clone(),
                    cheaters: self.engine.known_cheaters(),
                },
            });
        }
    }

    fn some_peer(&mut self) -> Option<PeerId> {
        let peers = self.peers();
        self.peer_turn = self.peer_turn.wrapping_add(1);
        (!peers.is_empty()).then(|| peers[self.peer_turn % peers.len()])
    }

    fn net_event(&mut self, ev: NetEvent) -> Result<(), ServiceError> {
        match ev {
            NetEvent::Announce { from, ann } => self.announced(from, ann),
            NetEvent::Request { from, req, token } => {
                let resp = self.answer(req);
                tracing::trace!(target: "pc::net", peer = %from, "request answered");
                self.send(Command::Respond { token, resp });
            }
            NetEvent::Response { from, resp } => match resp {
                Response::SeatHead(list) => {
                    if let (Some(r), Some(seat)) = (self.recovery.as_mut(), self.seat.as_ref()) {
                        r.answered.insert(from);
                        // Only our own valid signatures count, in any epoch (checked against
                        // our key, not a seat: seats move between epochs): a forged "newest
                        // own event" must not keep us waiting.
                        let shown = list
                            .iter()
                            .filter(|e| pc_crypto::Bip340::verify(&seat.key, &e.event.event.id().0, &e.event.sig));
                        let newest = shown.map(|e| (e.event.event.epoch, e.event.event.seq)).max();
                        r.own_seen = r.own_seen.max(newest.unwrap_or_default());
                        tracing::debug!(target: "pc::node", peer = %from, events = list.len(), own_seen = ?r.own_seen, "seat head answer");
                    }
                    for e in list {
                        self.offer(Some(from), e)?;
                    }
                }
                Response::Events(list) => {
                    for e in list {
                        self.offer(Some(from), e)?;
                    }
                }
                Response::Pruned { oldest_epoch } => {
                    let now = Instant::now();
                    if oldest_epoch > self.engine.epoch()
                        && self.last_pruned_warning.is_none_or(|t| now.duration_since(t) >= Duration::from_secs(30))
                    {
                        self.last_pruned_warning = Some(now);
                        tracing::warn!(
                            target: "pc::node",
                            peer = %from,
                            epoch = self.engine.epoch(),
                            oldest_epoch,
                            "a peer no longer keeps this node's consensus epoch: it cannot catch up by replay from \
                             that peer; restore a recent snapshot (docs/operators.md)"
                        );
                    }
                }
                Response::Txs(calls) => {
                    for call in calls {
                        // A refused transaction is the sender's business, not a protocol fault.
                        let _ = self.ctx.mempool.submit(&self.ctx.rt, &self.ctx.db, call);
                    }
                }
            },
            NetEvent::PeerConnected(peer) => self.sync_with(peer),
            NetEvent::Listening(addr) => {
                let peer_id = self.net.as_ref().map(|n| n.peer_id.to_string()).unwrap_or_default();
                tracing::info!(target: "pc::net", %addr, %peer_id, "listening")
            }
            NetEvent::PeerDisconnected(_) | NetEvent::RequestFailed { .. } => {}
        }
        Ok(())
    }

    /// Asks `peer` for every event of our epoch above our heads.
    fn sync_with(&self, peer: PeerId) {
        self.send(Command::Request {
            to: peer,
            req: Request::Sync { epoch: self.engine.epoch(), heads: self.heads.clone() },
        });
    }

    fn announced(&mut self, from: PeerId, ann: Announce) {
        let unknown: Vec<Hash32> = ann
            .events
            .into_iter()
            .filter(|id| !self.engine.contains(id) && !self.fetch.is_parked(id) && !self.fetch.is_pulling(id))
            .collect();
        if !unknown.is_empty() {
            self.fetch.start_pulls(&unknown, Instant::now() + PULL_BACKOFF);
            self.request_events(from, unknown);
        }
        let txs: Vec<Hash32> = ann.txs.into_iter().filter(|k| self.ctx.mempool.status(k).is_none()).collect();
        for chunk in txs.chunks(pc_net::wire::MAX_IDS) {
            self.send(Command::Request { to: from, req: Request::Txs { ids: chunk.to_vec() } });
        }
    }

    /// An accepted event with its payload, from memory or the store (any epoch kept).
    fn record_of(&self, id: &Hash32) -> Option<EventWithPayload> {
        self.header_of(id).and_then(|h| self.with_payload(h))
    }

    /// An accepted event's header, from memory or the store (any epoch kept).
    fn header_of(&self, id: &Hash32) -> Option<SignedEvent> {
        if let Some(e) = self.engine.get(id).or_else(|| self.past.as_ref().and_then(|p| p.engine.get(id))) {
            return Some(e.clone());
        }
        match self.log.store().header(id) {
            Ok(h) => h.map(|h| (*h).clone()),
            Err(e) => {
                tracing::error!(target: "pc::node", %id, %e, "event header unreadable");
                None
            }
        }
    }

    /// `event` with its payload, read through the payload cache.
    fn with_payload(&self, event: SignedEvent) -> Option<EventWithPayload> {
        let id = event.event.id();
        match self.log.store().payload(&id) {
            Ok(p) => p.map(|p| EventWithPayload { event, payload: p.as_ref().clone() }),
            Err(e) => {
                tracing::error!(target: "pc::node", %id, %e, "payload unreadable");
                None
            }
        }
    }

    /// The engine and acceptance order of `epoch`, if it is in memory.
    fn epoch_in_memory(&self, epoch: u64) -> Option<(&Engine, &[Hash32])> {
        if epoch == self.engine.epoch() {
            return Some((&self.engine, &self.accepted));
        }
        self.past.as_ref().filter(|p| p.engine.epoch() == epoch).map(|p| (&p.engine, p.accepted.as_slice()))
    }

    /// `Pruned` if `epoch` is older than everything this node keeps.
    fn pruned(&self, epoch: u64) -> Option<Response> {
        if epoch >= self.engine.epoch() || self.epoch_in_memory(epoch).is_some() {
            return None;
        }
        let oldest = self.log.store().oldest_epoch().ok().flatten().unwrap_or(self.engine.epoch());
        (epoch < oldest).then_some(Response::Pruned { oldest_epoch: oldest })
    }

    fn answer(&self, req: Request) -> Response {
        if let Request::Events { epoch, .. } | Request::Sync { epoch, .. } = &req
            && let Some(pruned) = self.pruned(*epoch)
        {
            return pruned;
        }
        match req {
            Request::Events { epoch, ids, heads, cheaters } => match self.epoch_in_memory(epoch) {
                Some((engine, _)) => Response::Events(self.with_ancestry(engine, &ids, &heads, cheaters)),
                // An epoch on disk only: the events asked for, without ancestry (the requester
                // asks again for what it still lacks).
                None => {
                    let mut budget = Budget::default();
                    Response::Events(
                        ids.iter()
                            .filter_map(|id| self.record_of(id))
                            .filter(|e| e.event.event.epoch == epoch)
                            .take_while(|e| budget.take(e.encoded_size(), pc_net::wire::MAX_EVENTS))
                            .collect(),
                    )
                }
            },
            Request::Sync { epoch, heads } => {
                // Decided on the header (memory, or the header cache) before any payload is read.
                let above = |e: &SignedEvent| {
                    e.event.epoch == epoch && heads.get(usize::from(e.event.creator)).is_some_and(|h| e.event.seq > *h)
                };
                let on_disk;
                let order: &[Hash32] = match self.epoch_in_memory(epoch) {
                    Some((_, accepted)) => accepted,
                    None if epoch < self.engine.epoch() => {
                        on_disk = self.log.store().ids_of(epoch).unwrap_or_default();
                        &on_disk
                    }
                    None => &[],
                };
                let mut budget = Budget::default();
                Response::Events(
                    order
                        .iter()
                        .filter_map(|id| self.header_of(id))
                        .filter(above)
                        .filter_map(|h| self.with_payload(h))
                        .take_while(|e| budget.take(e.encoded_size(), pc_net::wire::MAX_EVENTS))
                        .collect(),
                )
            }
            Request::SeatHead { key } => {
                Response::SeatHead(self.newest_of_key(&XOnly(key)).iter().filter_map(|id| self.record_of(id)).collect())
            }
            Request::Txs { ids } => {
                let mut budget = Budget::default();
                Response::Txs(
                    ids.iter()
                        .filter_map(|k| self.ctx.mempool.get(k))
                        .take_while(|c| budget.take(c.encoded_size(), pc_net::wire::MAX_IDS))
                        .collect(),
                )
            }
        }
    }

    /// The ids of the newest events signed by `key` in the latest epoch where this node holds
    /// any: the current one, the previous one, or one on disk (each epoch mapped to its own
    /// committee's seat). A validator that restarts in an epoch it signed in must be shown
    /// that, even by peers that have moved on (consensus.md §10, §14).
    fn newest_of_key(&self, key: &XOnly) -> Vec<Hash32> {
        let ids = |e: &Engine, keys: &SeatKeys| {
            keys.seat_of(key)
                .map(|seat| e.newest_of(seat).iter().map(|x| x.event.id()).collect::<Vec<_>>())
                .unwrap_or_default()
        };
        let mut out = ids(&self.engine, &self.verifier);
        if out.is_empty()
            && let Some(p) = &self.past
        {
            out = ids(&p.engine, &p.verifier);
        }
        if out.is_empty() {
            // The epoch's committee where the state still keeps it (the slash window); else the
            // signature of the seat's newest event under `key`, which needs no committee.
            let is_own = |epoch: u64, seat: u8, ids: &[Hash32]| match SeatKeys::of_epoch(&self.ctx, epoch) {
                Ok(keys) => keys.seat_of(key) == Some(seat),
                Err(_) => ids
                    .first()
                    .and_then(|id| self.header_of(id))
                    .is_some_and(|h| pc_crypto::Bip340::verify(key, &h.event.id().0, &h.sig)),
            };
            out = self.log.store().newest_on_disk(is_own).ok().flatten().map(|(_, v)| v).unwrap_or_default();
        }
        out
    }

    /// The requested events and the ancestors the requester lacks: chosen nearest first within
    /// the byte budget, sent parents first.
    fn with_ancestry(&self, engine: &Engine, ids: &[Hash32], heads: &[u64], cheaters: u64) -> Vec<EventWithPayload> {
        let mut records: HashMap<Hash32, EventWithPayload> = HashMap::new();
        let mut budget = Budget::default();
        let order = engine.ancestry(ids, heads, cheaters, pc_net::wire::MAX_EVENTS, &mut |ev| {
            let id = ev.event.id();
            let Some(rec) = self.record_of(&id) else { return true };
            if !budget.take(rec.encoded_size(), pc_net::wire::MAX_EVENTS) {
                return false;
            }
            records.insert(id, rec);
            true
        });
        order.into_iter().filter_map(|ev| records.remove(&ev.event.id())).collect()
    }

    /// An event from the network (or `None`: our own).
    fn offer(&mut self, from: Option<PeerId>, e: EventWithPayload) -> Result<(), ServiceError> {
        let id = e.event.event.id();
        if self.engine.contains(&id) || self.fetch.is_parked(&id) {
            return Ok(());
        }
        let penalize = |me: &Self, why: &str| {
            if let Some(peer) = from {
                tracing::debug!(target: "pc::net", %peer, why, "invalid event");
                me.send(Command::Penalize { peer, offence: Offence::InvalidEvent });
            }
        };
        let ev = &e.event.event;
        if ev.epoch != self.engine.epoch() {
            // Another epoch's event is no fault of the sender: an epoch we left (nothing of it
            // can finalize for us any more) or one we have not reached yet (we catch up by
            // syncing our own epoch first, consensus.md §11).
            return Ok(());
        }
        if payload_root(&e.payload) != ev.payload_root
            || u32::try_from(e.payload.encoded_size()).ok() != Some(ev.payload_len)
            || e.payload.len() > self.max_calls
        {
            penalize(self, "payload does not match its event, or breaks the limits");
            return Ok(());
        }
        let needed = self.fetch.is_needed_by_others(&id, ev.creator);
        let timed = crate::keys::Timed { inner: &self.verifier, hist: &self.ctx.metrics.sig_verify };
        let result = if needed {
            self.engine.insert_needed(e.event.clone(), &timed)
        } else {
            self.engine.insert(e.event.clone(), &timed)
        };
        match result {
            Ok(outs) => {
                let carries = !e.payload.is_empty();
                self.log.append(&DagRecord { event: e.event, payload: e.payload })?;
                self.fresh = true;
                self.accepted_event(id, carries, outs)?;
                self.release_waiting(id)?;
            }
            Err(InsertError::MissingParents(ids)) => {
                // Checked now, not when the parents arrive: a forged event must not sit in the
                // buffer, and the peer that sent it is the one to blame.
                if !pc_consensus::SignatureVerifier::verify(&self.verifier, e.event.event.creator, &id, &e.event.sig) {
                    penalize(self, "bad signature");
                    return Ok(());
                }
                let origin = pc_consensus::Origin::of(&e.event.event);
                let new = self.fetch.park(id, origin, e, ids, Instant::now() + PULL_BACKOFF);
                if !new.is_empty()
                    && let Some(to) = from.or_else(|| self.some_peer())
                {
                    self.request_events(to, new);
                }
            }
            Err(InsertError::Known | InsertError::ForkBound { .. }) => {}
            Err(InsertError::Halted(_)) => {} // reported by check_halt
            Err(e) => penalize(self, &e.to_string()),
        }
        Ok(())
    }

    /// Bookkeeping after the engine accepted an event (live or in replay); `carries`: its
    /// payload holds calls. Anchors past the epoch's end are not applied: the next epoch's DAG
    /// finalizes what comes after it.
    fn accepted_event(&mut self, id: Hash32, carries: bool, outs: Vec<Output>) -> Result<(), ServiceError> {
        if let Some(ev) = self.engine.get(&id) {
            let (c, seq) = (usize::from(ev.event.creator), ev.event.seq);
            if self.heads.get(c).is_some_and(|h| seq > *h) {
                self.heads[c] = seq;
            }
        }
        self.accepted.push(id);
        if carries {
            self.unfinalized.insert(id);
        }
        self.fetch.arrived(&id);
        if !self.replaying {
            self.ctx.metrics.events.inc();
            self.accepted_at.insert(id, Instant::now());
        }
        let end = self.epoch_end();
        let mut ended = false;
        for o in outs {
            match o {
                Output::Finalized(batch) if batch.index <= end && !ended => {
                    self.apply(&batch)?;
                    ended = batch.index == end;
                }
                Output::Finalized(_) => {}
                Output::Equivocation(e) => {
                    tracing::warn!(target: "pc::consensus", seat = e.first.event.creator, seq = e.first.event.seq, "equivocation");
                    if !self.replaying {
                        self.ctx.metrics.equivocations.inc();
                    }
                    self.ctx.submit_evidence(&e);
                    if self.evidence.len() < EVIDENCE_KEPT {
                        self.evidence.push(*e);
                    }
                }
            }
        }
        if ended {
            self.next_epoch(end)?;
        }
        Ok(())
    }

    /// After the engine halted (more than f seats Byzantine, consensus.md §7): raises the
    /// alarm metric, writes the evidence it holds (SCALE `Vec<Equivocation>`, fsynced) and
    /// stops the replica with an error, so the node exits non-zero and signs nothing more.
    fn check_halt(&mut self) -> Result<(), ServiceError> {
        let Some(why) = self.engine.halted() else { return Ok(()) };
        self.ctx.metrics.consensus_halted.set(1);
        let written = match &self.cfg.halt_evidence {
            Some(path) => {
                let bytes = self.evidence.encode();
                let res = std::fs::File::create(path)
                    .and_then(|mut f| std::io::Write::write_all(&mut f, &bytes).and_then(|()| f.sync_all()));
                match res {
                    Ok(()) => format!("{} equivocation(s) written to {}", self.evidence.len(), path.display()),
                    Err(e) => format!("writing the evidence to {} failed: {e}", path.display()),
                }
            }
            None => format!("{} equivocation(s) seen (no evidence file configured)", self.evidence.len()),
        };
        tracing::error!(target: "pc::consensus", why, evidence = %written, "consensus halted: more than f Byzantine seats");
        Err(ServiceError::Halted(format!(
            "{why}: more than f seats of the committee are Byzantine; {written}. The node stopped and signs \
             nothing more: investigate with the other operators before restarting (docs/operators.md)"
        )))
    }

    fn apply(&mut self, batch: &AnchorBatch) -> Result<(), ServiceError> {
        let mut calls: Vec<Call> = Vec::new();
        for id in &batch.events {
            let p = self.log.store().payload(id)?.ok_or_else(|| {
                ServiceError::Consensus(format!("the payload of finalized event {id} is not in the store"))
            })?;
            calls.extend(p.iter().cloned());
        }
        crate::anchor::apply(&self.ctx, batch, calls, self.replaying)?;
        for id in &batch.events {
            self.unfinalized.remove(id);
            if let Some(t) = self.accepted_at.remove(id) {
                pc_metrics::Metrics::observe(&self.ctx.metrics.finality_latency, t.elapsed());
            }
        }
        Ok(())
    }

    fn release_waiting(&mut self, arrived: Hash32) -> Result<(), ServiceError> {
        let mut queue = vec![arrived];
        while let Some(parent) = queue.pop() {
            let engine = &self.engine;
            let ready = self.fetch.take_ready(&parent, |e| e.event.event.parents.iter().all(|p| engine.contains(p)));
            for (child, e) in ready {
                self.offer(None, e)?;
                if self.engine.contains(&child) {
                    queue.push(child);
                }
            }
        }
        Ok(())
    }

    fn timers(&mut self) -> Result<(), ServiceError> {
        let now = Instant::now();
        if now.duration_since(self.last_gauges) >= Duration::from_millis(500) {
            self.last_gauges = now;
            let m = &self.ctx.metrics;
            let n = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
            let (parked, _, pulls) = self.fetch.sizes();
            m.pending_events.set(n(parked));
            m.pulls_in_flight.set(n(pulls));
            m.peers.set(n(self.peers().len()));
            if let Some(net) = &self.net {
                m.net_dropped.set(i64::try_from(net.dropped()).unwrap_or(i64::MAX));
            }
            let engines = std::iter::once(&self.engine).chain(self.past.as_ref().map(|p| &p.engine));
            let (events, bytes) =
                engines.fold((0u64, 0usize), |(e, b), x| (e + x.stats().events, b + x.retained_bytes()));
            m.consensus_events_in_memory.set(i64::try_from(events).unwrap_or(i64::MAX));
            m.consensus_engine_bytes.set(i64::try_from(bytes).unwrap_or(i64::MAX));
            self.ctx.observe_mempool();
        }
        self.retry_pulls(now);
        if now.duration_since(self.last_sync) >= ANTI_ENTROPY {
            self.last_sync = now;
            if let Some(to) = self.some_peer() {
                self.sync_with(to);
            }
        }
        let mut txs = Vec::new();
        if now.duration_since(self.last_tx_announce) >= TX_ANNOUNCE {
            self.last_tx_announce = now;
            txs = self.ctx.take_new_txs();
            self.local_txs.extend(txs.iter().copied());
        }
        if now.duration_since(self.last_reannounce) >= REANNOUNCE {
            self.last_reannounce = now;
            let pool = &self.ctx.mempool;
            self.local_txs.retain(|k| matches!(pool.status(k), Some(pc_mempool::PoolStatus::Pending)));
            txs = self.ctx.mempool.pending_keys(pc_net::wire::MAX_IDS);
        }
        if !txs.is_empty() {
            self.send(Command::Announce(Announce { events: vec![], txs }));
        }
        if self.seat.is_some() && now.duration_since(self.last_own) >= self.cfg.interval {
            self.own_event(now)?;
        }
        Ok(())
    }

    fn retry_pulls(&mut self, now: Instant) {
        let engine = &self.engine;
        let overdue = self.fetch.retry(
            now,
            |id| engine.contains(id),
            PULL_ATTEMPTS,
            |attempts| now + PULL_BACKOFF * (1 << attempts.min(4)),
        );
        if !overdue.is_empty()
            && let Some(to) = self.some_peer()
        {
            self.request_events(to, overdue);
        }
    }

    /// Builds, persists unsigned, signs, persists and inserts our next event, then announces it.
    /// Paused while the signer is unreachable (the same event is offered again next time).
    /// Whether the seat may sign now: not while it is still learning its own newest events
    /// after a start. It waits [`START_PATIENCE`], for answers from q − 1 peers, and until it
    /// holds the newest own event any of them showed; what it waits for is logged.
    fn may_sign(&mut self, now: Instant) -> bool {
        let (Some(r), Some(seat)) = (self.recovery.as_mut(), self.seat.as_ref()) else { return true };
        let Some(index) = seat.index else { return false };
        let own = (self.engine.epoch(), self.heads[usize::from(index)]);
        let needed = usize::try_from(self.engine.quorum().saturating_sub(1)).unwrap_or(usize::MAX);
        if now.duration_since(r.since) >= START_PATIENCE && r.answered.len() >= needed && own >= r.own_seen {
            tracing::info!(target: "pc::node", seat = index, epoch = own.0, next_seq = own.1 + 1, peers = r.answered.len(), "own events learned from peers; signing");
            self.recovery = None;
            // A record built before the restart for a slot that is now taken is dropped.
            if let Some(s) = self.seat.as_mut()
                && s.unsigned.as_ref().is_some_and(|u| (u.event.event.epoch, u.event.event.seq) <= own)
            {
                s.unsigned = None;
            }
            return true;
        }
        let ask = r.last_ask.is_none_or(|t| now.duration_since(t) >= SEAT_HEAD_ASK);
        if ask {
            r.last_ask = Some(now);
        }
        if now.duration_since(r.last_log) >= WAIT_LOG {
            r.last_log = now;
            tracing::info!(
                target: "pc::node",
                seat = index,
                answered = r.answered.len(),
                needed,
                own_head = ?own,
                own_seen = ?r.own_seen,
                "waiting to learn this seat's newest events before signing"
            );
        }
        if ask {
            // Every peer, again each time: an answer given before an own event in flight reached
            // the peer, or while it held that event parked, said nothing about it.
            let key = seat.key.0;
            for to in self.peers() {
                self.send(Command::Request { to, req: Request::SeatHead { key } });
            }
        }
        false
    }

    fn own_event(&mut self, now: Instant) -> Result<(), ServiceError> {
        let _span = tracing::debug_span!(target: "pc::consensus", "own_event").entered();
        if self.seat.as_ref().and_then(|s| s.index).is_none() || !self.may_sign(now) {
            return Ok(());
        }
        let alone = self.engine.seats() == 1;
        let Some(seat) = self.seat.as_mut() else { return Ok(()) };
        let Some(index) = seat.index else { return Ok(()) };
        let mut record = match seat.unsigned.take() {
            Some(r) => r,
            None => {
                // A quiet chain (§12): with no call waiting and none unfinalized there is
                // nothing to order, and a seat that signs nothing lets the whole chain rest.
                let waiting = self.ctx.mempool.size().0 > 0;
                if !waiting && self.unfinalized.is_empty() {
                    return Ok(());
                }
                // Nothing new to acknowledge and nothing to carry: wait for the network (a
                // single seat has nobody to wait for: its own events finalize its anchors).
                if !alone && !self.fresh && !waiting && self.heads[usize::from(index)] > 0 {
                    return Ok(());
                }
                let share =
                    pc_mempool::Share { seat: index, seats: self.verifier.0.len() as u8, patience: SHARE_PATIENCE };
                let selected = self.ctx.mempool.select_share(
                    &self.ctx.rt,
                    &self.ctx.db,
                    self.max_calls,
                    self.cfg.max_payload_bytes,
                    Some((share, &self.local_txs)),
                );
                let keys: Vec<Hash32> = selected.iter().map(|(k, _)| *k).collect();
                let payload: Vec<Call> = selected.into_iter().map(|(_, c)| c).collect();
                let len = u32::try_from(payload.encoded_size()).unwrap_or(u32::MAX);
                let Some(event) = self.engine.next_event(index, payload_root(&payload), len) else {
                    // Not enough parents from other seats yet: the calls wait for the next try.
                    self.ctx.mempool.release(&keys);
                    return Ok(());
                };
                let r = DagRecord { event: SignedEvent { event, sig: [0; 64] }, payload };
                self.log.save_unsigned(&r)?;
                r
            }
        };
        self.last_own = now;
        match seat.signer.sign(&record.event.event) {
            Ok(sig) => record.event.sig = sig,
            Err(e) => {
                seat.unsigned = Some(record);
                tracing::warn!(target: "pc::node", %e, "event not signed; production paused, retrying");
                return Ok(());
            }
        }
        let id = record.event.event.id();
        let carries = !record.payload.is_empty();
        self.log.append(&record)?;
        let outs =
            self.engine.insert(record.event, &self.verifier).map_err(|e| ServiceError::Consensus(e.to_string()))?;
        self.fresh = false;
        self.ctx.metrics.own_events.inc();
        self.accepted_event(id, carries, outs)?;
        self.release_waiting(id)?;
        self.send(Command::Announce(Announce { events: vec![id], txs: vec![] }));
        Ok(())
    }
}
