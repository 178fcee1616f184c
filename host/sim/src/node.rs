//! A simulated node: the real engine plus honest or Byzantine behaviour.

use crate::network::{Action, Msg, Network};
use pc_codec::{Domain, Hash32, Identified};
use pc_consensus::{
    AnchorBatch, Config, ConfigError, Engine, Event, Fetch, InsertError, Output, SignatureVerifier, SignedEvent,
};

/// What a crash takes from a node's store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Loss {
    /// Nothing: every accepted event was persisted.
    Nothing,
    /// The last write (a crash in the middle of it).
    LastWrite,
    /// Everything after the middle (a restore from an older snapshot or backup).
    Restore,
    /// Everything (a wiped data directory).
    Everything,
}
use rand_chacha::ChaCha8Rng;
use rand_core::Rng;
use std::collections::BTreeSet;

const KEY: Domain = Domain::new("phantomcoin/v1/sim/seat-key");
const PAYLOAD: Domain = Domain::new("phantomcoin/v1/sim/payload");
/// Events sent at most in one anti-entropy answer.
const SYNC_CAP: usize = 256;
/// Pull attempts per missing id before the node gives up on it (anti-entropy still covers it).
const PULL_ATTEMPTS: u32 = 6;

/// Simulator signatures: a keyed BLAKE3 MAC per seat over the id and a nonce that the signer
/// picks, so that, as with BIP-340, one event has many valid signatures (a Byzantine seat may
/// send each peer other signature bytes). Only seat s knows seat s's key here, which is all the
/// engine needs from a signature: nobody else can produce one.
#[derive(Debug, Clone, Copy, Default)]
pub struct SimKeys;

fn seat_key(seat: u8) -> [u8; 32] {
    KEY.hash(&[seat]).0
}

/// Seat `seat`'s signature over `id` with nonce 0.
pub fn sign(seat: u8, id: &Hash32) -> [u8; 64] {
    sign_with_nonce(seat, id, 0)
}

/// Seat `seat`'s signature over `id` with `nonce`: every nonce gives another valid signature.
pub fn sign_with_nonce(seat: u8, id: &Hash32, nonce: u64) -> [u8; 64] {
    let mut h = blake3::Hasher::new_keyed(&seat_key(seat));
    h.update(&id.0);
    h.update(&nonce.to_le_bytes());
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(h.finalize().as_bytes());
    sig[32..40].copy_from_slice(&nonce.to_le_bytes());
    sig
}

impl SignatureVerifier for SimKeys {
    fn verify(&self, creator: u8, id: &Hash32, sig: &[u8; 64]) -> bool {
        let mut nonce = [0u8; 8];
        nonce.copy_from_slice(&sig[32..40]);
        sign_with_nonce(creator, id, u64::from_le_bytes(nonce)) == *sig
    }
}

/// What a seat does. Every Byzantine behaviour can be chosen with `--behaviour`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Behaviour {
    /// Follows the protocol.
    Honest,
    /// Signs two events per seq and shows each half of the network a different one.
    Equivocate,
    /// Never serves its payloads.
    Withhold,
    /// Cites a parent that does not exist.
    MissingParents,
    /// Claims a frame far ahead.
    FutureFrames,
    /// Signs several variants of every event and sends all of them to everyone.
    ForkBomb,
    /// Two nodes run the seat's key, each honestly and unaware of the other: two long
    /// divergent branches, both shown to everyone.
    Twins,
    /// Two nodes run the seat's key, each connected to one half of the network only (and to
    /// the same half of every other split seat: they collude): each half sees one branch.
    Split,
    /// Honest events, but every peer gets other valid signature bytes for the same event.
    SigVariance,
    /// Forks every event and builds its next events on the variants, so its own events cite
    /// them (they must not make the variants "needed").
    SelfCitedForks,
    /// Answers pulls and syncs with fresh forks and forged events instead of what was asked.
    LyingServer,
}

impl Behaviour {
    /// Every Byzantine behaviour, in the order the default mix assigns them.
    pub const BYZANTINE: [Behaviour; 10] = [
        Behaviour::Equivocate,
        Behaviour::Withhold,
        Behaviour::MissingParents,
        Behaviour::FutureFrames,
        Behaviour::ForkBomb,
        Behaviour::Twins,
        Behaviour::Split,
        Behaviour::SigVariance,
        Behaviour::SelfCitedForks,
        Behaviour::LyingServer,
    ];

