//! The consensus engine: insertion (§2–§4), voting (§5), finalization (§6).

use crate::dag::{Dag, Idx, NONE, Node};
use crate::election::Election;
use crate::event::{Equivocation, Event, MAX_EVENT_BYTES, SignatureVerifier, SignedEvent};
use parity_scale_codec::Encode;
use pc_codec::{Domain, Hash32, Identified, ShardId};
use std::collections::BTreeMap;

const ORDER_DOMAIN: Domain = Domain::new("phantomcoin/v1/consensus/order");
const COIN_DOMAIN: Domain = Domain::new("phantomcoin/v1/consensus/coin");
/// Events one seat may create in one frame on one branch without citing anything new (§8):
/// past it, an event must cite an event its self-parent does not have in its ancestry. With
/// the fork bound it bounds what a Byzantine seat can add per frame to what the others create;
/// an honest seat that reaches it waits for news ([`Engine::next_event`] answers `None`), which
/// keeps a partitioned or stalled committee quiet, and never blocks progress: after a heal the
/// other side's events are news.
pub const MAX_EVENTS_PER_FRAME: u32 = 64;

/// Engine parameters, from the chainspec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Shard of this DAG.
    pub shard: ShardId,
    /// Seats, 1..=64.
    pub seats: u8,
    /// Parents per event, 1..=4 (2..=4 when seats ≥ 2).
    pub max_parents: u8,
    /// Every `coin_period`-th voting level flips a coin instead of deciding.
    pub coin_period: u64,
    /// Global index of the first anchor this engine emits (A0 is genesis, so usually 1). It
    /// also names the DAG epoch: every event carries it, and events of another epoch are refused.
    pub first_anchor_index: u64,
}

/// A configuration the engine refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// k outside 1..=64.
    #[error("seats must be 1..=64, got {0}")]
    Seats(u8),
    /// P outside its range.
    #[error("max_parents must be 1..=4 (2..=4 with more than one seat), got {0}")]
    Parents(u8),
    /// C of 0 or 1 would leave no deciding level.
    #[error("coin_period must be at least 3, got {0}")]
    Coin(u64),
}

/// Why an event was not accepted. Nothing changes in the engine on any of these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InsertError {
    /// Already accepted.
    #[error("event already known")]
    Known,
    /// Some parents are not accepted yet; insert them first.
    #[error("{} parent(s) missing", .0.len())]
    MissingParents(Vec<Hash32>),
    /// Signature invalid.
    #[error("bad signature")]
    BadSignature,
    /// A structural or stateful rule is broken.
    #[error("invalid event: {0}")]
    Invalid(&'static str),
    /// The claimed frame differs from the recomputed one.
    #[error("frame {claimed} claimed, {computed} computed")]
    WrongFrame {
        /// What the event says.
        claimed: u64,
        /// What its parents give.
        computed: u64,
    },
    /// A third (or later) variant of one seat's event at one seq that no accepted or waiting
    /// event needs (the fork-bomb bound, §8). Offer it again with
    /// [`Engine::insert_needed`] if an event that cites it arrives.
    #[error("fork bound: seat {creator} already has two events at seq {seq}")]
    ForkBound {
        /// The equivocating seat.
        creator: u8,
        /// The seq.
        seq: u64,
    },
    /// More than f seats are Byzantine: two forks were both recognised. The engine halts.
    #[error("safety violated: more than f Byzantine seats ({0})")]
    Halted(&'static str),
}

/// A finalized anchor and its batch in total order (§6), with the facts modules are paid on
/// (§13): all derived from the finalized DAG, so every node computes the same.
#[derive(Debug, Clone, PartialEq, Eq, Encode)]
pub struct AnchorBatch {
    /// Global anchor index.
    pub index: u64,
    /// Frame the anchor was elected for.
    pub frame: u64,
    /// The anchor event's id.
    pub anchor: Hash32,
    /// Its Lamport number (consensus time is `(index, lamport)`).
    pub lamport: u64,
    /// Ids of the batch's events in total order.
    pub events: Vec<Hash32>,
    /// The shard of this DAG.
    pub shard: ShardId,
    /// The consensus epoch (the global index of its first anchor).
    pub epoch: u64,
    /// The seat that created the anchor event.
    pub creator: u8,
    /// Bit s is set when seat s created an event of the batch.
    pub creators: u64,
    /// `(seat, d)`: the ack distance of each seat that acked the previous anchor of this
    /// epoch within this batch, by seat (§13). Empty for an epoch's first anchor.
    pub acks: Vec<(u8, u64)>,
}

/// What an insertion produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// An anchor became final.
    Finalized(AnchorBatch),
    /// Proof that a seat signed two events with the same seq.
    Equivocation(Box<Equivocation>),
}

