//! Fetch bookkeeping shared by every driver of the engine (the networked replica, the
//! simulator): events parked until their parents arrive, and the pulls that fetch those parents
//! (docs/spec/consensus.md §3). Time is the driver's `T` (an `Instant`, a simulated tick), so the
//! engine itself stays clock-free; what to send and to whom stays with the driver.

use pc_codec::Hash32;
use std::collections::BTreeMap;

/// Events parked at most; past it a parked event is dropped and fetched again later.
pub const PENDING_CAP: usize = 4096;

/// One outstanding pull of an event id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pull<T> {
    /// When the pull is retried if the event has not arrived.
    pub due: T,
    /// Attempts so far.
    pub attempts: u32,
}

/// Parked events (`E`, as the driver holds them) and pulls.
#[derive(Debug)]
pub struct Fetch<E, T> {
    /// Parked events by id.
    pending: BTreeMap<Hash32, E>,
    /// Missing parent → the parked events that wait for it.
    waiting: BTreeMap<Hash32, Vec<Hash32>>,
    pulls: BTreeMap<Hash32, Pull<T>>,
}

impl<E, T> Default for Fetch<E, T> {
    fn default() -> Self {
        Fetch { pending: BTreeMap::new(), waiting: BTreeMap::new(), pulls: BTreeMap::new() }
    }
}

impl<E, T: Copy + PartialOrd> Fetch<E, T> {
    /// Whether `id` is parked.
    pub fn is_parked(&self, id: &Hash32) -> bool {
        self.pending.contains_key(id)
    }

    /// Whether a parked event waits for `id` (the engine must then accept it as needed).
    pub fn is_needed(&self, id: &Hash32) -> bool {
        self.waiting.contains_key(id)
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

    /// Event `id` misses the parents `missing`: parks it (unless [`PENDING_CAP`] events are
    /// parked already) and starts pulls, due at `due`, of the parents neither parked nor pulled
    /// yet. Returns those parents: what to request now.
    pub fn park(&mut self, id: Hash32, event: E, missing: Vec<Hash32>, due: T) -> Vec<Hash32> {
        self.pulls.remove(&id);
        if self.pending.len() < PENDING_CAP {
            for p in &missing {
                self.waiting.entry(*p).or_default().push(id);
            }
            self.pending.insert(id, event);
        }
        let new: Vec<Hash32> =
            missing.into_iter().filter(|p| !self.pending.contains_key(p) && !self.pulls.contains_key(p)).collect();
        self.start_pulls(&new, due);
        new
    }

    /// The parked events that waited for `parent` and are `ready` now, unparked, in the order
    /// they were parked. Those not ready stay parked under their other missing parents.
    pub fn take_ready(&mut self, parent: &Hash32, ready: impl Fn(&E) -> bool) -> Vec<(Hash32, E)> {
        let mut out = Vec::new();
        for child in self.waiting.remove(parent).unwrap_or_default() {
            if self.pending.get(&child).is_some_and(&ready)
                && let Some(e) = self.pending.remove(&child)
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
                    if self.pending.remove(&child).is_some() {
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

    #[test]
    fn parked_events_wait_for_their_parents_and_abandoned_pulls_drop_them() {
        let mut f: Fetch<&str, u64> = Fetch::default();
        // c waits for a and b; d waits for c (already parked, so only c's parents are pulled).
        assert_eq!(f.park(h(3), "c", vec![h(1), h(2)], 10), vec![h(1), h(2)]);
        assert_eq!(f.park(h(4), "d", vec![h(3), h(1)], 10), Vec::<Hash32>::new());
        assert!(f.is_needed(&h(1)) && f.is_parked(&h(3)) && f.is_pulling(&h(2)));
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
}
