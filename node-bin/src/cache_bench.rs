//! `phantom-node cache-bench`: reads event headers or payloads of a stopped node's store
//! through the sharded caches and reports the hit rate and read latency.
//!
//! The draw is skewed towards recent events (an exponential over the sample, most recent most
//! likely) because that is how peers' pulls and anchor application read; a seeded ChaCha
//! generator makes two runs read the same sequence.

use crate::cli::{BenchMode, CacheBenchArgs};
use crate::error::NodeError;
use pc_metrics::Metrics;
use pc_service::dag::{CacheCaps, DagStore};
use pc_store::RocksStore;
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn pct(sorted: &[Duration], p: usize) -> f64 {
    let i = (sorted.len() * p).div_ceil(100).saturating_sub(1).min(sorted.len().saturating_sub(1));
    sorted.get(i).map_or(f64::NAN, |d| d.as_secs_f64() * 1e6)
}

pub fn run(a: CacheBenchArgs) -> Result<(), NodeError> {
    let dir = if a.store_dir.join("db").is_dir() { a.store_dir.join("db") } else { a.store_dir.clone() };
    let kv = Arc::new(RocksStore::open(&dir)?);
    let metrics = Arc::new(Metrics::new());
    let caps = crate::config::check(CacheCaps { headers: a.cache_hdr_cap, payloads: a.cache_pl_cap })?;
    let store = DagStore::new(kv, caps, metrics.clone());
    let ids = store.ids()?;
    if ids.is_empty() {
        return Err(NodeError::Usage(format!("{}: no persisted events to read", dir.display())));
    }
    let sample = &ids[ids.len().saturating_sub(a.sample.max(1))..];
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut lat = Vec::with_capacity(a.iterations);
    let start = Instant::now();
    for _ in 0..a.iterations {
        // Exponential skew: half the reads fall in the most recent eighth of the sample.
        let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let back = ((-u.max(f64::MIN_POSITIVE).ln()) * sample.len() as f64 / 5.5) as usize;
        let id = &sample[sample.len() - 1 - back.min(sample.len() - 1)];
        let t = Instant::now();
        let found = match a.mode {
            BenchMode::Headers => store.header(id)?.is_some(),
            BenchMode::Payloads => store.payload(id)?.is_some(),
        };
        lat.push(t.elapsed());
        if !found {
            return Err(NodeError::Usage(format!("event {id} listed but not stored")));
        }
    }
    let wall = start.elapsed();
    lat.sort();
    let text = metrics.encode();
    let series = |name: &str| -> u64 {
        let cache = if a.mode == BenchMode::Headers { "header" } else { "payload" };
        text.lines()
            .find(|l| l.starts_with(name) && l.contains(&format!("cache=\"{cache}\"")))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap_or(0)
    };
    let (hits, misses) = (series("pc_node_cache_hits_total"), series("pc_node_cache_misses_total"));
    let rate = if hits + misses == 0 { 0.0 } else { hits as f64 / (hits + misses) as f64 };
    crate::commands::print(&format!(
        "mode={:?} events={} sample={} iterations={} header_cap={} payload_cap={} hits={hits} misses={misses} \
         hit_rate={rate:.3} p50_us={:.1} p95_us={:.1} p99_us={:.1} reads_per_s={:.0}",
        a.mode,
        ids.len(),
        sample.len(),
        a.iterations,
        a.cache_hdr_cap,
        a.cache_pl_cap,
        pct(&lat, 50),
        pct(&lat, 95),
        pct(&lat, 99),
        a.iterations as f64 / wall.as_secs_f64(),
    ))
}