/// Counters for benchmarks and the simulator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Events accepted.
    pub events: u64,
    /// Roots among them.
    pub roots: u64,
    /// Anchors finalized.
    pub anchors: u64,
    /// Highest frame seen.
    pub max_frame: u64,
}

/// The engine of one node for one shard.
#[derive(Debug)]
pub struct Engine {
    cfg: Config,
    q: u32,
    dag: Dag,
    roots: BTreeMap<u64, Vec<Idx>>,
    votes: BTreeMap<(Idx, u64), u64>,
    elections: BTreeMap<u64, Election>,
    next_frame: u64,
    next_index: u64,
    /// The last anchor this engine finalized: the target the next batch's acks count for.
    prev_anchor: Option<Idx>,
    stats: Stats,
    halted: Option<&'static str>,
}

/// Derived facts of a would-be event.
struct Derived {
    hb: Vec<Idx>,
    cheaters: u64,
    lamport: u64,
    frame: u64,
    /// 1 for a root, else the self-parent's + 1.
    frame_seq: u32,
    /// Whether some parent is not in the self-parent's ancestry (the event brings news).
    news: bool,
}

impl Engine {
    /// A fresh engine.
    pub fn new(cfg: Config) -> Result<Self, ConfigError> {
        if !(1..=64).contains(&cfg.seats) {
            return Err(ConfigError::Seats(cfg.seats));
        }
        let min_p = if cfg.seats > 1 { 2 } else { 1 };
        if !(min_p..=4).contains(&cfg.max_parents) {
            return Err(ConfigError::Parents(cfg.max_parents));
        }
        if cfg.coin_period < 3 {
            return Err(ConfigError::Coin(cfg.coin_period));
        }
        let k = u32::from(cfg.seats);
        let q = k - (k - 1) / 3;
        Ok(Engine {
            dag: Dag::new(cfg.seats as usize),
            next_index: cfg.first_anchor_index,
            prev_anchor: None,
            cfg,
            q,
            roots: BTreeMap::new(),
            votes: BTreeMap::new(),
            elections: BTreeMap::new(),
            next_frame: 1,
            stats: Stats::default(),
            halted: None,
        })
    }

    /// The DAG epoch: the global index of the first anchor this engine emits.
    pub fn epoch(&self) -> u64 {
        self.cfg.first_anchor_index
    }

    /// Bytes this engine holds for its events and elections, counted from what it stores
    /// (event layouts, ancestry vectors, indices; allocator overhead excluded): what bounding
    /// the engine by epochs bounds (consensus.md §11).
    pub fn retained_bytes(&self) -> usize {
        use std::mem::size_of;
        let k = usize::from(self.cfg.seats);
        let nodes: usize = self
            .dag
            .nodes
            .iter()
            .map(|n| size_of::<Node>() + n.signed.event.parents.capacity() * 32 + n.hb.capacity() * size_of::<Idx>())
            .sum();
        let by_id = self.dag.by_id.capacity() * (size_of::<(Hash32, Idx)>() + 1);
        let chains: usize = self
            .dag
            .chains
            .iter()
            .map(|c| c.values().map(|v| size_of::<u64>() + size_of::<Vec<Idx>>() + v.capacity() * 4).sum::<usize>())
            .sum();
        let roots: usize = self.roots.values().map(|v| size_of::<u64>() + v.capacity() * 4).sum();
        let votes = self.votes.len() * size_of::<((Idx, u64), u64)>();
        let elections = self.elections.len() * (size_of::<Election>() + k * size_of::<Option<Idx>>());
        nodes + by_id + chains + roots + votes + elections
    }

    /// Seats of the committee, k.
    pub fn seats(&self) -> u8 {
        self.cfg.seats
    }

    /// The quorum q = k − f.
    pub fn quorum(&self) -> u32 {
        self.q
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Why the engine halted, if it did: more than f seats are Byzantine (§7). A halted engine
    /// refuses every insertion; the node must stop producing and alert its operator.
    pub fn halted(&self) -> Option<&'static str> {
        self.halted
    }

