//! The adversarial DAG fuzzer: drives [`Engine`] directly, without a network model, from a
//! script of bytes (a cargo-fuzz input or a proptest vector), so that the search reaches DAG
//! shapes no scheduler produces on its own.
//!
//! The script picks k (2..=7), up to f forking seats, P and the coin period, then a sequence of
//! steps: an honest seat creates an event on arbitrary parents from its own view (not only
//! heads), a forking seat creates an event on arbitrary parents from everything that exists
//! (any of its own events as self-parent, so branches and long divergent chains appear), or an
//! event is delivered to one observer with the ancestors it lacks. Each honest seat is an
//! observer with its own view; one more observer holds no seat. Optionally every observer holds
//! other valid signature bytes for the same events (signature variance). At the end everything
//! is delivered to every observer in an order of its own.
//!
//! Checked: no observer halts, no honest event is refused, every observer's anchors are a
//! prefix of every other's, and every fork an observer accepted produced evidence.

use crate::node::{SimKeys, sign_with_nonce};
use pc_codec::{Hash32, Identified};
use pc_consensus::{AnchorBatch, Config, Engine, InsertError, Output, SignedEvent};
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Events created at most per script.
const MAX_EVENTS: usize = 400;

/// What one script produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DagFuzzReport {
    /// Seats k.
    pub seats: u8,
    /// Forking seats.
    pub forking: u8,
    /// Events created.
    pub events: usize,
    /// Anchors of the observer that finalized most.
    pub anchors: usize,
    /// Forks (two events of one seat at one seq) among the created events.
    pub forks: usize,
}

/// Reads the script; past its end every read is 0 and `done` is set.
struct Script<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Script<'_> {
    fn byte(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }
    fn pick(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        let v = u16::from_le_bytes([self.byte(), self.byte()]);
        usize::from(v) % n
    }
    fn done(&self) -> bool {
        self.pos >= self.data.len()
    }
}

struct Observer {
    seat: Option<u8>,
    engine: Engine,
    /// Accepted ids in acceptance order (the view honest creators pick parents from).
    held: Vec<Hash32>,
    anchors: Vec<AnchorBatch>,
    evidence: BTreeSet<(u8, u64)>,
}

struct World {
    k: u8,
    byz: u64,
    variance: bool,
    /// Every created event, parents before children.
    pool: Vec<SignedEvent>,
    index: HashMap<Hash32, usize>,
    observers: Vec<Observer>,
    /// The adversary's engine: it holds every event.
    adversary: Engine,
    violations: Vec<String>,
}

impl World {
    /// Index, among `seat`'s own events, of the newest event on branch `b` (0 or 1): the
    /// branches split at the seat's first fork, if any.
    fn branch_head(&self, seat: u8, b: usize) -> Option<usize> {
        let own: Vec<&SignedEvent> = self.pool.iter().filter(|e| e.event.creator == seat).collect();
        // Branch of each own event: the branch of its self-parent, or a new one when the
        // self-parent already has a child.
        let mut branch: Vec<usize> = Vec::with_capacity(own.len());
        let mut children: HashMap<Hash32, usize> = HashMap::new();
        let pos: HashMap<Hash32, usize> = own.iter().enumerate().map(|(i, e)| (e.event.id(), i)).collect();
        for e in &own {
            let sp = e.event.parents.first().filter(|p| pos.contains_key(*p));
            let br = match sp {
                Some(p) => {
                    let n = children.entry(*p).or_default();
                    *n += 1;
                    if *n == 1 { branch[pos[p]] } else { (branch[pos[p]] + 1) % 2 }
                }
                None => branch.len().min(1),
            };
            branch.push(br);
        }
        branch.iter().rposition(|x| *x == b)
    }

    fn honest(&self, creator: u8) -> bool {
        self.byz & (1 << creator) == 0
    }

    /// Delivers pool event `i` to observer `o` with every ancestor it lacks, parents first.
    /// An ancestor pulled for a child of another creator (or for a child that is itself so
    /// needed) is inserted as needed, as `Fetch::is_needed_by_others` tells a node.
    fn deliver(&mut self, o: usize, i: usize) {
        // Post-order walk: (pool index, needed by others, expanded?).
        let mut stack = vec![(i, false, false)];
        while let Some((x, needed, expanded)) = stack.pop() {
            let ev = &self.pool[x];
            let id = ev.event.id();
            if self.observers[o].engine.contains(&id) {
                continue;
            }
            if !expanded {
                stack.push((x, needed, true));
                for p in &ev.event.parents {
                    if let Some(&pi) = self.index.get(p) {
                        let by_other = self.pool[pi].event.creator != ev.event.creator || needed;
                        stack.push((pi, by_other, false));
                    }
                }
                continue;
            }
            let mut se = ev.clone();
            if self.variance {
                se.sig = sign_with_nonce(se.event.creator, &id, o as u64 + 1);
            }
            self.insert(o, se, needed);
        }
    }

