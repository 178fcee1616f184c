//! Fetch bookkeeping shared by every driver of the engine (the networked replica, the
//! simulator): events parked until their parents arrive, and the pulls that fetch those parents
//! (docs/spec/consensus.md §3). Time is the driver's `T` (an `Instant`, a simulated tick), so the
//! engine itself stays clock-free; what to send and to whom stays with the driver.

use pc_codec::Hash32;
use std::collections::BTreeMap;

/// Events parked at most; past it a parked event is dropped and fetched again later.
pub const PENDING_CAP: usize = 4096;
/// A seat's share of [`PENDING_CAP`] never drops below this.
pub const MIN_SEAT_SHARE: usize = 64;

/// One outstanding pull of an event id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pull<T> {
    /// When the pull is retried if the event has not arrived.
    pub due: T,
    /// Attempts so far.
    pub attempts: u32,
}

/// Where a parked event sits in its creator's chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    /// Its creator seat.
    pub creator: u8,
    /// Its seq.
    pub seq: u64,
    /// Its self-parent (`None` at seq 1).
    pub self_parent: Option<Hash32>,
}

impl Origin {
    /// The origin of an event.
    pub fn of(e: &crate::Event) -> Self {
        Origin {
            creator: e.creator,
            seq: e.seq,
            self_parent: if e.seq > 1 { e.parents.first().copied() } else { None },
        }
    }
}

#[derive(Debug)]
struct Parked<E> {
    origin: Origin,
    /// How many events of the same (creator, seq) were parked before it (only ranks 0 and 1
    /// may count as a need).
    rank: u32,
    event: E,
}

/// Parked events (`E`, as the driver holds them) and pulls.
#[derive(Debug)]
pub struct Fetch<E, T> {
    /// Parked events by id.
    pending: BTreeMap<Hash32, Parked<E>>,
    /// Parked events per (creator, seq).
    per_slot: BTreeMap<(u8, u64), u32>,
    /// Missing parent → the parked events that wait for it.
    waiting: BTreeMap<Hash32, Vec<Hash32>>,
    pulls: BTreeMap<Hash32, Pull<T>>,
    /// Parked events per creator seat.
    parked_by: Vec<usize>,
    /// Parked events one creator may hold: its share of [`PENDING_CAP`], so that one seat
    /// flooding events with invented parents cannot crowd out the others' events.
    seat_share: usize,
}

impl<E, T> Default for Fetch<E, T> {
    /// Bookkeeping for a committee of 64 seats.
    fn default() -> Self {
        Self::new(64)
    }
}

impl<E, T> Fetch<E, T> {
    /// Bookkeeping for a committee of `seats` seats: each creator may park its share of
    /// [`PENDING_CAP`] (at least [`MIN_SEAT_SHARE`]). Pulls are started only for parked
    /// events, at most P per event, so each seat's share bounds its pulls too.
    pub fn new(seats: u8) -> Self {
        let seats = usize::from(seats.max(1));
        Fetch {
            pending: BTreeMap::new(),
            per_slot: BTreeMap::new(),
            waiting: BTreeMap::new(),
            pulls: BTreeMap::new(),
            parked_by: vec![0; 64],
            seat_share: (PENDING_CAP / seats).max(MIN_SEAT_SHARE),
        }
    }
}

impl<E, T: Copy + PartialOrd> Fetch<E, T> {
    /// Whether `id` is parked.
    pub fn is_parked(&self, id: &Hash32) -> bool {
        self.pending.contains_key(id)
    }

    /// Whether a parked event waits for `id`.
    pub fn is_waited_for(&self, id: &Hash32) -> bool {
        self.waiting.contains_key(id)
    }

    /// Whether `id`, an event of `creator`, is needed by another seat: a parked event of
    /// another creator waits for it, or a parked event of `creator` that is itself so needed
    /// (a branch that another seat's event reaches through the cheater's own events). Only
    /// then may the engine accept it past the fork bound ([`Engine::insert_needed`]): variants
    /// that only the cheater's own events cite are refused (§8). A citing event whose own
    /// self-parent is missing does not count: otherwise a colluding seat could make any variant
    /// needed with junk events at far-future seqs that will never be accepted. Nor does a
    /// citing event that is the third or later parked at its own (creator, seq): the engine
    /// accepts at most two of those without a need of their own, and a colluding seat could
    /// otherwise park many variants at its next seq, each citing another variant.
    ///
    /// [`Engine::insert_needed`]: crate::Engine::insert_needed
    pub fn is_needed_by_others(&self, id: &Hash32, creator: u8) -> bool {
        let mut queue = vec![*id];
        let mut seen = std::collections::BTreeSet::new();
        while let Some(x) = queue.pop() {
            if !seen.insert(x) {
                continue;
            }
            for child in self.waiting.get(&x).map(Vec::as_slice).unwrap_or_default() {
                match self.pending.get(child) {
                    Some(p) if p.origin.creator != creator => {
                        let sp_missing = p
                            .origin
                            .self_parent
                            .is_some_and(|sp| self.waiting.get(&sp).is_some_and(|w| w.contains(child)));
                        if !sp_missing && p.rank < 2 {
                            return true;
                        }
                    }
                    Some(_) => queue.push(*child),
                    None => {}
                }
            }
        }
        false
    }

