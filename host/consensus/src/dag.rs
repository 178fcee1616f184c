//! Accepted events with their ancestry vectors (§4).

use crate::event::SignedEvent;
use pc_codec::Hash32;
use std::collections::{BTreeMap, HashMap};

/// Local index of an accepted event.
pub(crate) type Idx = u32;
/// "No event" in a highest-before vector.
pub(crate) const NONE: Idx = Idx::MAX;

#[derive(Debug)]
pub(crate) struct Node {
    pub signed: SignedEvent,
    pub id: Hash32,
    /// hb[s]: index of the highest event of seat s in this event's ancestry (itself included).
    pub hb: Vec<Idx>,
    /// Seats this event's ancestry shows forking.
    pub cheaters: u64,
    /// The self-parent's index (NONE at seq 1): walking a forked chain needs no id lookups.
    pub self_parent: Idx,
    /// Position among its creator's events of its frame on its branch (1 for the root).
    pub frame_seq: u32,
    pub finalized: bool,
}

impl Node {
    pub fn creator(&self) -> u8 {
        self.signed.event.creator
    }
    pub fn seq(&self) -> u64 {
        self.signed.event.seq
    }
    pub fn frame(&self) -> u64 {
        self.signed.event.frame
    }
    pub fn lamport(&self) -> u64 {
        self.signed.event.lamport
    }
}

/// The accepted DAG.
#[derive(Debug, Default)]
pub(crate) struct Dag {
    pub nodes: Vec<Node>,
    /// Id → index. Only ever looked up, never iterated, so its order cannot leak into
    /// consensus; hashing beats 32-byte comparisons on the hottest path of insertion.
    pub by_id: HashMap<Hash32, Idx>,
    /// Per seat: seq → accepted events at that seq (more than one only for forks).
    pub chains: Vec<BTreeMap<u64, Vec<Idx>>>,
    /// Seats with two accepted events at one seq. Only an optimisation: for other seats every
    /// local event lies on one chain, so ancestry is a comparison of seq numbers.
    pub forked: u64,
}

impl Dag {
    pub fn new(k: usize) -> Self {
        Dag { nodes: Vec::new(), by_id: HashMap::new(), chains: vec![BTreeMap::new(); k], forked: 0 }
    }

    pub fn node(&self, i: Idx) -> &Node {
        &self.nodes[i as usize]
    }

    /// The event of `x`'s self-chain at `seq` (x itself when equal), walking self-parents only
    /// when that position holds a fork locally.
    pub fn chain_at(&self, x: Idx, seq: u64) -> Option<Idx> {
        let n = self.node(x);
        if seq > n.seq() || seq == 0 {
            return None;
        }
        if seq == n.seq() {
            return Some(x);
        }
        let slot = self.chains.get(n.creator() as usize)?.get(&seq)?;
        if let [only] = slot.as_slice() {
            return Some(*only);
        }
        let mut cur = x;
        while self.node(cur).seq() > seq {
            cur = self.node(cur).self_parent;
            if cur == NONE {
                return None;
            }
        }
        Some(cur)
    }

    /// Is `b` an ancestor of (or equal to) `y`? Valid when `y` does not see `b`'s creator fork.
    pub fn is_ancestor(&self, b: Idx, y: Idx) -> bool {
        let bn = self.node(b);
        let z = self.node(y).hb[bn.creator() as usize];
        if z == NONE || self.node(z).seq() < bn.seq() {
            return false;
        }
        if self.forked & (1 << bn.creator()) == 0 {
            return true; // one chain: the event at seq(b) below z is b itself
        }
        self.chain_at(z, bn.seq()) == Some(b)
    }

    /// Forkless cause (§4): a quorum of seats that `a` does not see cheating have an event
    /// that descends from `b` and is an ancestor of `a`.
    pub fn forkless_cause(&self, a: Idx, b: Idx, q: u32) -> bool {
        let an = self.node(a);
        self.forkless_cause_from(&an.hb, an.cheaters, b, q)
    }

    /// Forkless cause from an ancestry vector and fork mask (the observer may not exist yet).
    pub fn forkless_cause_from(&self, hb: &[Idx], cheaters: u64, b: Idx, q: u32) -> bool {
        if cheaters & (1 << self.node(b).creator()) != 0 {
            return false;
        }
        let (mut yes, mut left) = (0, hb.len() as u32);
        for (s, &y) in hb.iter().enumerate() {
            left -= 1;
            if y != NONE && cheaters & (1 << s) == 0 && self.is_ancestor(b, y) {
                yes += 1;
                if yes >= q {
                    return true;
                }
            }
            if yes + left < q {
                return false;
            }
        }
        false
    }
}