    /// Seats this node has seen equivocate.
    pub fn known_cheaters(&self) -> u64 {
        self.dag.forked
    }

    /// The answer to a pull (§3): `ids` and the ancestors a peer with `heads` lacks, chosen
    /// nearest first (at most `limit`, and while `fits` accepts them: a byte budget), returned
    /// parents first (by Lamport number). An ancestor counts as held when its seq is within the
    /// peer's head for its seat, unless that seat is known to fork, by us or by the peer
    /// (`their_cheaters`, sent with the request): then a seq says nothing about which branch
    /// the peer holds. Nearest first matters there: a forked seat's whole chain counts as not
    /// held, and an answer that began at its oldest events would never reach the ones asked
    /// for once the chain outgrew the cap; choosing by budget nearest first keeps the asked
    /// events when payloads are large.
    pub fn ancestry(
        &self,
        ids: &[Hash32],
        heads: &[u64],
        their_cheaters: u64,
        limit: usize,
        fits: &mut dyn FnMut(&SignedEvent) -> bool,
    ) -> Vec<&SignedEvent> {
        let forked = self.known_cheaters() | their_cheaters;
        let held = |e: &SignedEvent| {
            forked & (1 << e.event.creator) == 0
                && heads.get(usize::from(e.event.creator)).is_some_and(|h| e.event.seq <= *h)
        };
        let mut seen = std::collections::BTreeSet::new();
        let mut queue: std::collections::VecDeque<Idx> =
            ids.iter().filter_map(|id| self.dag.by_id.get(id).copied()).collect();
        let mut picked: Vec<Idx> = Vec::new();
        while let Some(x) = queue.pop_front() {
            if picked.len() >= limit {
                break;
            }
            if !seen.insert(x) {
                continue;
            }
            if !fits(&self.dag.node(x).signed) {
                break;
            }
            picked.push(x);
            for p in &self.dag.node(x).signed.event.parents {
                if let Some(&pi) = self.dag.by_id.get(p)
                    && !seen.contains(&pi)
                    && !held(&self.dag.node(pi).signed)
                {
                    queue.push_back(pi);
                }
            }
        }
        picked.sort_by_key(|&x| (self.dag.node(x).lamport(), self.dag.node(x).id));
        picked.into_iter().map(|x| &self.dag.node(x).signed).collect()
    }

    /// Debugging: for accepted event `id`, each root of `frame` as (its creator, its seq, the
    /// mask of seats whose event in `id`'s ancestry descends from it, whether `id`
    /// forkless-causes it).
    #[doc(hidden)]
    pub fn debug_roots_seen(&self, id: &Hash32, frame: u64) -> Vec<(u8, u64, u64, bool)> {
        let Some(&a) = self.dag.by_id.get(id) else { return Vec::new() };
        let an = self.dag.node(a);
        let mut out = Vec::new();
        for &r in self.roots.get(&frame).map(Vec::as_slice).unwrap_or_default() {
            let mut mask = 0u64;
            for (s, &y) in an.hb.iter().enumerate() {
                if y != NONE && an.cheaters & (1 << s) == 0 && self.dag.is_ancestor(r, y) {
                    mask |= 1 << s;
                }
            }
            let rn = self.dag.node(r);
            out.push((rn.creator(), rn.seq(), mask, self.dag.forkless_cause(a, r, self.q)));
        }
        out
    }

    /// The newest accepted events of `seat`: those at its highest seq (more than one only if
    /// it forked there). Empty if none is accepted or `seat` is not a seat.
    pub fn newest_of(&self, seat: u8) -> Vec<&SignedEvent> {
        self.dag
            .chains
            .get(usize::from(seat))
            .and_then(|c| c.last_key_value())
            .map(|(_, v)| v.iter().map(|i| &self.dag.node(*i).signed).collect())
            .unwrap_or_default()
    }

    /// Seats that the ancestry of an accepted event shows forking (§4).
    pub fn cheaters_of(&self, id: &Hash32) -> Option<u64> {
        self.dag.by_id.get(id).map(|i| self.dag.node(*i).cheaters)
    }

    /// Frame of an accepted event.
    pub fn frame_of(&self, id: &Hash32) -> Option<u64> {
        self.get(id).map(|e| e.event.frame)
    }

