//! Property checks after a run, and the summary over many seeds.

use crate::node::{Behaviour, SimNode};
use std::collections::BTreeMap;

/// The outcome of one seed.
#[derive(Debug, Clone, Default)]
pub struct SeedReport {
    /// The seed.
    pub seed: u64,
    /// Property violations, each a sentence naming the seed.
    pub violations: Vec<String>,
    /// Anchors finalized by the slowest honest node.
    pub anchors: u64,
    /// Frames from creation to finality, over all finalized events at all honest nodes.
    pub latencies: Vec<u64>,
    /// Events inserted into engines, all nodes together (for throughput figures).
    pub inserted: u64,
    /// Slots of honest seats that re-signed after losing events and were then shown to have
    /// signed them before (the Byzantine hide-and-release case of consensus.md §10).
    pub framed: u64,
}

impl SeedReport {
    pub(crate) fn config_error(seed: u64, e: String) -> Self {
        SeedReport { seed, violations: vec![format!("seed {seed}: bad configuration: {e}")], ..Default::default() }
    }
}

pub(crate) fn check(seed: u64, nodes: &[SimNode], heal: u64) -> SeedReport {
    let mut v = Vec::new();
    let honest: Vec<&SimNode> = nodes.iter().filter(|n| n.honest()).collect();
    let withholders: u64 =
        nodes.iter().filter(|n| n.behaviour == Behaviour::Withhold).fold(0, |m, n| m | (1u64 << n.seat));
    let honest_seats = honest.iter().fold(0u64, |m, n| m | 1 << n.seat);
    let mut framed = std::collections::BTreeSet::new();
    for n in &honest {
        v.extend(n.problems.iter().map(|p| format!("seed {seed}: {p}")));
    }
    // Agreement: logs are prefixes of each other.
    for (i, a) in honest.iter().enumerate() {
        for b in &honest[i + 1..] {
            if let Some(pos) = a.log.iter().zip(&b.log).position(|(x, y)| x != y) {
                v.push(format!("seed {seed}: seats {} and {} disagree at anchor #{pos}", a.seat, b.seat));
            }
        }
    }
    for n in &honest {
        // Validity: nothing finalized lacks its payload (withheld payloads are never held).
        for b in &n.log {
            for id in &b.events {
                let creator = n.engine().get(id).map(|e| e.event.creator);
                match creator {
                    None => v.push(format!("seed {seed}: seat {} finalized an event it never accepted", n.seat)),
                    Some(c) if withholders & (1 << c) != 0 => {
                        v.push(format!("seed {seed}: seat {} finalized an event whose payload was withheld", n.seat))
                    }
                    Some(_) => {}
                }
            }
        }
        // Liveness: anchors keep coming after the network heals. Promised for ≤ f Byzantine;
        // checked always, so that an adversary past f is seen to break something.
        if !n.log_times.iter().any(|t| *t >= heal) {
            v.push(format!("seed {seed}: seat {} finalized nothing after the network healed", n.seat));
        }
        // Evidence: every fork the node accepted produced evidence.
        let mut variants: BTreeMap<(u8, u64), u32> = BTreeMap::new();
        for ev in n.accepted() {
            *variants.entry((ev.event.creator, ev.event.seq)).or_default() += 1;
        }
        for (pos, count) in variants {
            if count > 1 && !n.evidence.contains(&pos) {
                v.push(format!("seed {seed}: seat {} accepted a fork of {pos:?} without evidence", n.seat));
            }
        }
        // An honest seat never signs one slot twice, restarts and lost storage included; the
        // one exception counted apart: a seat that lost events and signed a slot again after
        // its bounded wait, framed by a Byzantine peer that hid its old event (§10).
        for (creator, seq) in &n.evidence {
            // Per slot: only a seq the seat itself re-signed after a loss.
            let resigned = honest.iter().any(|h| h.seat == *creator && h.resigned.contains(seq));
            if honest_seats & (1 << creator) != 0 && resigned {
                framed.insert((*creator, *seq));
            } else if honest_seats & (1 << creator) != 0 {
                v.push(format!(
                    "seed {seed}: seat {} holds evidence that honest seat {creator} equivocated at seq {seq}",
                    n.seat
                ));
            }
        }
    }
    SeedReport {
        seed,
        violations: v,
        anchors: honest.iter().map(|n| n.log.len() as u64).min().unwrap_or(0),
        latencies: honest.iter().flat_map(|n| n.latencies.iter().copied()).collect(),
        inserted: nodes.iter().map(|n| n.engine().stats().events).sum(),
        framed: framed.len() as u64,
    }
}

/// Results over many seeds.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Seeds run.
    pub seeds: u64,
    /// Violations found.
    pub violations: u64,
    /// The first few violations, for the report.
    pub examples: Vec<String>,
    /// Anchors finalized (slowest honest node), summed over seeds.
    pub anchors: u64,
    /// Framed slots (see [`SeedReport::framed`]), summed over seeds.
    pub framed: u64,
    latencies: Vec<u64>,
}

impl Summary {
    /// Adds one seed's report.
    pub fn add(&mut self, r: SeedReport) {
        self.seeds += 1;
        self.violations += r.violations.len() as u64;
        for e in r.violations {
            if self.examples.len() < 10 {
                self.examples.push(e);
            }
        }
        self.anchors += r.anchors;
        self.framed += r.framed;
        self.latencies.extend(r.latencies);
    }

    /// The `p`-th percentile (0..=100) of frames from creation to finality.
    pub fn frames_percentile(&mut self, p: u64) -> u64 {
        if self.latencies.is_empty() {
            return 0;
        }
        self.latencies.sort_unstable();
        let i = ((self.latencies.len() as u64 - 1) * p / 100) as usize;
        self.latencies[i]
    }

    /// The one-line result the CLI prints last.
    pub fn line(&mut self) -> String {
        let (p50, p95) = (self.frames_percentile(50), self.frames_percentile(95));
        format!(
            "seeds={} violations={} framed={} anchors={} frames_to_finality_p50={p50} frames_to_finality_p95={p95}",
            self.seeds, self.violations, self.framed, self.anchors
        )
    }
}