    /// The default mix: one of the Byzantine behaviours, chosen by `pick`.
    pub fn byzantine(pick: u64) -> Self {
        Self::BYZANTINE[(pick % Self::BYZANTINE.len() as u64) as usize]
    }

    /// The name `--behaviour` takes.
    pub fn name(self) -> &'static str {
        match self {
            Behaviour::Honest => "honest",
            Behaviour::Equivocate => "equivocate",
            Behaviour::Withhold => "withhold",
            Behaviour::MissingParents => "missing-parents",
            Behaviour::FutureFrames => "future-frames",
            Behaviour::ForkBomb => "fork-bomb",
            Behaviour::Twins => "twins",
            Behaviour::Split => "split",
            Behaviour::SigVariance => "sig-variance",
            Behaviour::SelfCitedForks => "self-cited-forks",
            Behaviour::LyingServer => "lying-server",
        }
    }

    /// The behaviour called `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::BYZANTINE.into_iter().chain([Behaviour::Honest]).find(|b| b.name() == name)
    }

    /// Whether the seat runs as two nodes.
    pub fn doubled(self) -> bool {
        matches!(self, Behaviour::Twins | Behaviour::Split)
    }
}

/// Wait before pull retry `attempt`: a round trip, doubling per attempt (capped at 16×).
fn backoff(net: &Network, attempt: u32) -> u64 {
    (2 * net.max_delay()) << attempt.min(4)
}

/// A restarted node that lost events waits before it signs again (consensus.md §10: a seat
/// never signs one slot twice): a full patience (longer than any message stays in flight), with
/// answers from q − 1 other seats, holding the newest own event any of them showed; or until
/// `give_up`.
#[derive(Debug, Clone, Copy)]
struct Recovery {
    /// Seats that answered.
    answered: u64,
    /// The highest own seq any answer showed.
    own_seen: u64,
    /// The earliest it signs again.
    patience: u64,
    /// When it last asked every other node (it asks again each round trip while waiting: an
    /// answer given before an own event in flight reached the responder says nothing).
    last_ask: u64,
    /// When it stops waiting altogether.
    give_up: u64,
}

pub(crate) struct SimNode {
    pub seat: u8,
    /// Index in the network (`seat`, or past k for a seat's second node).
    pub me: usize,
    /// 0, or 1 for a doubled seat's second node (its events differ).
    lane: u8,
    recovery: Option<Recovery>,
    pub behaviour: Behaviour,
    cfg: Config,
    engine: Engine,
    /// Events parked for missing parents, and the pulls of those parents. A duplicate delivery
    /// never re-asks: only the retry timer does, with a backoff, so requests cannot snowball at
    /// large k.
    fetch: Fetch<SignedEvent, u64>,
    /// When this node's retry timer is next scheduled to fire.
    retry_at: Option<u64>,
    /// Events accepted, in order: what the node persists and replays after a crash.
    persisted: Vec<SignedEvent>,
    /// Ids of `persisted`, index for index (so serving a sync hashes nothing).
    persisted_ids: Vec<Hash32>,
    /// Highest accepted seq per seat (what anti-entropy and pulls tell peers).
    heads: Vec<u64>,
    /// Finalized anchors, persisted.
    pub log: Vec<AnchorBatch>,
    /// Finalization tick of each logged anchor.
    pub log_times: Vec<u64>,
    /// Frames from creation to finality of finalized honest events.
    pub latencies: Vec<u64>,
    /// (creator, seq) pairs for which the engine produced evidence.
    pub evidence: BTreeSet<(u8, u64)>,
    /// Problems seen while running (an honest event refused, a halt, a replay mismatch).
    pub problems: Vec<String>,
    crashed: bool,
    /// The last crash lost persisted events.
    lost_events: bool,
    /// The highest seq this seat signed (what a signing record kept apart from the store
    /// would hold): after a restart below it, the seat re-signed slots it had signed.
    signed_high: u64,
    /// Seqs the seat signed again after losing events (at or below `signed_high`).
    pub resigned: BTreeSet<u64>,
    restarts: u64,
    created: u64,
    /// Turns taken (created or not).
    ticks: u64,
    /// Events accepted without their payload (only Byzantine nodes do that).
    no_payload: BTreeSet<Hash32>,
    /// The simulator's knowledge of which seats are Byzantine (to tell bugs from attacks).
    byzantine: u64,
}