    /// True if the event is accepted.
    pub fn contains(&self, id: &Hash32) -> bool {
        self.dag.by_id.contains_key(id)
    }

    /// An accepted event by id.
    pub fn get(&self, id: &Hash32) -> Option<&SignedEvent> {
        self.dag.by_id.get(id).map(|i| &self.dag.node(*i).signed)
    }

    /// Accepts one event whose payload the caller holds. On error nothing changes.
    pub fn insert(&mut self, se: SignedEvent, verifier: &dyn SignatureVerifier) -> Result<Vec<Output>, InsertError> {
        self.insert_checked(se, verifier, false)
    }

    /// Like [`insert`](Self::insert), for an event that an event waiting in the caller's buffer
    /// cites as a parent: the fork-bomb bound does not apply, since refusing it would stall the
    /// honest event that needs it.
    pub fn insert_needed(
        &mut self,
        se: SignedEvent,
        verifier: &dyn SignatureVerifier,
    ) -> Result<Vec<Output>, InsertError> {
        self.insert_checked(se, verifier, true)
    }

    fn insert_checked(
        &mut self,
        se: SignedEvent,
        verifier: &dyn SignatureVerifier,
        needed: bool,
    ) -> Result<Vec<Output>, InsertError> {
        if let Some(why) = self.halted {
            return Err(InsertError::Halted(why));
        }
        let ev = &se.event;
        let id = ev.id();
        if self.dag.by_id.contains_key(&id) {
            return Err(InsertError::Known);
        }
        self.check_structure(&se)?;
        let variants = self.dag.chains[ev.creator as usize].get(&ev.seq).map_or(0, Vec::len);
        if variants >= 2 && !needed {
            return Err(InsertError::ForkBound { creator: ev.creator, seq: ev.seq });
        }
        let missing: Vec<Hash32> = ev.parents.iter().filter(|p| !self.dag.by_id.contains_key(*p)).copied().collect();
        if !missing.is_empty() {
            return Err(InsertError::MissingParents(missing));
        }
        if !verifier.verify(ev.creator, &id, &se.sig) {
            return Err(InsertError::BadSignature);
        }
        let parents: Vec<Idx> = ev.parents.iter().filter_map(|p| self.dag.by_id.get(p).copied()).collect();
        self.check_parents(ev, &parents)?;
        let d = self.derive(ev.creator, &parents);
        if d.lamport != ev.lamport {
            return Err(InsertError::Invalid("lamport number does not follow from the parents"));
        }
        if d.frame != ev.frame {
            return Err(InsertError::WrongFrame { claimed: ev.frame, computed: d.frame });
        }
        if d.frame_seq > MAX_EVENTS_PER_FRAME && !d.news {
            return Err(InsertError::Invalid("too many events of one seat in one frame without news"));
        }
        if self.dag.nodes.len() >= NONE as usize {
            // Until pruning lands, an epoch holds at most 2^32 − 1 events; refusing is safe,
            // an index that wrapped would not be.
            return Err(InsertError::Invalid("the engine's event index is full for this DAG epoch"));
        }
        Ok(self.accept(se, id, d))
    }

    fn check_structure(&self, se: &SignedEvent) -> Result<(), InsertError> {
        let ev = &se.event;
        if se.encoded_size() > MAX_EVENT_BYTES {
            return Err(InsertError::Invalid("event too large"));
        }
        if ev.shard != self.cfg.shard {
            return Err(InsertError::Invalid("event of another shard"));
        }
        if ev.epoch != self.cfg.first_anchor_index {
            return Err(InsertError::Invalid("event of another DAG epoch"));
        }
        if ev.creator >= self.cfg.seats {
            return Err(InsertError::Invalid("creator is not a seat"));
        }
        if ev.seq == 0 {
            return Err(InsertError::Invalid("seq starts at 1"));
        }
        if ev.parents.len() > self.cfg.max_parents as usize {
            return Err(InsertError::Invalid("too many parents"));
        }
        let mut sorted = ev.parents.clone();
        sorted.sort();
        sorted.dedup();
        if sorted.len() != ev.parents.len() {
            return Err(InsertError::Invalid("duplicate parent"));
        }
        if ev.seq > 1 && ev.parents.is_empty() {
            return Err(InsertError::Invalid("missing self-parent"));
        }
        Ok(())
    }

