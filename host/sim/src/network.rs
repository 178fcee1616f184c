//! The simulated network: a deterministic event queue with delay, loss and partitions.

use pc_codec::Hash32;
use pc_consensus::SignedEvent;
use rand_chacha::ChaCha8Rng;
use rand_core::Rng;
use std::collections::BTreeMap;

/// Faults to inject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Faults {
    /// Percent of messages dropped (0..=100), until the network heals.
    pub loss_pct: u8,
    /// Largest delivery delay in ticks (delays are uniform in 1..=max_delay: reordering).
    pub max_delay: u64,
    /// Split the seats into two halves for a while.
    pub partition: bool,
    /// Crash one honest node and restart it from what it persisted.
    pub crash: bool,
}

impl Default for Faults {
    fn default() -> Self {
        Faults { loss_pct: 0, max_delay: 20, partition: false, crash: false }
    }
}

/// A message between nodes.
#[derive(Debug, Clone)]
pub(crate) enum Msg {
    /// An event; `payload` is false when its creator withholds the payload.
    Event { ev: SignedEvent, payload: bool },
    /// A pull request for events by id, with the requester's highest seq per seat so the
    /// answer can include the ancestors it lacks (a missing event rarely comes alone).
    Request { ids: Vec<Hash32>, heads: Vec<u64>, cheaters: u64 },
    /// Anti-entropy: "I know these highest seqs per seat; send what I lack".
    Sync(Vec<u64>),
    /// Events in an order that keeps parents first, each with its payload availability.
    Batch(Vec<(SignedEvent, bool)>),
}

/// Something that happens at a tick.
#[derive(Debug, Clone)]
pub(crate) enum Action {
    /// A seat's turn to create an event.
    Tick(usize),
    /// A message arrives.
    Deliver { to: usize, from: usize, msg: Msg },
    /// A node's pull-retry timer fires.
    Retry(usize),
}

pub(crate) struct Network {
    k: usize,
    faults: Faults,
    queue: BTreeMap<(u64, u64), Action>,
    counter: u64,
    partition: Option<(u64, u64)>,
    heal: u64,
}

impl Network {
    pub fn new(k: usize, faults: Faults, horizon: u64) -> Self {
        // Faults last for the first 40 % of the run; the partition covers 20–40 %.
        let heal = horizon * 2 / 5;
        let partition = faults.partition.then_some((horizon / 5, heal));
        Network { k, faults, queue: BTreeMap::new(), counter: 0, partition, heal }
    }

    /// Seats in the network.
    pub fn seats(&self) -> usize {
        self.k
    }

    /// Largest delivery delay: a round trip takes at most twice this.
    pub fn max_delay(&self) -> u64 {
        self.faults.max_delay.max(1)
    }

    /// When loss and partitions end.
    pub fn heal_time(&self) -> u64 {
        self.heal
    }

    pub fn schedule(&mut self, at: u64, action: Action) {
        self.counter += 1;
        self.queue.insert((at, self.counter), action);
    }

    pub fn pop(&mut self) -> Option<(u64, Action)> {
        self.queue.pop_first().map(|((t, _), a)| (t, a))
    }

    fn severed(&self, now: u64, a: usize, b: usize) -> bool {
        match self.partition {
            Some((from, to)) if now >= from && now < to => (a < self.k / 2) != (b < self.k / 2),
            _ => false,
        }
    }

    /// Sends `msg` from `from` to `to`, subject to loss, partition and delay.
    pub fn send(&mut self, now: u64, from: usize, to: usize, msg: Msg, rng: &mut ChaCha8Rng) {
        if from == to || self.severed(now, from, to) {
            return;
        }
        if now < self.heal && (rng.next_u64() % 100) < u64::from(self.faults.loss_pct) {
            return;
        }
        let delay = 1 + rng.next_u64() % self.faults.max_delay.max(1);
        self.schedule(now + delay, Action::Deliver { to, from, msg });
    }

    pub fn broadcast(&mut self, now: u64, from: usize, msg: &Msg, rng: &mut ChaCha8Rng) {
        for to in 0..self.k {
            self.send(now, from, to, msg.clone(), rng);
        }
    }
}