impl SimNode {
    pub fn new(
        seat: u8,
        me: usize,
        lane: u8,
        behaviour: Behaviour,
        cfg: Config,
        byzantine: u64,
    ) -> Result<Self, ConfigError> {
        let seats = cfg.seats;
        Ok(SimNode {
            seat,
            me,
            lane,
            recovery: None,
            behaviour,
            engine: Engine::new(cfg.clone())?,
            cfg,
            fetch: Fetch::new(seats),
            retry_at: None,
            persisted: Vec::new(),
            persisted_ids: Vec::new(),
            heads: vec![0; usize::from(seats)],
            log: Vec::new(),
            log_times: Vec::new(),
            latencies: Vec::new(),
            evidence: BTreeSet::new(),
            problems: Vec::new(),
            crashed: false,
            lost_events: false,
            signed_high: 0,
            resigned: BTreeSet::new(),
            restarts: 0,
            created: 0,
            ticks: 0,
            no_payload: BTreeSet::new(),
            byzantine,
        })
    }

    pub fn honest(&self) -> bool {
        self.behaviour == Behaviour::Honest
    }

    pub fn created(&self) -> u64 {
        self.created
    }

    /// Debug line: what the node waits for.
    pub fn waiting_summary(&self) -> String {
        let pulls: Vec<String> =
            self.fetch.pulls().map(|(id, p)| format!("{}@{}x{}", &id.to_string()[..8], p.due, p.attempts)).collect();
        let (parked, waited_for, _) = self.fetch.sizes();
        format!("pending={parked} waiting_on={waited_for} pulls=[{}] retry_at={:?}", pulls.join(" "), self.retry_at)
    }

