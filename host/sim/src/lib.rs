//! A deterministic discrete-event simulator of PhantomCoin consensus.
//!
//! Every node runs the real engine (`pc-consensus`). The simulated network delays, drops,
//! reorders and partitions messages; nodes crash and restart from what they persisted; up to
//! `byzantine` seats equivocate, withhold payloads, cite parents that do not exist, claim
//! future frames or build fork bombs. All randomness comes from one seeded ChaCha stream, so a
//! seed replays exactly. After each run the simulator checks:
//!
//! - agreement: every honest node's finalized sequence is a prefix of every other's;
//! - validity: everything finalized was accepted with its payload;
//! - liveness: every honest node finalizes anchors after the network heals;
//! - evidence: every equivocation an honest node accepted produced evidence.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod dagfuzz;
mod network;
mod node;
mod report;

pub use dagfuzz::{DagFuzzReport, adversarial_dag};
pub use network::Faults;
pub use node::{Behaviour, SimKeys, sign, sign_with_nonce};
pub use report::{SeedReport, Summary};

use network::{Action, Network};
use node::{Loss, SimNode};
use pc_consensus::Config;
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

/// One simulation's parameters.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Seats k (1..=64).
    pub seats: u8,
    /// Byzantine seats (safety is promised for at most ⌊(k−1)/3⌋).
    pub byzantine: u8,
    /// Events each seat creates.
    pub events_per_seat: u64,
    /// Parents per event.
    pub max_parents: u8,
    /// Network and node faults.
    pub faults: Faults,
    /// Byzantine behaviours, assigned to the Byzantine seats in turn; empty: the default mix
    /// (one behaviour per seat, drawn from the seed).
    pub behaviours: Vec<Behaviour>,
    /// Every `coin_period`-th voting level flips a coin (≥ 3).
    pub coin_period: u64,
}

impl SimConfig {
    /// k seats of which `byzantine` misbehave, 40 events per seat, P = 4, coin period 8.
    pub fn new(seats: u8, byzantine: u8, faults: Faults) -> Self {
        SimConfig {
            seats,
            byzantine,
            events_per_seat: 40,
            max_parents: 4,
            faults,
            behaviours: Vec::new(),
            coin_period: 8,
        }
    }
}

/// Ticks between two events of one seat (plus jitter).
const INTERVAL: u64 = 10;

/// Runs one seed and checks the properties.
pub fn run_seed(cfg: &SimConfig, seed: u64) -> SeedReport {
    match simulate(cfg, seed) {
        Ok((nodes, heal)) => report::check(seed, &nodes, heal),
        Err(e) => SeedReport::config_error(seed, e),
    }
}

/// Runs one seed and returns the events the first honest node accepted, in acceptance order
/// (parents first): a realistic DAG for benchmarking the engine alone.
pub fn record_dag(cfg: &SimConfig, seed: u64) -> Vec<pc_consensus::SignedEvent> {
    simulate(cfg, seed)
        .ok()
        .and_then(|(nodes, _)| nodes.into_iter().find(|n| n.honest()).map(|n| n.accepted().to_vec()))
        .unwrap_or_default()
}

