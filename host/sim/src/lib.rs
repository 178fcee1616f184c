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
pub use node::{SimKeys, sign, sign_with_nonce};
pub use report::{SeedReport, Summary};

use network::{Action, Network};
use node::{Behaviour, SimNode};
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
    let engine_cfg =
        Config { shard: 0, seats: cfg.seats, max_parents: cfg.max_parents, coin_period: 8, first_anchor_index: 1 };
    let byz_mask = byz.iter().fold(0u64, |m, s| m | (1 << s));
    let mut nodes = Vec::with_capacity(k);
    for s in 0..k {
        let behaviour =
            if byz.contains(&s) { Behaviour::byzantine(seed.wrapping_add(s as u64)) } else { Behaviour::Honest };
        match SimNode::new(s as u8, behaviour, engine_cfg.clone(), byz_mask) {
            Ok(n) => nodes.push(n),
            Err(e) => return Err(e.to_string()),
        }
    }
    let horizon = cfg.events_per_seat * INTERVAL;
    let mut net = Network::new(k, cfg.faults.clone(), horizon);
    for s in 0..k {
        net.schedule(1 + rng.next_u64() % INTERVAL, Action::Tick(s));
    }
    let crash = (cfg.faults.crash && k > 1).then(|| {
        let honest: Vec<usize> = (0..k).filter(|s| !byz.contains(s)).collect();
        honest[(rng.next_u64() % honest.len() as u64) as usize]
    });
    let (crash_at, restart_at) = (horizon * 3 / 10, horizon / 2);
    let mut crash_done = false;
    let mut restart_done = false;
    let limit = horizon * 20 + 10_000;
    while let Some((now, action)) = net.pop() {
        if now > limit {
            break;
        }
        if let Some(c) = crash {
            if !crash_done && now >= crash_at {
                nodes[c].crash();
                crash_done = true;
            }
            if !restart_done && now >= restart_at {
                nodes[c].restart(now, &mut net, &mut rng);
                restart_done = true;
            }
        }
        match action {
            Action::Tick(s) => {
                // Seats create `events_per_seat` events; honest ones go on (up to three times as
                // many) until they have seen two anchors after the network healed, so liveness is
                // judged on a run long enough to show it.
                let heal = net.heal_time();
                let n = &nodes[s];
                let healed_anchors = n.log_times.iter().filter(|t| **t >= heal).count();
                let more = n.honest() && healed_anchors < 2 && n.created() < 3 * cfg.events_per_seat;
                if n.created() < cfg.events_per_seat || more {
                    nodes[s].tick(now, &mut net, &mut rng);
                    net.schedule(now + INTERVAL / 2 + rng.next_u64() % INTERVAL, Action::Tick(s));
                }
            }
            Action::Deliver { to, from, msg } => nodes[to].receive(now, from, msg, &mut net, &mut rng),
            Action::Retry(s) => nodes[s].retry_pulls(now, &mut net, &mut rng),
        }
    }
    if std::env::var_os("PC_SIM_DEBUG").is_some() {
        debug_dump(&nodes, net.heal_time(), crash);
    }
    let heal = net.heal_time();
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