    /// Ids being pulled (debugging).
    pub fn pulled_ids(&self) -> Vec<Hash32> {
        self.fetch.pulls().map(|(id, _)| *id).collect()
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Every event this node accepted (its persisted DAG).
    pub fn accepted(&self) -> &[SignedEvent] {
        &self.persisted
    }

    /// Stops the node; `lose` says what of its store is lost with it.
    pub fn crash(&mut self, lose: Loss) {
        self.crashed = true;
        self.fetch.clear();
        self.retry_at = None;
        let keep = match lose {
            Loss::Nothing => self.persisted.len(),
            Loss::LastWrite => self.persisted.len().saturating_sub(1),
            Loss::Restore => self.persisted.len() / 2,
            Loss::Everything => 0,
        };
        self.lost_events |= keep < self.persisted.len();
        self.persisted.truncate(keep);
        self.persisted_ids.truncate(keep);
    }

    /// Rebuilds the engine from the persisted events (the replay must reproduce the logged
    /// anchors it reaches) and asks peers for what it missed. A node that lost events first
    /// learns its own newest events from every other seat before it signs again.
    pub fn restart(&mut self, now: u64, net: &mut Network, rng: &mut ChaCha8Rng) {
        self.rebuild();
        if std::mem::take(&mut self.lost_events) && self.cfg.seats > 1 {
            let rt = 2 * net.max_delay();
            self.recovery = Some(Recovery {
                answered: 0,
                own_seen: 0,
                patience: now + 8 * rt,
                give_up: now + 32 * rt,
                last_ask: now,
            });
            self.ask_everyone(now, net, rng);
        } else {
            for _ in 0..2 {
                self.sync_with_random_peer(now, net, rng);
            }
        }
    }

    fn ask_everyone(&self, now: u64, net: &mut Network, rng: &mut ChaCha8Rng) {
        for to in 0..net.nodes() {
            if net.seat_of(to) != self.seat {
                net.send(now, self.me, to, Msg::Sync(self.heads.clone()), rng);
            }
        }
    }

    /// Whether the node may sign now (not waiting to learn its own events).
    fn may_sign(&mut self, now: u64, net: &mut Network, rng: &mut ChaCha8Rng) -> bool {
        let Some(mut r) = self.recovery else { return true };
        if now >= r.last_ask + 2 * net.max_delay() {
            r.last_ask = now;
            self.recovery = Some(r);
            self.ask_everyone(now, net, rng);
        }
        // A full patience always: an own event still in flight (delayed, not lost) would
        // otherwise arrive after the slot was signed again. And answers from q − 1 other seats.
        let k = u32::from(self.cfg.seats);
        let q = k - (k - 1) / 3;
        let heard = now >= r.patience && (r.answered & !(1u64 << self.seat)).count_ones() + 1 >= q;
        // A Byzantine peer that holds an own event may hide it from the answers and release it
        // after the slot was signed again, to frame the seat: no wait prevents that (only a
        // signing record kept apart from the store does); the report counts such cases as
        // `framed` (docs/spec/consensus.md §10).
        let head = self.heads[usize::from(self.seat)];
        if (heard && head >= r.own_seen) || now >= r.give_up {
            self.recovery = None;
            return true;
        }
        false
    }

    fn sync_with_random_peer(&mut self, now: u64, net: &mut Network, rng: &mut ChaCha8Rng) {
        // Another node: asking oneself is a lost turn.
        let n = net.nodes() as u64;
        let peer = (self.me + 1 + (rng.next_u64() % n.saturating_sub(1).max(1)) as usize) % net.nodes();
        net.send(now, self.me, peer, Msg::Sync(self.heads.clone()), rng);
    }

    fn rebuild(&mut self) {
        self.crashed = false;
        self.restarts += 1;
        let Ok(mut engine) = Engine::new(self.cfg.clone()) else { return };
        let mut replayed = Vec::new();
        for ev in &self.persisted {
            // Everything persisted was accepted once, fork-bound exceptions included.
            match engine.insert_needed(ev.clone(), &SimKeys) {
                Ok(outs) => replayed.extend(outs.into_iter().filter_map(|o| match o {
                    Output::Finalized(b) => Some(b),
                    Output::Equivocation(_) => None,
                })),
                Err(e) => self.problems.push(format!("seat {}: replay refused a persisted event: {e}", self.seat)),
            }
        }
        if self.log.get(..replayed.len()) != Some(&replayed[..]) {
            self.problems.push(format!("seat {}: replay after restart diverged from the persisted log", self.seat));
        }
        self.heads = vec![0; usize::from(self.cfg.seats)];
        for e in &self.persisted {
            let h = &mut self.heads[usize::from(e.event.creator)];
            *h = (*h).max(e.event.seq);
        }
        self.engine = engine;
    }

    /// `ev` with another payload: a fork of it (variant 0 is `ev`'s own payload).
    fn variant(&self, ev: &Event, v: u8) -> Event {
        Event { payload_root: self.payload_root(ev.seq, v), ..ev.clone() }
    }

    fn payload_root(&self, seq: u64, variant: u8) -> Hash32 {
        PAYLOAD.hash(&[&[self.seat, variant, self.lane][..], &seq.to_le_bytes(), &self.restarts.to_le_bytes()].concat())
    }

    /// The seat's turn: create, sign, insert and gossip an event (or misbehave).
    pub fn tick(&mut self, now: u64, net: &mut Network, rng: &mut ChaCha8Rng) {
        // A halted engine (more than f Byzantine seats) signs nothing more, like the node.
        if self.crashed || self.engine.halted().is_some() {
            return;
        }
        // Anti-entropy every fifth turn, counted in turns, not in events created: a seat that
        // cannot create (its first event and its peer's were both lost, so the cross-link rule
        // has nothing to cite) must still ask, or k = 2 waits forever.
        self.ticks += 1;
        if self.cfg.seats > 1 && self.ticks % 5 == 1 {
            self.sync_with_random_peer(now, net, rng);
        }
        if !self.may_sign(now, net, rng) {
            return;
        }
        let seq_hint = self.created + 1;
        let Some(ev) = self.engine.next_event(self.seat, self.payload_root(seq_hint, 0), 100) else { return };
        self.created += 1;
        let me = self.me;
        let signed = |e: Event| SignedEvent { sig: sign(e.creator, &e.id()), event: e };
        match self.behaviour {
            Behaviour::Honest | Behaviour::Withhold | Behaviour::Twins | Behaviour::Split | Behaviour::LyingServer => {
                let se = signed(ev);
                // Sent only once accepted locally: an own event the engine refused is not
                // signed again differently, it is simply not sent.
                if self.accept_own(now, se.clone()) {
                    let payload = self.behaviour != Behaviour::Withhold;
                    net.broadcast(now, me, &Msg::Event { ev: se, payload }, rng);
                }
            }
            Behaviour::SigVariance => {
                let se = signed(ev);
                self.accept_own(now, se.clone());
                let id = se.event.id();
                for to in 0..net.nodes() {
                    let mut other = se.clone();
                    other.sig = sign_with_nonce(se.event.creator, &id, rng.next_u64());
                    net.send(now, me, to, Msg::Event { ev: other, payload: true }, rng);
                }
            }
            Behaviour::Equivocate => {
                let twin = self.variant(&ev, 1);
                let (a, b) = (signed(ev), signed(twin));
                self.accept_own(now, a.clone());
                for to in 0..net.nodes() {
                    let ev = if to % 2 == 0 { a.clone() } else { b.clone() };
                    net.send(now, me, to, Msg::Event { ev, payload: true }, rng);
                }
            }
            Behaviour::MissingParents => {
                let mut bogus = ev.clone();
                if let Some(last) = bogus.parents.last_mut() {
                    *last = PAYLOAD.hash(&rng.next_u64().to_le_bytes());
                }
                self.accept_own(now, signed(ev.clone()));
                net.broadcast(now, me, &Msg::Event { ev: signed(bogus), payload: true }, rng);
                net.broadcast(now, me, &Msg::Event { ev: signed(ev), payload: true }, rng);
            }
            Behaviour::FutureFrames => {
                let mut ahead = ev.clone();
                ahead.frame += 5;
                self.accept_own(now, signed(ev.clone()));
                net.broadcast(now, me, &Msg::Event { ev: signed(ahead), payload: true }, rng);
                net.broadcast(now, me, &Msg::Event { ev: signed(ev), payload: true }, rng);
            }
            Behaviour::ForkBomb => {
                let first = signed(ev.clone());
                self.accept_own(now, first.clone());
                net.broadcast(now, me, &Msg::Event { ev: first, payload: true }, rng);
                for v in 1..4u8 {
                    net.broadcast(now, me, &Msg::Event { ev: signed(self.variant(&ev, v)), payload: true }, rng);
                }
            }
            Behaviour::SelfCitedForks => {
                // Three variants; the next own event builds on one of them (the engine's head
                // is the first accepted), and own children of the others follow.
                let first = signed(ev.clone());
                self.accept_own(now, first.clone());
                net.broadcast(now, me, &Msg::Event { ev: first, payload: true }, rng);
                for v in 1..3u8 {
                    let fork = signed(self.variant(&ev, v));
                    let mut child = ev.clone();
                    child.seq += 1;
                    child.parents = vec![fork.event.id()];
                    child.parents.extend(ev.parents.iter().skip(1).copied());
                    child.lamport += 1;
                    net.broadcast(now, me, &Msg::Event { ev: fork, payload: true }, rng);
                    net.broadcast(now, me, &Msg::Event { ev: signed(child), payload: true }, rng);
                }
            }
        }
    }

    /// Inserts an own event; false (and a problem noted) if the engine refused it.
    fn accept_own(&mut self, now: u64, se: SignedEvent) -> bool {
        if se.event.seq <= self.signed_high {
            self.resigned.insert(se.event.seq);
        }
        self.signed_high = self.signed_high.max(se.event.seq);
        match self.insert(now, se) {
            Ok(()) => true,
            Err(e) => {
                self.problems.push(format!("seat {}: own event refused: {e}", self.seat));
                false
            }
        }
    }

    fn insert(&mut self, now: u64, se: SignedEvent) -> Result<(), InsertError> {
        let id = se.event.id();
        // An event a buffered event waits for is needed: the fork-bomb bound must not refuse it.
        let outs = if self.fetch.is_needed_by_others(&id, se.event.creator) {
            self.engine.insert_needed(se.clone(), &SimKeys)?
        } else {
            self.engine.insert(se.clone(), &SimKeys)?
        };
        let h = &mut self.heads[se.event.creator as usize];
        *h = (*h).max(se.event.seq);
        self.persisted.push(se);
        self.persisted_ids.push(id);
        for o in outs {
            match o {
                Output::Finalized(b) => self.record(now, b),
                Output::Equivocation(e) => {
                    self.evidence.insert((e.first.event.creator, e.first.event.seq));
                }
            }
        }
        Ok(())
    }

    fn record(&mut self, now: u64, b: AnchorBatch) {
        // After a restart that lost events, anchors already logged come again: they must be
        // the same.
        let i = usize::try_from(b.index.saturating_sub(1)).unwrap_or(usize::MAX);
        match self.log.get(i) {
            Some(old) if *old != b => {
                self.problems
                    .push(format!("seat {}: anchor #{} differs from the one it logged before", self.seat, b.index));
            }
            Some(_) => {}
            None => {
                let frame = self.engine.stats().max_frame;
                for id in &b.events {
                    if let Some(se) = self.engine.get(id) {
                        self.latencies.push(frame.saturating_sub(se.event.frame));
                    }
                }
                self.log.push(b);
                self.log_times.push(now);
            }
        }
    }

    pub fn receive(&mut self, now: u64, from: usize, msg: Msg, net: &mut Network, rng: &mut ChaCha8Rng) {
        if self.crashed {
            return;
        }
        let me = self.me;
        match msg {
            Msg::Request { .. } | Msg::Sync(_) if self.behaviour == Behaviour::Withhold => {}
            Msg::Request { .. } | Msg::Sync(_) if self.behaviour == Behaviour::LyingServer => {
                net.send(now, me, from, Msg::Batch(self.lies(rng)), rng);
            }
            Msg::Request { ids, heads, cheaters } => {
                let answer = self.with_ancestry(&ids, &heads, cheaters);
                if !answer.is_empty() {
                    net.send(now, me, from, Msg::Batch(answer), rng);
                }
            }
            Msg::Sync(heads) => {
                // The requester's own newest event first (a restarted seat learns where its
                // chain stands), then what it lacks, oldest first. Events without a payload
                // are useless to the requester: never offered. Always answered, even empty:
                // a recovering seat counts the answers.
                let asker = net.seat_of(from);
                let own_head = self
                    .persisted
                    .iter()
                    .zip(&self.persisted_ids)
                    .filter(|(e, id)| e.event.creator == asker && !self.no_payload.contains(*id))
                    .max_by_key(|(e, _)| e.event.seq)
                    .filter(|(e, _)| heads.get(usize::from(asker)).is_some_and(|h| e.event.seq > *h))
                    .map(|(e, _)| (e.clone(), true));
                let missing: Vec<(SignedEvent, bool)> = own_head
                    .into_iter()
                    .chain(
                        self.persisted
                            .iter()
                            .zip(&self.persisted_ids)
                            .filter(|(e, id)| {
                                heads.get(e.event.creator as usize).is_some_and(|h| e.event.seq > *h)
                                    && !self.no_payload.contains(*id)
                            })
                            .map(|(e, _)| (e.clone(), true)),
                    )
                    .take(SYNC_CAP)
                    .collect();
                net.send(now, me, from, Msg::Batch(missing), rng);
            }
            Msg::Batch(events) => {
                if let Some(r) = &mut self.recovery {
                    r.answered |= 1 << net.seat_of(from);
                    let own = events.iter().filter(|(e, _)| e.event.creator == self.seat).map(|(e, _)| e.event.seq);
                    r.own_seen = r.own_seen.max(own.max().unwrap_or(0));
                }
                for (ev, payload) in events {
                    self.offer_with_payload(now, from, ev, payload, net, rng);
                }
            }
            Msg::Event { ev, payload } => {
                if let Some(r) = &mut self.recovery
                    && ev.event.creator == self.seat
                {
                    r.own_seen = r.own_seen.max(ev.event.seq);
                }
                self.offer_with_payload(now, from, ev, payload, net, rng)
            }
        }
    }

    /// A lying server's answer: fresh variants of its own newest event and forged events of
    /// other seats, never what was asked.
    fn lies(&self, rng: &mut ChaCha8Rng) -> Vec<(SignedEvent, bool)> {
        let mut out = Vec::new();
        if let Some(own) = self.persisted.iter().rev().find(|e| e.event.creator == self.seat) {
            let mut fork = own.event.clone();
            fork.payload_root = PAYLOAD.hash(&rng.next_u64().to_le_bytes());
            out.push((SignedEvent { sig: sign(self.seat, &fork.id()), event: fork }, true));
        }
        if let Some(other) = self.persisted.iter().rev().find(|e| e.event.creator != self.seat) {
            let mut forged = other.event.clone();
            forged.payload_root = PAYLOAD.hash(&rng.next_u64().to_le_bytes());
            out.push((SignedEvent { sig: sign(self.seat, &forged.id()), event: forged }, true));
        }
        out
    }

    /// The requested events and the ancestors the requester lacks, parents first, at most
    /// `SYNC_CAP`. An ancestor counts as held when its seq is within the requester's head for
    /// its seat, unless that seat forked (then seq says nothing about which branch it holds).
    fn with_ancestry(&self, ids: &[Hash32], heads: &[u64], cheaters: u64) -> Vec<(SignedEvent, bool)> {
        let mut out = Vec::new();
        for ev in self.engine.ancestry(ids, heads, cheaters, SYNC_CAP, &mut |_| true) {
            out.push((ev.clone(), !self.no_payload.contains(&ev.event.id())));
        }
        out
    }

    fn offer_with_payload(
        &mut self,
        now: u64,
        from: usize,
        ev: SignedEvent,
        payload: bool,
        net: &mut Network,
        rng: &mut ChaCha8Rng,
    ) {
        if !payload {
            if self.honest() {
                return; // pull-then-vote: without the payload the event is never accepted
            }
            self.no_payload.insert(ev.event.id());
        }
        self.offer(now, from, ev, net, rng);
    }

    fn offer(&mut self, now: u64, from: usize, ev: SignedEvent, net: &mut Network, rng: &mut ChaCha8Rng) {
        let creator = ev.event.creator;
        let id = ev.event.id();
        if self.fetch.is_parked(&id) {
            return; // a duplicate of an event already waiting: its parents are being pulled
        }
        match self.insert(now, ev.clone()) {
            Ok(()) => self.release_waiting(now, id),
            Err(InsertError::MissingParents(ids)) => {
                let due = now + backoff(net, 0);
                let new = self.fetch.park(id, pc_consensus::Origin::of(&ev.event), ev, ids, due);
                if !new.is_empty() {
                    self.arm_retry(due, net);
                    net.send(
                        now,
                        self.me,
                        from,
                        Msg::Request { ids: new, heads: self.heads.clone(), cheaters: self.engine.known_cheaters() },
                        rng,
                    );
                }
            }
            // A forgery (a lying server signs events in other seats' names): not their event.
            Err(InsertError::Known | InsertError::BadSignature) => {}
            Err(InsertError::Halted(why)) => self.problems.push(format!("seat {}: engine halted: {why}", self.seat)),
            Err(e) if self.byzantine & (1 << creator) == 0 => {
                self.problems.push(format!("seat {}: refused an honest event of seat {creator}: {e}", self.seat));
            }
            Err(_) => {}
        }
    }

    fn arm_retry(&mut self, due: u64, net: &mut Network) {
        if self.retry_at.is_none_or(|t| due < t) {
            self.retry_at = Some(due);
            net.schedule(due, Action::Retry(self.me));
        }
    }

    /// Retry timer: asks a random peer again for every overdue pull still missing.
    pub fn retry_pulls(&mut self, now: u64, net: &mut Network, rng: &mut ChaCha8Rng) {
        if self.crashed || self.retry_at != Some(now) {
            return; // a superseded timer
        }
        self.retry_at = None;
        let engine = &self.engine;
        let overdue =
            self.fetch.retry(now, |id| engine.contains(id), PULL_ATTEMPTS, |attempts| now + backoff(net, attempts));
        let next = self.fetch.next_due();
        if !overdue.is_empty() && net.nodes() > 1 {
            let others = net.nodes() as u64 - 1;
            let peer = (self.me + 1 + (rng.next_u64() % others) as usize) % net.nodes();
            net.send(
                now,
                self.me,
                peer,
                Msg::Request { ids: overdue, heads: self.heads.clone(), cheaters: self.engine.known_cheaters() },
                rng,
            );
        }
        if let Some(due) = next {
            self.arm_retry(due, net);
        }
    }

    fn release_waiting(&mut self, now: u64, arrived: Hash32) {
        let mut queue = vec![arrived];
        while let Some(parent) = queue.pop() {
            let engine = &self.engine;
            let ready = self.fetch.take_ready(&parent, |ev| ev.event.parents.iter().all(|p| engine.contains(p)));
            for (child, ev) in ready {
                if self.insert(now, ev).is_ok() {
                    queue.push(child);
                }
            }
        }
    }
}