    fn insert(&mut self, o: usize, se: SignedEvent, needed: bool) {
        let creator = se.event.creator;
        let id = se.event.id();
        let ob = &mut self.observers[o];
        let res = if needed { ob.engine.insert_needed(se, &SimKeys) } else { ob.engine.insert(se, &SimKeys) };
        match res {
            Ok(outs) => {
                ob.held.push(id);
                for out in outs {
                    match out {
                        Output::Finalized(b) => ob.anchors.push(b),
                        Output::Equivocation(e) => {
                            ob.evidence.insert((e.first.event.creator, e.first.event.seq));
                        }
                    }
                }
            }
            Err(InsertError::Known) => {}
            Err(InsertError::Halted(why)) => {
                self.violations.push(format!("observer {o} halted: {why}"));
            }
            Err(e) if self.byz & (1 << creator) == 0 => {
                self.violations.push(format!("observer {o} refused an honest event of seat {creator}: {e}"));
            }
            Err(_) => {}
        }
    }

    fn push(&mut self, se: SignedEvent) {
        let id = se.event.id();
        if self.index.contains_key(&id) {
            return;
        }
        if let Err(e) = self.adversary.insert_needed(se.clone(), &SimKeys)
            && e != InsertError::Known
        {
            // The adversary's engine holds everything; a refusal here is a broken event.
            if self.honest(se.event.creator) {
                self.violations.push(format!("the adversary's engine refused an honest event: {e}"));
            }
            return;
        }
        self.index.insert(id, self.pool.len());
        self.pool.push(se);
    }

    /// An honest seat's next event on parents chosen by the script from its own view.
    fn create_honest(&mut self, seat: u8, s: &mut Script, max_parents: usize) {
        let Some(o) = self.observers.iter().position(|ob| ob.seat == Some(seat)) else { return };
        let ob = &self.observers[o];
        let own = ob.held.iter().rev().find(|id| ob.engine.get(id).is_some_and(|e| e.event.creator == seat));
        let mut parents: Vec<Hash32> = own.copied().into_iter().collect();
        let mut creators = 1u64 << seat;
        let wanted = 1 + s.pick(max_parents);
        for _ in 0..wanted {
            if parents.len() >= max_parents || ob.held.is_empty() {
                break;
            }
            let cand = ob.held[recent(s, ob.held.len(), 2 * usize::from(self.k))];
            let Some(c) = ob.engine.get(&cand).map(|e| e.event.creator) else { continue };
            if creators & (1 << c) == 0 {
                creators |= 1 << c;
                parents.push(cand);
            }
        }
        let payload = Hash32(blake3::hash(&(self.pool.len() as u64).to_le_bytes()).into());
        let Ok(ev) = ob.engine.event_on(seat, &parents, payload, 0) else { return };
        let se = SignedEvent { sig: sign_with_nonce(seat, &ev.id(), 0), event: ev };
        self.insert(o, se.clone(), false);
        self.push(se);
    }

    /// A forking seat's event on any of its own events (or none) and any other parents.
    fn create_byzantine(&mut self, seat: u8, s: &mut Script, max_parents: usize) {
        let own: Vec<Hash32> = self.pool.iter().filter(|e| e.event.creator == seat).map(|e| e.event.id()).collect();
        let mut parents = Vec::new();
        let mut creators = 1u64 << seat;
        let choice = s.byte();
        if !own.is_empty() && !choice.is_multiple_of(16) {
            // Mostly the head of one of two long branches, sometimes any older event (a fork).
            let pick = match choice % 4 {
                0 => s.pick(own.len()),
                1 => self.branch_head(seat, 1).unwrap_or(own.len() - 1),
                _ => self.branch_head(seat, 0).unwrap_or(own.len() - 1),
            };
            parents.push(own[pick]);
        }
        let wanted = 1 + s.pick(max_parents);
        for _ in 0..wanted {
            if parents.len() >= max_parents || self.pool.is_empty() {
                break;
            }
            let cand = &self.pool[recent(s, self.pool.len(), 2 * usize::from(self.k))];
            if creators & (1 << cand.event.creator) == 0 {
                creators |= 1 << cand.event.creator;
                parents.push(cand.event.id());
            }
        }
        let payload =
            Hash32(blake3::hash(&[&[seat, s.byte()][..], &(self.pool.len() as u64).to_le_bytes()].concat()).into());
        let Ok(ev) = self.adversary.event_on(seat, &parents, payload, 0) else { return };
        let se = SignedEvent { sig: sign_with_nonce(seat, &ev.id(), 0), event: ev };
        self.push(se);
    }
}