fn simulate(cfg: &SimConfig, seed: u64) -> Result<(Vec<SimNode>, u64), String> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let k = cfg.seats as usize;
    let mut byz: Vec<usize> = Vec::new();
    while byz.len() < (cfg.byzantine as usize).min(k) {
        let s = (rng.next_u64() % k as u64) as usize;
        if !byz.contains(&s) {
            byz.push(s);
        }
    }
    let engine_cfg = Config {
        shard: 0,
        seats: cfg.seats,
        max_parents: cfg.max_parents,
        coin_period: cfg.coin_period,
        first_anchor_index: 1,
    };
    let byz_mask = byz.iter().fold(0u64, |m, s| m | (1 << s));
    let behaviour_of = |s: usize| match byz.iter().position(|b| *b == s) {
        None => Behaviour::Honest,
        Some(i) if !cfg.behaviours.is_empty() => cfg.behaviours[i % cfg.behaviours.len()],
        Some(_) => Behaviour::byzantine(seed.wrapping_add(s as u64)),
    };
    // Nodes 0..k run seats 0..k; a doubled seat's second node comes after them.
    let mut nodes = Vec::with_capacity(k);
    let (mut seat_of, mut half, mut confined) = (Vec::new(), Vec::new(), Vec::new());
    let mut add = |seat: usize, lane: u8, nodes: &mut Vec<SimNode>| -> Result<(), String> {
        let b = behaviour_of(seat);
        let me = nodes.len();
        let node = SimNode::new(seat as u8, me, lane, b, engine_cfg.clone(), byz_mask).map_err(|e| e.to_string())?;
        nodes.push(node);
        seat_of.push(seat as u8);
        // Honest seats split by index; a split seat's two nodes take one half each.
        half.push(if b == Behaviour::Split { lane } else { u8::from(seat >= k / 2) });
        confined.push(b == Behaviour::Split);
        Ok(())
    };
    for s in 0..k {
        add(s, 0, &mut nodes)?;
    }
    for s in 0..k {
        if behaviour_of(s).doubled() {
            add(s, 1, &mut nodes)?;
        }
    }
    let n = nodes.len();
    let honest: Vec<usize> = (0..k).filter(|s| !byz.contains(s)).collect();
    let horizon = cfg.events_per_seat * INTERVAL;
    let mut net = Network::new(k, seat_of, half, confined, &honest, cfg.faults.clone(), horizon, &mut rng);
    let f = &cfg.faults;
    let rate: Vec<u64> = (0..n).map(|_| if f.rates { 1 + rng.next_u64() % 3 } else { 1 }).collect();
    let pick = |rng: &mut ChaCha8Rng, not: Option<usize>| {
        let pool: Vec<usize> = honest.iter().copied().filter(|h| Some(*h) != not).collect();
        (!pool.is_empty()).then(|| pool[(rng.next_u64() % pool.len() as u64) as usize])
    };
    // One crash per run; what it loses is drawn among the chosen kinds.
    let mut losses = Vec::new();
    if f.crash {
        losses.push(Loss::Nothing);
    }
    if f.mid_write {
        losses.push(Loss::LastWrite);
    }
    if f.restore {
        losses.push(Loss::Restore);
    }
    if f.lost_storage {
        losses.push(Loss::Everything);
    }
    let crash = if k > 1 && !losses.is_empty() {
        let loss = losses[(rng.next_u64() % losses.len() as u64) as usize];
        pick(&mut rng, None).map(|c| (c, loss))
    } else {
        None
    };
    let late = if f.late_join && k > 1 { pick(&mut rng, crash.map(|c| c.0)) } else { None };
    let heal = net.heal_time();
    for (i, node) in nodes.iter_mut().enumerate() {
        let first = 1 + rng.next_u64() % INTERVAL;
        if Some(i) == late {
            node.crash(Loss::Nothing);
            net.schedule(heal, Action::Tick(i));
        } else {
            net.schedule(first, Action::Tick(i));
        }
    }
    // The crash at 30 % of the run and the restart at 50 %, after the heal; with
    // `early-restart` the crash falls in 20–35 % and the restart 10–25 % later, sometimes
    // before the heal, so that the node recovers under loss and partitions.
    let (crash_at, restart_at) = if f.early_restart {
        let crash_at = horizon / 5 + rng.next_u64() % (horizon * 3 / 20).max(1);
        (crash_at, crash_at + horizon / 10 + rng.next_u64() % (horizon * 3 / 20).max(1))
    } else {
        (horizon * 3 / 10, horizon / 2)
    };
    let mut crash_done = false;
    let mut restart_done = false;
    let mut late_started = false;
    let limit = horizon * 20 + 10_000;
    while let Some((now, action)) = net.pop() {
        if now > limit {
            break;
        }
        if let Some((c, loss)) = crash {
            if !crash_done && now >= crash_at {
                nodes[c].crash(loss);
                crash_done = true;
            }
            if !restart_done && now >= restart_at {
                nodes[c].restart(now, &mut net, &mut rng);
                restart_done = true;
            }
        }
        if let Some(l) = late
            && !late_started
            && now >= heal
        {
            nodes[l].restart(now, &mut net, &mut rng);
            late_started = true;
        }
        match action {
            Action::Tick(i) => {
                // Seats create `events_per_seat` events; honest ones go on (up to three times as
                // many) until they have seen two anchors after the network healed, so liveness is
                // judged on a run long enough to show it.
                let node = &nodes[i];
                let healed_anchors = node.log_times.iter().filter(|t| **t >= heal).count();
                let more = node.honest() && healed_anchors < 2 && node.created() < 3 * cfg.events_per_seat;
                if node.created() < cfg.events_per_seat || more {
                    nodes[i].tick(now, &mut net, &mut rng);
                    let next = (INTERVAL / 2 + rng.next_u64() % INTERVAL) * rate[i];
                    net.schedule(now + next, Action::Tick(i));
                }
            }
            Action::Deliver { to, from, msg } => nodes[to].receive(now, from, msg, &mut net, &mut rng),
            Action::Retry(i) => nodes[i].retry_pulls(now, &mut net, &mut rng),
        }
    }
    if std::env::var_os("PC_SIM_DEBUG").is_some() {
        debug_dump(&nodes, heal, crash.map(|c| c.0));
    }
    Ok((nodes, heal))
}