    fn check_parents(&self, ev: &Event, parents: &[Idx]) -> Result<(), InsertError> {
        let mut creators = 0u64;
        for (i, &p) in parents.iter().enumerate() {
            let pn = self.dag.node(p);
            let bit = 1u64 << pn.creator();
            if creators & bit != 0 {
                return Err(InsertError::Invalid("two parents by one creator"));
            }
            creators |= bit;
            let own = pn.creator() == ev.creator;
            match (i, ev.seq > 1) {
                (0, true) if !own || pn.seq() + 1 != ev.seq => {
                    return Err(InsertError::Invalid("first parent must be the self-parent at seq - 1"));
                }
                (0, true) => {}
                _ if own => return Err(InsertError::Invalid("self-parent out of place")),
                _ => {}
            }
        }
        if self.cfg.seats > 1 && ev.seq > 1 && parents.len() < 2 {
            return Err(InsertError::Invalid("no cross-link to another seat"));
        }
        Ok(())
    }

    /// hb, cheaters, Lamport number and frame of an event by `creator` on `parents`.
    fn derive(&self, creator: u8, parents: &[Idx]) -> Derived {
        let k = self.cfg.seats as usize;
        let mut hb = vec![NONE; k];
        let mut cheaters = 0u64;
        let mut lamport = 0;
        let mut max_frame = 0;
        for &p in parents {
            let pn = self.dag.node(p);
            cheaters |= pn.cheaters;
            lamport = lamport.max(pn.lamport());
            max_frame = max_frame.max(pn.frame());
            for (s, &cand) in pn.hb.iter().enumerate() {
                if cand == NONE || hb[s] == cand {
                    continue;
                }
                if hb[s] == NONE {
                    hb[s] = cand;
                    continue;
                }
                let (lo, hi) =
                    if self.dag.node(hb[s]).seq() <= self.dag.node(cand).seq() { (hb[s], cand) } else { (cand, hb[s]) };
                if self.dag.chain_at(hi, self.dag.node(lo).seq()) != Some(lo) {
                    cheaters |= 1 << s;
                }
                hb[s] = hi;
            }
        }
        // The new event is the newest of its creator: any other event of the creator in the
        // ancestry must lie on its self-chain, i.e. be the self-parent's chain.
        let own = hb[creator as usize];
        let self_parent = parents.first().copied().filter(|p| self.dag.node(*p).creator() == creator);
        if own != NONE {
            let on_chain = self_parent.is_some_and(|sp| self.dag.chain_at(sp, self.dag.node(own).seq()) == Some(own));
            if !on_chain {
                cheaters |= 1 << creator;
            }
        }
        let self_frame = self_parent.map_or(0, |sp| self.dag.node(sp).frame());
        let frame = self.frame_rule(&hb, cheaters, self_frame, max_frame);
        let frame_seq = match self_parent {
            Some(sp) if self_frame == frame => self.dag.node(sp).frame_seq.saturating_add(1),
            _ => 1,
        };
        let news = match self_parent {
            None => true,
            Some(sp) => parents.iter().skip(1).any(|&p| {
                let (c, seq) = (usize::from(self.dag.node(p).creator()), self.dag.node(p).seq());
                let known = self.dag.node(sp).hb[c];
                known == NONE || self.dag.node(known).seq() < seq
            }),
        };
        Derived { hb, cheaters, lamport: lamport + 1, frame, frame_seq, news }
    }

    /// The frame rule (§4): the highest F with `self_frame < F ≤ max_frame + 1` such that F = 1
    /// or the would-be event forkless-causes the roots of a quorum of seats in frame F − 1;
    /// `self_frame` if there is none (the event is then not a root). A frame is never inherited
    /// from a parent without the quorum check: an event whose ancestry newly shows a cheater
    /// may forkless-cause fewer roots than its parents did, and a root below quorum would vote
    /// on too few votes (§7).
    fn frame_rule(&self, hb: &[Idx], cheaters: u64, self_frame: u64, max_frame: u64) -> u64 {
        let mut f = max_frame + 1;
        while f > self_frame {
            if f == 1 || self.observes_quorum(hb, cheaters, f - 1) {
                return f;
            }
            f -= 1;
        }
        self_frame
    }