/// An index below `len`, three times in four among the newest `window` (parents near the
/// heads make frames advance), else anywhere (old parents).
fn recent(s: &mut Script, len: usize, window: usize) -> usize {
    if s.byte().is_multiple_of(4) || len <= window { s.pick(len) } else { len - 1 - s.pick(window) }
}

/// Runs one script. `Err` lists the violations found.
pub fn adversarial_dag(data: &[u8]) -> Result<DagFuzzReport, Vec<String>> {
    let mut s = Script { data, pos: 0 };
    let k: u8 = [2, 3, 4, 4, 4, 5, 7][s.pick(7)];
    let f = (k - 1) / 3;
    let forking = if s.byte().is_multiple_of(4) { s.pick(usize::from(f) + 1) as u8 } else { f };
    let offset = s.pick(usize::from(k)) as u8;
    let byz = (0..forking).fold(0u64, |m, i| m | 1 << ((offset + i) % k));
    let max_parents = 2 + s.pick(3);
    let coin_period = 3 + s.pick(6) as u64;
    let variance = s.byte().is_multiple_of(2);
    let cfg = Config { shard: 0, seats: k, max_parents: max_parents as u8, coin_period, first_anchor_index: 1 };
    let engine = || Engine::new(cfg.clone()).map_err(|e| vec![e.to_string()]);
    let mut observers = Vec::new();
    for seat in (0..k).filter(|c| byz & (1 << c) == 0).map(Some).chain([None]) {
        observers.push(Observer {
            seat,
            engine: engine()?,
            held: Vec::new(),
            anchors: Vec::new(),
            evidence: BTreeSet::new(),
        });
    }
    let mut w = World {
        k,
        byz,
        variance,
        pool: Vec::new(),
        index: HashMap::new(),
        observers,
        adversary: engine()?,
        violations: Vec::new(),
    };
    while !s.done() && w.pool.len() < MAX_EVENTS {
        match s.byte() % 8 {
            0..=3 => {
                let seat = s.pick(usize::from(k)) as u8;
                if w.honest(seat) {
                    w.create_honest(seat, &mut s, max_parents);
                } else {
                    w.create_byzantine(seat, &mut s, max_parents);
                }
            }
            4..=6 => {
                let (o, i) = (s.pick(w.observers.len()), s.pick(w.pool.len()));
                if !w.pool.is_empty() {
                    w.deliver(o, i);
                }
            }
            _ => {
                // Gossip: the newest event of each seat reaches every observer.
                let mut newest: BTreeMap<u8, usize> = BTreeMap::new();
                for (i, e) in w.pool.iter().enumerate() {
                    newest.insert(e.event.creator, i);
                }
                for o in 0..w.observers.len() {
                    for &i in newest.values() {
                        w.deliver(o, i);
                    }
                }
            }
        }
    }
    // Everything reaches everyone, each observer in an order of its own.
    let mut rng = ChaCha8Rng::seed_from_u64(u64::from_le_bytes(
        blake3::hash(data).as_bytes()[..8].try_into().unwrap_or_default(),
    ));
    for o in 0..w.observers.len() {
        let mut order: Vec<usize> = (0..w.pool.len()).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
        }
        for i in order {
            w.deliver(o, i);
        }
    }
    check(&mut w);
    let mut slots: BTreeMap<(u8, u64), usize> = BTreeMap::new();
    for e in &w.pool {
        *slots.entry((e.event.creator, e.event.seq)).or_default() += 1;
    }
    let report = DagFuzzReport {
        seats: k,
        forking,
        events: w.pool.len(),
        anchors: w.observers.iter().map(|o| o.anchors.len()).max().unwrap_or(0),
        forks: slots.values().filter(|n| **n > 1).count(),
    };
    if w.violations.is_empty() {
        Ok(report)
    } else {
        let mut v = vec![format!(
            "k={k} forking={forking} P={max_parents} coin_period={coin_period} variance={variance} events={}",
            report.events
        )];
        v.append(&mut w.violations);
        Err(v)
    }
}

fn check(w: &mut World) {
    let obs = &w.observers;
    for (i, a) in obs.iter().enumerate() {
        for (j, b) in obs.iter().enumerate().skip(i + 1) {
            if let Some(pos) = a.anchors.iter().zip(&b.anchors).position(|(x, y)| x != y) {
                w.violations.push(format!("observers {i} and {j} disagree at anchor #{pos}"));
            }
        }
        let mut variants: BTreeMap<(u8, u64), u32> = BTreeMap::new();
        for id in &a.held {
            if let Some(e) = a.engine.get(id) {
                *variants.entry((e.event.creator, e.event.seq)).or_default() += 1;
            }
        }
        for (slot, n) in variants {
            if n > 1 && !a.evidence.contains(&slot) {
                w.violations.push(format!("observer {i} accepted a fork at {slot:?} without evidence"));
            }
        }
    }
}