/// Runs `seeds` seeds starting at `first_seed` and summarises them.
pub fn run_many(cfg: &SimConfig, first_seed: u64, seeds: u64) -> Summary {
    let mut summary = Summary::default();
    for seed in first_seed..first_seed + seeds {
        summary.add(run_seed(cfg, seed));
    }
    summary
}

/// `PC_SIM_DEBUG`: per-node engine state, own events with frame and seen-cheater mask, and
/// what each node still waits for.
fn debug_dump(nodes: &[SimNode], heal: u64, crash: Option<usize>) {
    for n in nodes {
        let st = n.engine().stats();
        eprintln!(
            "seat {} {:?} created={} events={} roots={} max_frame={} anchors={} last_anchor_at={:?} cheaters={:b}",
            n.seat,
            n.behaviour,
            n.created(),
            st.events,
            st.roots,
            st.max_frame,
            n.log.len(),
            n.log_times.last(),
            n.engine().known_cheaters()
        );
    }
    eprintln!("heal={} crash={crash:?}", heal);
    for n in nodes.iter().filter(|n| n.honest()) {
        if let Some(last) = n.accepted().iter().rev().find(|e| e.event.creator == n.seat) {
            let id = pc_codec::Identified::id(&last.event);
            let f = last.event.frame;
            let view: Vec<String> = n
                .engine()
                .debug_roots_seen(&id, f)
                .iter()
                .map(|(c, q, m, fc)| format!("s{c}#{q}:{m:b}{}", if *fc { "+" } else { "" }))
                .collect();
            eprintln!(
                "node {} last own #{} frame {f} sees roots of its frame: {}",
                n.me,
                last.event.seq,
                view.join(" ")
            );
            let heads: Vec<String> = (0..n.engine().quorum() as u8 + 3)
                .map(|s| {
                    n.engine()
                        .newest_of(s)
                        .iter()
                        .map(|e| format!("s{s}#{}", e.event.seq))
                        .collect::<Vec<_>>()
                        .join("|")
                })
                .collect();
            eprintln!("node {} engine heads: {}", n.me, heads.join(" "));
        }
    }
    for n in nodes {
        for id in n.pulled_ids() {
            let holders: Vec<String> = nodes
                .iter()
                .filter_map(|m| {
                    m.engine().get(&id).map(|e| format!("node {} has s{}#{}", m.me, e.event.creator, e.event.seq))
                })
                .collect();
            eprintln!("node {} pulls {}: {:?}", n.me, &id.to_string()[..8], holders);
        }
    }
    for n in nodes {
        eprintln!("seat {} {}", n.seat, n.waiting_summary());
        if let Some(last) = n.accepted().iter().rev().find(|e| e.event.creator == n.seat) {
            let ps: Vec<String> = last
                .event
                .parents
                .iter()
                .map(|p| match n.engine().get(p) {
                    Some(e) => format!(
                        "s{}#{}f{}c{:b}",
                        e.event.creator,
                        e.event.seq,
                        e.event.frame,
                        n.engine().cheaters_of(p).unwrap_or(0)
                    ),
                    None => "?".into(),
                })
                .collect();
            eprintln!("  last own #{} parents {}", last.event.seq, ps.join(" "));
        }
    }
    for n in nodes {
        let own: Vec<String> = n
            .accepted()
            .iter()
            .filter(|e| e.event.creator == n.seat)
            .map(|e| {
                let id = pc_codec::Identified::id(&e.event);
                format!("{}:f{}c{:b}", e.event.seq, e.event.frame, n.engine().cheaters_of(&id).unwrap_or(0))
            })
            .collect();
        eprintln!("seat {} own: {}", n.seat, own.join(" "));
    }
}