    /// Whether an event with ancestry `hb` and fork mask `cheaters` forkless-causes the roots of
    /// at least q seats in `frame`.
    fn observes_quorum(&self, hb: &[Idx], cheaters: u64, frame: u64) -> bool {
        let Some(roots) = self.roots.get(&frame) else { return false };
        let mut seen = 0u64;
        for &r in roots {
            let bit = 1u64 << self.dag.node(r).creator();
            if seen & bit == 0 && self.dag.forkless_cause_from(hb, cheaters, r, self.q) {
                seen |= bit;
                if seen.count_ones() >= self.q {
                    return true;
                }
            }
        }
        false
    }

    fn accept(&mut self, se: SignedEvent, id: Hash32, d: Derived) -> Vec<Output> {
        let mut out = Vec::new();
        let (creator, seq, frame) = (se.event.creator, se.event.seq, se.event.frame);
        let idx = Idx::try_from(self.dag.nodes.len()).unwrap_or(NONE);
        let self_parent = if seq == 1 {
            NONE
        } else {
            se.event.parents.first().and_then(|p| self.dag.by_id.get(p)).copied().unwrap_or(NONE)
        };
        let self_frame = (self_parent != NONE).then(|| self.dag.node(self_parent));
        let is_root = seq == 1 || self_frame.is_none_or(|p| p.creator() != creator || p.frame() < frame);
        let known = self.dag.chains[creator as usize].get(&seq).map_or(&[][..], Vec::as_slice);
        if let Some(&first) = known.first() {
            if known.len() == 1 {
                let first = self.dag.node(first).signed.clone();
                out.push(Output::Equivocation(Box::new(Equivocation { first, second: se.clone() })));
            }
            self.dag.forked |= 1 << creator;
        }
        self.dag.chains[creator as usize].entry(seq).or_default().push(idx);
        let mut hb = d.hb;
        hb[creator as usize] = idx;
        self.dag.by_id.insert(id, idx);
        self.dag.nodes.push(Node {
            signed: se,
            id,
            hb,
            cheaters: d.cheaters,
            self_parent,
            frame_seq: d.frame_seq,
            finalized: false,
        });
        self.stats.events += 1;
        self.stats.max_frame = self.stats.max_frame.max(frame);
        if is_root {
            self.stats.roots += 1;
            self.roots.entry(frame).or_default().push(idx);
            if let Err(why) = self.vote(idx) {
                self.halted = Some(why);
                return out;
            }
            match self.finalize() {
                Ok(batches) => out.extend(batches.into_iter().map(Output::Finalized)),
                Err(why) => self.halted = Some(why),
            }
        }
        out
    }

