//! A cache of BIP-340 checks that succeeded.

use pc_utxo_tx::{Bip340, SigChecker, XOnly};
use std::collections::HashSet;
use std::sync::Mutex;

const SHARDS: usize = 16;
/// Entries per shard before the shard is emptied (a miss only costs a verification).
const SHARD_CAP: usize = 16_384;

/// Verified (key, message, signature) triples, sharded so parallel admission rarely contends.
/// Only lookups happen, never iteration, so the set's order cannot leak anywhere.
#[derive(Debug)]
pub struct SigCache {
    shards: Vec<Mutex<HashSet<[u8; 32]>>>,
}

impl Default for SigCache {
    fn default() -> Self {
        SigCache { shards: (0..SHARDS).map(|_| Mutex::new(HashSet::new())).collect() }
    }
}

const ENTRY: pc_runtime_api::codec::Domain = pc_runtime_api::codec::Domain::new("phantomcoin/v1/utxo/sig-cache-entry");

fn entry(key: &XOnly, msg: &[u8; 32], sig: &[u8; 64]) -> [u8; 32] {
    let mut h = ENTRY.hasher();
    h.update(&key.0).update(msg).update(sig);
    *h.finalize().as_bytes()
}

impl SigCache {
    fn shard(&self, e: &[u8; 32]) -> Option<&Mutex<HashSet<[u8; 32]>>> {
        self.shards.get(usize::from(e[0]) % SHARDS)
    }
}

impl SigChecker for SigCache {
    fn check(&self, key: &XOnly, msg: &[u8; 32], sig: &[u8; 64]) -> bool {
        let e = entry(key, msg, sig);
        let Some(shard) = self.shard(&e) else { return Bip340::verify(key, msg, sig) };
        if shard.lock().map(|s| s.contains(&e)).unwrap_or(false) {
            return true;
        }
        let ok = Bip340::verify(key, msg, sig);
        if ok && let Ok(mut s) = shard.lock() {
            if s.len() >= SHARD_CAP {
                s.clear();
            }
            s.insert(e);
        }
        ok
    }
}