    /// Whether `id` is being pulled.
    pub fn is_pulling(&self, id: &Hash32) -> bool {
        self.pulls.contains_key(id)
    }

    /// Parked events, ids waited for, and pulls outstanding.
    pub fn sizes(&self) -> (usize, usize, usize) {
        (self.pending.len(), self.waiting.len(), self.pulls.len())
    }

    /// The outstanding pulls, by id.
    pub fn pulls(&self) -> impl Iterator<Item = (&Hash32, &Pull<T>)> {
        self.pulls.iter()
    }

    /// The earliest due pull.
    pub fn next_due(&self) -> Option<T> {
        self.pulls.values().map(|p| p.due).reduce(|a, b| if b < a { b } else { a })
    }

    /// Forgets everything (a crash).
    pub fn clear(&mut self) {
        self.parked_by.iter_mut().for_each(|n| *n = 0);
        self.per_slot.clear();
        self.pending.clear();
        self.waiting.clear();
        self.pulls.clear();
    }

    /// Starts pulling `ids` (first attempt), due again at `due`.
    pub fn start_pulls(&mut self, ids: &[Hash32], due: T) {
        for id in ids {
            self.pulls.insert(*id, Pull { due, attempts: 1 });
        }
    }

    /// `id` arrived: its pull is done.
    pub fn arrived(&mut self, id: &Hash32) {
        self.pulls.remove(id);
    }

    /// Event `id` from `origin` misses the parents `missing`: parks it (unless its creator's
    /// share or [`PENDING_CAP`] is full: then nothing is parked or pulled, and the event comes
    /// back through anti-entropy) and starts pulls, due at `due`, of the parents neither parked
    /// nor pulled yet. Returns those parents: what to request now.
    pub fn park(&mut self, id: Hash32, origin: Origin, event: E, missing: Vec<Hash32>, due: T) -> Vec<Hash32> {
        self.pulls.remove(&id);
        let c = usize::from(origin.creator) % self.parked_by.len();
        if self.pending.len() >= PENDING_CAP || self.parked_by[c] >= self.seat_share {
            return Vec::new();
        }
        for p in &missing {
            self.waiting.entry(*p).or_default().push(id);
        }
        if !self.pending.contains_key(&id) {
            let n = self.per_slot.entry((origin.creator, origin.seq)).or_default();
            let rank = *n;
            *n += 1;
            self.parked_by[c] += 1;
            self.pending.insert(id, Parked { origin, rank, event });
        }
        let new: Vec<Hash32> =
            missing.into_iter().filter(|p| !self.pending.contains_key(p) && !self.pulls.contains_key(p)).collect();
        self.start_pulls(&new, due);
        new
    }

