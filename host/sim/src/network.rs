//! The simulated network: a deterministic event queue with delay, loss, partitions and an
//! adversarial scheduler.

use pc_codec::Hash32;
use pc_consensus::SignedEvent;
use rand_chacha::ChaCha8Rng;
use rand_core::Rng;
use std::collections::BTreeMap;

/// Faults to inject. Network faults last until the network heals (40 % of the run); node
/// faults happen once per run, to one honest node.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::struct_excessive_bools)]
pub struct Faults {
    /// Percent of messages dropped (0..=100), until the network heals.
    pub loss_pct: u8,
    /// Largest delivery delay in ticks (delays are uniform in 1..=max_delay: reordering).
    pub max_delay: u64,
    /// Split the nodes into two halves for 20–40 % of the run.
    pub partition: bool,
    /// Crash one honest node and restart it from what it persisted.
    pub crash: bool,
    /// Further partitions, each into random halves, before the heal.
    pub partitions: u8,
    /// The two halves are cut from the start until the heal (what split seats need to make
    /// the halves finalize apart when they are more than f).
    pub split_brain: bool,
    /// The adversarial scheduler: delays every event of the seat whose slot comes first in its
    /// frame's election (the would-be anchor) and every message of one chosen honest node.
    pub adaptive: bool,
    /// One honest node hears and reaches nobody for 20–40 % of the run.
    pub isolate: bool,
    /// Each direction of each link has its own delay factor (1–4×): asymmetric, skewed links.
    pub asymmetric: bool,
    /// Seats create events at different rates (1–3× the base interval).
    pub rates: bool,
    /// The crashed node loses its last write.
    pub mid_write: bool,
    /// The crashed node loses its whole store (a wiped data directory).
    pub lost_storage: bool,
    /// The crashed node restarts from an older copy of its store (a snapshot or backup).
    pub restore: bool,
    /// One honest node starts only when the network heals.
    pub late_join: bool,
    /// The crash and restart fall earlier, the restart sometimes before the heal.
    pub early_restart: bool,
}

impl Default for Faults {
    /// No faults but delays of up to 20 ticks.
    fn default() -> Self {
        Faults {
            loss_pct: 0,
            max_delay: 20,
            partition: false,
            crash: false,
            partitions: 0,
            split_brain: false,
            adaptive: false,
            isolate: false,
            asymmetric: false,
            rates: false,
            mid_write: false,
            lost_storage: false,
            restore: false,
            late_join: false,
            early_restart: false,
        }
    }
}

impl Faults {
    /// No faults but delays of up to 20 ticks.
    pub fn none() -> Self {
        Faults::default()
    }

    /// Every fault at once, with `loss_pct` loss.
    pub fn all(loss_pct: u8) -> Self {
        Faults {
            loss_pct,
            max_delay: 20,
            partition: true,
            crash: true,
            partitions: 2,
            split_brain: false,
            adaptive: true,
            isolate: true,
            asymmetric: true,
            rates: true,
            mid_write: true,
            lost_storage: true,
            restore: true,
            late_join: true,
            early_restart: false,
        }
    }
}

impl Faults {
    /// Reads a comma-separated list: `none`, `all`, `loss:PCT`, `delay:TICKS`, `partition`,
    /// `partitions:N`, `crash`, `adaptive`, `isolate`, `asymmetric`, `rates`, `mid-write`,
    /// `lost-storage`, `restore`, `late-join`. Starts from no faults and delays up to 20.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut f = Faults::none();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let bad = || format!("cannot read `{item}` (use {})", Self::NAMES);
            match item.split_once(':') {
                None => match item {
                    "none" => {}
                    "all" => f = Faults { loss_pct: f.loss_pct.max(10), max_delay: f.max_delay, ..Faults::all(10) },
                    "partition" => f.partition = true,
                    "split-brain" => f.split_brain = true,
                    "crash" => f.crash = true,
                    "adaptive" => f.adaptive = true,
                    "isolate" => f.isolate = true,
                    "asymmetric" => f.asymmetric = true,
                    "rates" => f.rates = true,
                    "mid-write" => f.mid_write = true,
                    "lost-storage" => f.lost_storage = true,
                    "restore" => f.restore = true,
                    "late-join" => f.late_join = true,
                    "early-restart" => f.early_restart = true,
                    _ => return Err(bad()),
                },
                Some(("loss", v)) => f.loss_pct = v.parse().ok().filter(|p| *p <= 100).ok_or_else(bad)?,
                Some(("delay", v)) => f.max_delay = v.parse().ok().filter(|d| *d >= 1).ok_or_else(bad)?,
                Some(("partitions", v)) => f.partitions = v.parse().ok().filter(|n| *n <= 8).ok_or_else(bad)?,
                _ => return Err(bad()),
            }
        }
        Ok(f)
    }

    /// What [`parse`](Self::parse) reads, for error messages.
    pub const NAMES: &'static str = "none, all, loss:PCT, delay:TICKS, partition, split-brain, partitions:N, crash, adaptive, \
        isolate, asymmetric, rates, mid-write, lost-storage, restore, late-join, early-restart";
}

/// A message between nodes.
#[derive(Debug, Clone)]
pub(crate) enum Msg {
    /// An event; `payload` is false when its creator withholds the payload.
    Event { ev: SignedEvent, payload: bool },
    /// A pull request for events by id, with the requester's highest seq per seat so the
    /// answer can include the ancestors it lacks (a missing event rarely comes alone), and the
    /// seats it knows to fork (their seqs say nothing about which branch it holds).
    Request { ids: Vec<Hash32>, heads: Vec<u64>, cheaters: u64 },
    /// Anti-entropy: "I know these highest seqs per seat; send what I lack".
    Sync(Vec<u64>),
    /// Events in an order that keeps parents first, each with its payload availability.
    Batch(Vec<(SignedEvent, bool)>),
}

