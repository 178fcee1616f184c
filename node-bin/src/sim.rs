//! `phantom-node sim`: the consensus simulator from the command line.

use crate::cli::SimArgs;
use crate::commands::print;
use crate::error::NodeError;
use pc_sim::{Behaviour, Faults, SimConfig, run_seed};

fn parse_behaviours(spec: &str) -> Result<Vec<Behaviour>, NodeError> {
    spec.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty() && *s != "mix")
        .map(|name| match name {
            "all" => Ok(Behaviour::BYZANTINE.to_vec()),
            _ => Behaviour::parse(name).map(|b| vec![b]).ok_or_else(|| {
                let names: Vec<&str> = Behaviour::BYZANTINE.iter().map(|b| b.name()).collect();
                NodeError::Usage(format!("--behaviour: unknown `{name}` (use mix, all, {})", names.join(", ")))
            }),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(|v| v.concat())
}

pub fn run(a: SimArgs) -> Result<(), NodeError> {
    if !(1..=64).contains(&a.seats) {
        return Err(NodeError::Usage(format!("--seats must be 1..=64, got {}", a.seats)));
    }
    if a.byzantine >= a.seats {
        return Err(NodeError::Usage("--byzantine must be below --seats".into()));
    }
    if a.coin_period < 3 {
        return Err(NodeError::Usage(format!("--coin-period must be at least 3, got {}", a.coin_period)));
    }
    let faults = Faults::parse(&a.faults).map_err(|e| NodeError::Usage(format!("--faults: {e}")))?;
    let cfg = SimConfig {
        events_per_seat: a.events,
        max_parents: a.parents,
        behaviours: parse_behaviours(&a.behaviour)?,
        coin_period: a.coin_period,
        ..SimConfig::new(a.seats, a.byzantine, faults)
    };
    let started = std::time::Instant::now();
    let mut summary = pc_sim::Summary::default();
    let mut inserted = 0u64;
    for seed in a.first_seed..a.first_seed.saturating_add(a.seeds) {
        let r = run_seed(&cfg, seed);
        inserted += r.inserted;
        if a.verbose {
            for v in &r.violations {
                print(v)?;
            }
        }
        summary.add(r);
    }
    if !a.verbose {
        for e in &summary.examples {
            print(e)?;
        }
    }
    if a.bench {
        let secs = started.elapsed().as_secs_f64();
        print(&format!("bench: simulation {inserted} insertions in {secs:.2} s (network model included)"))?;
        bench_engine(&cfg, a.first_seed)?;
    }
    print(&summary.line())?;
    if summary.violations > 0 { Err(NodeError::SimViolations(summary.violations)) } else { Ok(()) }
}

/// Times the engine alone: one honest node's recorded DAG re-inserted into a fresh engine.
/// Signatures are the simulator's keyed BLAKE3 (BIP-340 verification is measured separately).
fn bench_engine(cfg: &SimConfig, seed: u64) -> Result<(), NodeError> {
    let dag = pc_sim::record_dag(cfg, seed);
    let engine_cfg = pc_consensus::Config {
        shard: 0,
        seats: cfg.seats,
        max_parents: cfg.max_parents,
        coin_period: cfg.coin_period,
        first_anchor_index: 1,
    };
    let mut best = f64::MAX;
    let mut anchors = 0;
    for _ in 0..3 {
        let mut engine = pc_consensus::Engine::new(engine_cfg.clone()).map_err(|e| NodeError::Usage(e.to_string()))?;
        let t = std::time::Instant::now();
        for ev in &dag {
            let _ = engine.insert_needed(ev.clone(), &pc_sim::SimKeys);
        }
        best = best.min(t.elapsed().as_secs_f64());
        anchors = engine.stats().anchors;
    }
    print(&format!(
        "bench: engine k={} {} events, {anchors} anchors, best of 3: {:.1} ms = {:.0} events/s",
        cfg.seats,
        dag.len(),
        best * 1e3,
        dag.len() as f64 / best.max(1e-9)
    ))
}