    fn unpark(&mut self, id: &Hash32) -> Option<E> {
        let p = self.pending.remove(id)?;
        let c = usize::from(p.origin.creator) % self.parked_by.len();
        self.parked_by[c] = self.parked_by[c].saturating_sub(1);
        let slot = (p.origin.creator, p.origin.seq);
        if let Some(n) = self.per_slot.get_mut(&slot) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_slot.remove(&slot);
            }
        }
        Some(p.event)
    }

    /// The parked events that waited for `parent` and are `ready` now, unparked, in the order
    /// they were parked. Those not ready stay parked under their other missing parents.
    pub fn take_ready(&mut self, parent: &Hash32, ready: impl Fn(&E) -> bool) -> Vec<(Hash32, E)> {
        let mut out = Vec::new();
        for child in self.waiting.remove(parent).unwrap_or_default() {
            if self.pending.get(&child).is_some_and(|p| ready(&p.event))
                && let Some(e) = self.unpark(&child)
            {
                out.push((child, e));
            }
        }
        out
    }

    /// Sweeps the pulls at `now`. A pull of an event that is `known` or parked is done. One
    /// that reached `max_attempts` is given up, and the events parked on it (transitively) are
    /// dropped: the next descendant to arrive misses them again and starts fresh pulls, so an
    /// event that was only hard to get is not lost for good, while one that does not exist stops
    /// costing requests. Returns the overdue pulls, to request again, each rescheduled to
    /// `reschedule(attempts so far)`.
    pub fn retry(
        &mut self,
        now: T,
        known: impl Fn(&Hash32) -> bool,
        max_attempts: u32,
        reschedule: impl Fn(u32) -> T,
    ) -> Vec<Hash32> {
        let mut overdue = Vec::new();
        let mut abandoned = Vec::new();
        let pending = &self.pending;
        self.pulls.retain(|id, pull| {
            if known(id) || pending.contains_key(id) {
                return false;
            }
            if pull.due > now {
                return true;
            }
            if pull.attempts >= max_attempts {
                abandoned.push(*id);
                return false;
            }
            pull.due = reschedule(pull.attempts);
            pull.attempts += 1;
            overdue.push(*id);
            true
        });
        for gone in abandoned {
            let mut queue = vec![gone];
            while let Some(id) = queue.pop() {
                for child in self.waiting.remove(&id).unwrap_or_default() {
                    if self.unpark(&child).is_some() {
                        queue.push(child);
                    }
                }
            }
        }
        overdue
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(b: u8) -> Hash32 {
        Hash32([b; 32])
    }

    fn o(creator: u8, seq: u64, self_parent: Option<Hash32>) -> Origin {
        Origin { creator, seq, self_parent }
    }

    #[test]
    fn parked_events_wait_for_their_parents_and_abandoned_pulls_drop_them() {
        let mut f: Fetch<&str, u64> = Fetch::default();
        // c waits for a and b; d waits for c (already parked, so only c's parents are pulled).
        assert_eq!(f.park(h(3), o(0, 2, None), "c", vec![h(1), h(2)], 10), vec![h(1), h(2)]);
        assert_eq!(f.park(h(4), o(0, 3, None), "d", vec![h(3), h(1)], 10), Vec::<Hash32>::new());
        assert!(f.is_waited_for(&h(1)) && f.is_parked(&h(3)) && f.is_pulling(&h(2)));
        // a arrives; c still misses b.
        f.arrived(&h(1));
        assert!(f.take_ready(&h(1), |e| *e == "d").iter().map(|(id, _)| *id).eq([h(4)]));
        assert_eq!(f.next_due(), Some(10));
        // Nothing is due before 10; at 10 b is retried; after 3 attempts it is given up and c goes.
        assert!(f.retry(9, |_| false, 3, |n| 10 + u64::from(n)).is_empty());
        assert_eq!(f.retry(10, |_| false, 3, |n| 10 + u64::from(n)), vec![h(2)]);
        assert_eq!(f.retry(11, |_| false, 3, |n| 10 + u64::from(n)), vec![h(2)]);
        assert!(f.retry(12, |_| false, 3, |n| 10 + u64::from(n)).is_empty());
        assert_eq!(f.sizes(), (0, 0, 0));
    }

    #[test]
    fn only_another_seats_citation_makes_a_variant_needed() {
        let mut f: Fetch<&str, u64> = Fetch::new(4);
        // Seat 3's event 5 cites its own variant 1: not needed by others.
        f.park(h(5), o(3, 6, Some(h(1))), "own child", vec![h(1)], 10);
        assert!(f.is_waited_for(&h(1)) && !f.is_needed_by_others(&h(1), 3));
        // Seat 2's event 9 cites variant 1 but misses its own self-parent 8: junk, not a need.
        f.park(h(9), o(2, 90, Some(h(8))), "far-future junk", vec![h(8), h(1)], 10);
        assert!(!f.is_needed_by_others(&h(1), 3));
        // Seat 0's event 6 (its self-parent held) cites seat 3's event 5, which cites
        // variant 1: now it is needed.
        f.park(h(6), o(0, 7, Some(h(0x66))), "honest", vec![h(5)], 10);
        assert!(f.is_needed_by_others(&h(1), 3));
        assert!(f.is_needed_by_others(&h(5), 3));
    }

    #[test]
    fn a_third_parked_event_at_one_slot_makes_nothing_needed() {
        let mut f: Fetch<&str, u64> = Fetch::new(7);
        // Seat 5 parks three variants at its seq 9 (its self-parent held), each citing another
        // variant of seat 4: only the first two make their variant needed.
        f.park(h(1), o(5, 9, Some(h(0x50))), "a", vec![h(0x41)], 10);
        f.park(h(2), o(5, 9, Some(h(0x50))), "b", vec![h(0x42)], 10);
        f.park(h(3), o(5, 9, Some(h(0x50))), "c", vec![h(0x43)], 10);
        assert!(f.is_needed_by_others(&h(0x41), 4) && f.is_needed_by_others(&h(0x42), 4));
        assert!(!f.is_needed_by_others(&h(0x43), 4));
    }

    #[test]
    fn one_seat_cannot_fill_the_others_share_of_the_buffer() {
        let mut f: Fetch<u8, u64> = Fetch::new(4);
        let share = PENDING_CAP / 4;
        for i in 0..share + 10 {
            let mut id = [0u8; 32];
            id[..8].copy_from_slice(&(i as u64).to_le_bytes());
            f.park(Hash32(id), o(2, i as u64, None), 0, vec![h(0xff)], 10);
        }
        assert_eq!(f.sizes().0, share, "seat 2 parks its share and no more");
        assert!(!f.park(h(7), o(1, 1, None), 0, vec![h(8)], 10).is_empty(), "seat 1 still parks and pulls");
        assert_eq!(f.sizes().0, share + 1);
    }
}