/// Something that happens at a tick.
#[derive(Debug, Clone)]
pub(crate) enum Action {
    /// A node's turn to create an event.
    Tick(usize),
    /// A message arrives.
    Deliver { to: usize, from: usize, msg: Msg },
    /// A node's pull-retry timer fires.
    Retry(usize),
}

pub(crate) struct Network {
    k: usize,
    /// Seat of each node (a doubled seat has two nodes).
    seat_of: Vec<u8>,
    /// Half of each node (0 or 1) for partitions; a split seat's nodes are one per half.
    half: Vec<u8>,
    /// Nodes that only reach their own half, always (split seats).
    confined: Vec<bool>,
    faults: Faults,
    queue: BTreeMap<(u64, u64), Action>,
    counter: u64,
    /// Windows [from, to) with the mask of nodes on side A (side B is the rest).
    partitions: Vec<(u64, u64, u128)>,
    isolated: Option<(usize, u64, u64)>,
    slow_node: Option<usize>,
    /// Per directed link (from * n + to) delay factor.
    factor: Vec<u64>,
    heal: u64,
}

impl Network {
    /// `seat_of[i]`, `half[i]`, `confined[i]` per node; `honest` lists honest nodes (victims).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        k: usize,
        seat_of: Vec<u8>,
        half: Vec<u8>,
        confined: Vec<bool>,
        honest: &[usize],
        faults: Faults,
        horizon: u64,
        rng: &mut ChaCha8Rng,
    ) -> Self {
        let n = seat_of.len();
        // Faults last for the first 40 % of the run; the partition covers 20–40 %.
        let heal = horizon * 2 / 5;
        let by_half = half.iter().enumerate().fold(0u128, |m, (i, h)| if *h == 0 { m | 1 << i } else { m });
        let mut partitions = Vec::new();
        if faults.partition {
            partitions.push((horizon / 5, heal, by_half));
        }
        if faults.split_brain {
            partitions.push((0, heal, by_half));
        }
        for _ in 0..faults.partitions {
            let from = rng.next_u64() % heal.max(1);
            let to = (from + heal / 5).min(heal);
            let mask = (0..n).fold(0u128, |m, i| if rng.next_u64().is_multiple_of(2) { m | 1 << i } else { m });
            partitions.push((from, to, mask));
        }
        let pick = |rng: &mut ChaCha8Rng| honest.get((rng.next_u64() % honest.len().max(1) as u64) as usize).copied();
        let isolated = if faults.isolate { pick(rng).map(|v| (v, horizon / 5, heal)) } else { None };
        let slow_node = if faults.adaptive { pick(rng) } else { None };
        let factor = (0..n * n).map(|_| if faults.asymmetric { 1 + rng.next_u64() % 4 } else { 1 }).collect::<Vec<_>>();
        Network {
            k,
            seat_of,
            half,
            confined,
            faults,
            queue: BTreeMap::new(),
            counter: 0,
            partitions,
            isolated,
            slow_node,
            factor,
            heal,
        }
    }

    /// Nodes in the network (seats, plus the second node of each doubled seat).
    pub fn nodes(&self) -> usize {
        self.seat_of.len()
    }

    /// The seat node `i` runs.
    pub fn seat_of(&self, i: usize) -> u8 {
        self.seat_of.get(i).copied().unwrap_or(u8::MAX)
    }

    /// Largest delivery delay: a round trip takes at most twice this.
    pub fn max_delay(&self) -> u64 {
        self.faults.max_delay.max(1)
    }

    /// When loss, partitions and the adversarial scheduler end.
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
        if (self.confined[a] || self.confined[b]) && self.half[a] != self.half[b] {
            return true;
        }
        if self
            .partitions
            .iter()
            .any(|(from, to, mask)| now >= *from && now < *to && (mask >> a) & 1 != (mask >> b) & 1)
        {
            return true;
        }
        matches!(self.isolated, Some((v, from, to)) if (a == v || b == v) && now >= from && now < to)
    }

    /// Extra delay the adversarial scheduler adds before the heal.
    fn adversary_delay(&self, now: u64, from: usize, msg: &Msg) -> u64 {
        if !self.faults.adaptive || now >= self.heal {
            return 0;
        }
        let mut extra = 0;
        if self.slow_node == Some(from) {
            extra += 2 * self.max_delay();
        }
        if let Msg::Event { ev, .. } = msg
            && ev.event.frame % self.k as u64 == u64::from(ev.event.creator)
        {
            extra += 3 * self.max_delay();
        }
        extra
    }

    /// Sends `msg` from `from` to `to`, subject to loss, partition and delay.
    pub fn send(&mut self, now: u64, from: usize, to: usize, msg: Msg, rng: &mut ChaCha8Rng) {
        if from == to || to >= self.nodes() || self.severed(now, from, to) {
            return;
        }
        if now < self.heal && (rng.next_u64() % 100) < u64::from(self.faults.loss_pct) {
            return;
        }
        let mut delay = 1 + rng.next_u64() % self.max_delay();
        if now < self.heal {
            delay *= self.factor[from * self.nodes() + to];
        }
        delay += self.adversary_delay(now, from, &msg);
        self.schedule(now + delay, Action::Deliver { to, from, msg });
    }

    pub fn broadcast(&mut self, now: u64, from: usize, msg: &Msg, rng: &mut ChaCha8Rng) {
        for to in 0..self.nodes() {
            self.send(now, from, to, msg.clone(), rng);
        }
    }
}