    /// Casts root `r`'s votes in every open election below its frame (§5).
    fn vote(&mut self, r: Idx) -> Result<(), &'static str> {
        let g = self.dag.node(r).frame();
        let k = self.cfg.seats as usize;
        for f in self.next_frame..g {
            let j = g - f;
            let mut mask = 0u64;
            if j == 1 {
                let cands = self.roots.get(&f).cloned().unwrap_or_default();
                let el = self.elections.entry(f).or_insert_with(|| Election::new(k));
                for c in cands {
                    if self.dag.forkless_cause(r, c, self.q) {
                        let s = self.dag.node(c).creator() as usize;
                        match el.slot_root[s] {
                            Some(prev) if prev != c => return Err("two roots of one seat gathered votes"),
                            _ => el.slot_root[s] = Some(c),
                        }
                        mask |= 1 << s;
                    }
                }
            } else {
                let mut voters = 0u64;
                let mut yes = vec![0u32; k];
                let mut n = 0u32;
                for &v in self.roots.get(&(g - 1)).map(Vec::as_slice).unwrap_or_default() {
                    let Some(&vm) = self.votes.get(&(v, f)) else { continue };
                    if !self.dag.forkless_cause(r, v, self.q) {
                        continue;
                    }
                    let bit = 1u64 << self.dag.node(v).creator();
                    if voters & bit != 0 {
                        return Err("one observer forkless-causes two roots of one seat");
                    }
                    voters |= bit;
                    n += 1;
                    for (s, y) in yes.iter_mut().enumerate() {
                        *y += ((vm >> s) & 1) as u32;
                    }
                }
                if n < self.q {
                    // Unreachable by the frame rule (§4, §7): every root of frame g ≥ 2
                    // forkless-causes q roots of frame g − 1, each of which voted in every
                    // election still open when it arrived. Voting on fewer would break the
                    // agreement argument, so the engine halts instead.
                    return Err("a root observed fewer than q voters");
                }
                let coin_level = j.is_multiple_of(self.cfg.coin_period);
                let coin = u64::from_le_bytes(self.coin_bytes(r));
                let el = self.elections.entry(f).or_insert_with(|| Election::new(k));
                for (s, &y) in yes.iter().enumerate() {
                    let no = n - y;
                    let vote = if y >= self.q {
                        true
                    } else if no >= self.q {
                        false
                    } else if coin_level {
                        (coin >> s) & 1 == 1
                    } else {
                        y >= no
                    };
                    if !coin_level && (y >= self.q || no >= self.q) {
                        el.decide(s, y >= self.q);
                    }
                    if vote {
                        mask |= 1 << s;
                    }
                }
            }
            self.votes.insert((r, f), mask);
        }
        Ok(())
    }

    /// The coin of root `r`: from its id only. Never from its signature: a BIP-340 signer can
    /// make many valid signatures over one id, and nodes deduplicate by id, so two honest nodes
    /// may hold different signature bytes for the same root (§5).
    fn coin_bytes(&self, r: Idx) -> [u8; 8] {
        let h = COIN_DOMAIN.hash(&self.dag.node(r).id.0);
        let mut b = [0u8; 8];
        b.copy_from_slice(&h.0[..8]);
        b
    }

    /// Emits every anchor whose election completed, in frame order (§5, §6).
    fn finalize(&mut self) -> Result<Vec<AnchorBatch>, &'static str> {
        let k = self.cfg.seats as usize;
        let mut out = Vec::new();
        loop {
            let f = self.next_frame;
            let Some(el) = self.elections.get(&f) else { break };
            let Some(outcome) = el.outcome(k, (f % k as u64) as usize) else { break };
            let anchor = match outcome {
                Some(slot) => Some(el.slot_root[slot].ok_or("a slot decided yes without a named root")?),
                None => None,
            };
            if let Some(anchor) = anchor {
                out.push(self.batch(anchor, f));
            }
            self.elections.remove(&f);
            self.votes.retain(|(_, vf), _| *vf != f);
            self.next_frame += 1;
        }
        Ok(out)
    }

    /// Every not-yet-final ancestor of `anchor`, in total order.
    fn batch(&mut self, anchor: Idx, frame: u64) -> AnchorBatch {
        let mut stack = vec![anchor];
        let mut picked = Vec::new();
        while let Some(x) = stack.pop() {
            let node = &mut self.dag.nodes[x as usize];
            if node.finalized {
                continue;
            }
            node.finalized = true;
            picked.push(x);
            for p in &node.signed.event.parents {
                if let Some(&pi) = self.dag.by_id.get(p) {
                    stack.push(pi);
                }
            }
        }
        let anchor_id = self.dag.node(anchor).id;
        let mut keyed: Vec<(u64, Hash32, Hash32)> = picked
            .iter()
            .map(|&x| {
                let n = self.dag.node(x);
                let mut h = ORDER_DOMAIN.hasher();
                h.update(&anchor_id.0);
                h.update(&n.id.0);
                (n.lamport(), Hash32(*h.finalize().as_bytes()), n.id)
            })
            .collect();
        keyed.sort();
        let (creators, acks) = self.facts(&picked);
        self.prev_anchor = Some(anchor);
        let index = self.next_index;
        self.next_index += 1;
        self.stats.anchors += 1;
        let a = self.dag.node(anchor);
        AnchorBatch {
            index,
            frame,
            anchor: anchor_id,
            lamport: a.lamport(),
            events: keyed.into_iter().map(|(_, _, id)| id).collect(),
            shard: self.cfg.shard,
            epoch: self.cfg.first_anchor_index,
            creator: a.creator(),
            creators,
            acks,
        }
    }

    /// The creators of a batch and each seat's ack of the previous anchor T (§13): among the
    /// seat's batch events that have T as an ancestor and do not see T's creator fork, the
    /// lowest frame f gives distance d = f − frame(T) + 1. Each event's frame, ancestry and
    /// cheater set are fixed by its id, and the batch is the same on every node, so the facts
    /// are too; the order of local indices never matters (a minimum, then sorted by seat).
    fn facts(&self, picked: &[Idx]) -> (u64, Vec<(u8, u64)>) {
        let mut creators = 0u64;
        let mut best: BTreeMap<u8, u64> = BTreeMap::new();
        let target = self.prev_anchor.map(|t| (t, self.dag.node(t)));
        for &x in picked {
            let n = self.dag.node(x);
            creators |= 1 << n.creator();
            let Some((t, tn)) = target else { continue };
            if n.cheaters & (1 << tn.creator()) != 0 || !self.dag.is_ancestor(t, x) {
                continue;
            }
            let d = n.frame().saturating_sub(tn.frame()) + 1;
            let e = best.entry(n.creator()).or_insert(d);
            *e = (*e).min(d);
        }
        (creators, best.into_iter().collect())
    }

    /// The event `creator` would sign on exactly these `parents` (self-parent first iff it has
    /// one), with seq, Lamport number and frame derived as every receiver will. For tests,
    /// fuzzers and simulated adversaries that choose parents themselves; honest creators use
    /// [`next_event`](Self::next_event). The event is not inserted; insertion checks it again.
    pub fn event_on(
        &self,
        creator: u8,
        parents: &[Hash32],
        payload_root: Hash32,
        payload_len: u32,
    ) -> Result<Event, InsertError> {
        let mut idx = Vec::with_capacity(parents.len());
        for p in parents {
            idx.push(*self.dag.by_id.get(p).ok_or_else(|| InsertError::MissingParents(vec![*p]))?);
        }
        let seq = idx.first().map(|&p| self.dag.node(p)).filter(|n| n.creator() == creator).map_or(1, |n| n.seq() + 1);
        let mut ev = Event {
            shard: self.cfg.shard,
            epoch: self.cfg.first_anchor_index,
            creator,
            seq,
            parents: parents.to_vec(),
            lamport: 0,
            frame: 0,
            payload_root,
            payload_len,
        };
        self.check_structure(&SignedEvent { event: ev.clone(), sig: [0; 64] })?;
        self.check_parents(&ev, &idx)?;
        let d = self.derive(creator, &idx);
        if d.frame_seq > MAX_EVENTS_PER_FRAME && !d.news {
            return Err(InsertError::Invalid("too many events of one seat in one frame without news"));
        }
        ev.lamport = d.lamport;
        ev.frame = d.frame;
        Ok(ev)
    }

    /// The next event an honest `creator` would sign: self-parent first, then up to P−1 heads
    /// of other seats it has not seen yet (rotating the start seat to spread links), skipping
    /// seats it knows to equivocate. `None` while the cross-link rule cannot be met yet.
    pub fn next_event(&self, creator: u8, payload_root: Hash32, payload_len: u32) -> Option<Event> {
        let k = self.cfg.seats as usize;
        let head =
            |s: usize| self.dag.chains.get(s).and_then(|c| c.last_key_value()).and_then(|(_, v)| v.first().copied());
        let self_parent = head(creator as usize);
        let seq = self_parent.map_or(1, |p| self.dag.node(p).seq() + 1);
        let mut parents: Vec<Idx> = self_parent.into_iter().collect();
        let seen = |s: usize, h: Idx| self_parent.is_some_and(|sp| self.dag.node(sp).hb[s] == h);
        let start = (creator as usize + seq as usize) % k;
        let mut fallback = None;
        for i in 0..k {
            let s = (start + i) % k;
            if s == creator as usize || self.dag.forked & (1 << s) != 0 {
                continue;
            }
            let Some(h) = head(s) else { continue };
            if seen(s, h) {
                fallback = fallback.or(Some(h));
                continue;
            }
            if parents.len() < self.cfg.max_parents as usize {
                parents.push(h);
            }
        }
        if parents.len() < 2 && self.cfg.seats > 1 && seq > 1 {
            parents.extend(fallback);
            if parents.len() < 2 {
                return None;
            }
        }
        let d = self.derive(creator, &parents);
        if d.frame_seq > MAX_EVENTS_PER_FRAME && !d.news {
            return None; // wait for news
        }
        Some(Event {
            shard: self.cfg.shard,
            epoch: self.cfg.first_anchor_index,
            creator,
            seq,
            parents: parents.iter().map(|&p| self.dag.node(p).id).collect(),
            lamport: d.lamport,
            frame: d.frame,
            payload_root,
            payload_len,
        })
    }
}
