//! The hashing threads.

use parity_scale_codec::Encode;
use pc_module_mint_pow::{MintHeader, pow_hash_bytes, pow_midstate};
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Hashes between two looks at whether the job changed.
const BATCH: u64 = 4096;

/// A template to grind.
#[derive(Debug, Clone)]
pub struct Job {
    pub header: Vec<u8>,
    pub nonce_offset: usize,
    pub target: [u8; 32],
    pub prev_mint: [u8; 32],
    pub height: u64,
}

/// A header whose hash meets its target.
#[derive(Debug, Clone)]
pub struct Solution {
    pub header: Vec<u8>,
    pub height: u64,
}

fn hex32(v: &Value, field: &str) -> Result<[u8; 32], String> {
    let s = v[field].as_str().ok_or_else(|| format!("template lacks `{field}`"))?;
    let b = hex::decode(s).map_err(|e| format!("`{field}`: {e}"))?;
    b.try_into().map_err(|_| format!("`{field}` is not 32 bytes"))
}

impl Job {
    pub fn from_template(v: &Value) -> Result<Job, String> {
        let header = hex::decode(v["header"].as_str().ok_or("template lacks `header`")?).map_err(|e| e.to_string())?;
        let nonce_offset = v["nonce_offset"].as_u64().ok_or("template lacks `nonce_offset`")? as usize;
        if nonce_offset.checked_add(8) != Some(header.len()) {
            return Err("the nonce is not the header's last 8 bytes".into());
        }
        Ok(Job {
            header,
            nonce_offset,
            target: hex32(v, "target")?,
            prev_mint: hex32(v, "prev_mint")?,
            height: v["height"].as_u64().ok_or("template lacks `height`")?,
        })
    }
}

#[derive(Debug, Default)]
struct Shared {
    /// (generation, job); `None` = idle.
    job: Mutex<(u64, Option<Job>)>,
    solution: Mutex<Option<Solution>>,
    hashes: AtomicU64,
    stop: std::sync::atomic::AtomicBool,
}

/// N threads grinding the current job, each on its own nonce range.
#[derive(Debug)]
pub struct Pool {
    shared: Arc<Shared>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Pool {
    pub fn start(n: usize) -> Pool {
        let shared = Arc::new(Shared::default());
        let threads = (0..n)
            .map(|i| {
                let s = shared.clone();
                std::thread::spawn(move || worker(i as u64, &s))
            })
            .collect();
        Pool { shared, threads }
    }

    pub fn set(&self, job: Job) {
        if let Ok(mut j) = self.shared.job.lock() {
            j.0 += 1;
            j.1 = Some(job);
        }
    }

    pub fn idle(&self) {
        if let Ok(mut j) = self.shared.job.lock()
            && j.1.is_some()
        {
            j.0 += 1;
            j.1 = None;
        }
    }

    pub fn take_solution(&self) -> Option<Solution> {
        self.shared.solution.lock().ok()?.take()
    }

    pub fn hashes(&self) -> u64 {
        self.shared.hashes.load(Ordering::Relaxed)
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn worker(index: u64, s: &Shared) {
    let mut seen = u64::MAX;
    let mut job: Option<Job> = None;
    // Each thread owns the nonces with this top byte pattern; a new job restarts the range.
    let mut nonce = index << 48;
    while !s.stop.load(Ordering::Relaxed) {
        if let Ok(j) = s.job.lock()
            && j.0 != seen
        {
            seen = j.0;
            job = j.1.clone();
            nonce = index << 48;
        }
        let Some(jb) = job.as_mut() else {
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        let off = jb.nonce_offset;
        // Everything before the 64-byte block holding the nonce is hashed once per batch.
        let split = off / 64 * 64;
        let mid = pow_midstate(&jb.header[..split]);
        for _ in 0..BATCH {
            jb.header[off..off + 8].copy_from_slice(&nonce.to_le_bytes());
            let mut h = mid.clone();
            h.update(&jb.header[split..]);
            if *h.finalize().as_bytes() <= jb.target {
                if let Ok(mut sol) = s.solution.lock() {
                    *sol = Some(Solution { header: jb.header.clone(), height: jb.height });
                }
                job = None; // wait for the next template
                break;
            }
            nonce = nonce.wrapping_add(1);
        }
        s.hashes.fetch_add(BATCH, Ordering::Relaxed);
    }
}

/// `--bench`: the miner's loop against raw BLAKE3 (same domain, same header bytes) on one
/// thread each, then the miner on all threads.
pub fn bench(threads: usize, secs: Duration) -> Result<(), crate::MinerError> {
    let header = MintHeader {
        version: 0,
        genesis: Default::default(),
        prev_mint: Default::default(),
        height: 1,
        target: [0; 32], // never met: pure hashing
        tier: 0,
        payout: [0; 33],
        nonce: 0,
    }
    .encode();
    let t = Instant::now();
    let mut n = 0u64;
    let mut acc = 0u8;
    while t.elapsed() < secs {
        for _ in 0..BATCH {
            acc ^= pow_hash_bytes(&header)[0];
        }
        n += BATCH;
    }
    let raw = n as f64 / t.elapsed().as_secs_f64();
    let offset = header.len() - 8;
    // The midstate path must give exactly the plain hash.
    let split = offset / 64 * 64;
    let mut h = pow_midstate(&header[..split]);
    h.update(&header[split..]);
    if *h.finalize().as_bytes() != pow_hash_bytes(&header) {
        return Err(crate::MinerError::Usage("midstate hashing disagrees with the plain hash".into()));
    }
    let job = Job { header, nonce_offset: offset, target: [0; 32], prev_mint: [0; 32], height: 1 };
    let one = Pool::start(1);
    one.set(job.clone());
    let t = Instant::now();
    std::thread::sleep(secs);
    let miner_one = one.hashes() as f64 / t.elapsed().as_secs_f64();
    drop(one);
    let all = Pool::start(threads);
    all.set(job);
    let t = Instant::now();
    std::thread::sleep(secs);
    let miner_all = all.hashes() as f64 / t.elapsed().as_secs_f64();
    drop(all);
    println!("bench: header {} bytes (checksum {acc})", offset + 8);
    println!("raw BLAKE3: {raw:.0} hashes/s on one thread");
    println!(
        "miner: {miner_one:.0} hashes/s on one thread (ratio {:.2}); {miner_all:.0} hashes/s on {threads} threads",
        miner_one / raw
    );
    Ok(())
}
