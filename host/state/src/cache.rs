//! Committed state values kept in memory in front of the store (what Bitcoin Core calls its
//! coins cache): admission, the anchor's precheck, the mempool's re-check and the commit's
//! no-op test all read the same few keys (an output, then its spend), and a store lookup costs
//! microseconds where a cache hit costs a hash.
//!
//! The cache only ever holds what the store holds: every commit writes its values through
//! (under [`ReadCache::begin_update`] / [`ReadCache::end_update`]), and a reader that raced a
//! commit does not fill. Absent keys are cached too (`None`): "does this output exist yet" is
//! asked of every new output. Only lookups happen, never iteration, so nothing here can leak
//! an order into the state.

use lru::LruCache;
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

const SHARDS: usize = 16;

/// Committed values (`None`: absent) by state key.
type Shard = Mutex<LruCache<Vec<u8>, Option<Vec<u8>>>>;

/// A sharded LRU of committed values by state key.
#[derive(Debug)]
pub struct ReadCache {
    shards: Vec<Shard>,
    /// Even: no commit is writing; odd: one is. A fill whose read began in another epoch is
    /// dropped (it may have read a value the commit has since replaced).
    epoch: AtomicU64,
}

/// Which shard holds `key` (FNV-1a: keys share their module prefix, so every byte counts).
fn shard_of(key: &[u8]) -> usize {
    let h = key.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3));
    (h % SHARDS as u64) as usize
}

impl ReadCache {
    /// A cache of about `entries` values; `None` for 0 (no cache).
    pub fn new(entries: usize) -> Option<Self> {
        let per_shard = NonZeroUsize::new(entries.div_ceil(SHARDS))?;
        Some(ReadCache {
            shards: (0..SHARDS).map(|_| Mutex::new(LruCache::new(per_shard))).collect(),
            epoch: AtomicU64::new(0),
        })
    }

    fn shard(&self, key: &[u8]) -> Option<&Shard> {
        self.shards.get(shard_of(key))
    }

    /// The cached value of `key`: `Some(None)` means cached as absent, `None` a miss.
    pub fn get(&self, key: &[u8]) -> Option<Option<Vec<u8>>> {
        self.shard(key)?.lock().ok()?.get(key).cloned()
    }

    /// The epoch to pass to [`fill`](Self::fill) for a store read that starts now.
    pub fn read_epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Caches what a store read that started in `epoch` returned, unless a commit began since.
    pub fn fill(&self, epoch: u64, key: &[u8], value: Option<Vec<u8>>) {
        if epoch % 2 == 1 {
            return;
        }
        let Some(Ok(mut shard)) = self.shard(key).map(Mutex::lock) else { return };
        // Checked under the shard lock: a commit updates its shards under the same locks
        // after bumping the epoch, so a stale fill can never land after its update.
        if self.epoch.load(Ordering::Acquire) == epoch {
            shard.put(key.to_vec(), value);
        }
    }

    /// Starts a commit: fills from reads that began before it are dropped from now on.
    pub fn begin_update(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }

    /// Writes a committed value through.
    pub fn update(&self, key: Vec<u8>, value: Option<Vec<u8>>) {
        if let Some(Ok(mut shard)) = self.shard(&key).map(Mutex::lock) {
            shard.put(key, value);
        }
    }

    /// Ends a commit (after its store write and its [`update`](Self::update)s).
    pub fn end_update(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }

    /// Forgets everything (after the store was written around the cache, e.g. a restore).
    pub fn clear(&self) {
        self.begin_update();
        for shard in &self.shards {
            if let Ok(mut s) = shard.lock() {
                s.clear();
            }
        }
        self.end_update();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fill_that_raced_a_commit_is_dropped() {
        let c = ReadCache::new(64).unwrap();
        let e = c.read_epoch();
        c.begin_update();
        c.update(b"k".to_vec(), Some(b"new".to_vec()));
        c.end_update();
        c.fill(e, b"k", Some(b"old".to_vec()));
        assert_eq!(c.get(b"k"), Some(Some(b"new".to_vec())));
        let during = {
            c.begin_update();
            let e = c.read_epoch();
            c.end_update();
            e
        };
        c.fill(during, b"x", None);
        assert_eq!(c.get(b"x"), None, "a read during a commit never fills");
        c.fill(c.read_epoch(), b"x", None);
        assert_eq!(c.get(b"x"), Some(None), "absent keys are cached");
    }

    #[test]
    fn capacity_zero_means_no_cache_and_clear_forgets() {
        assert!(ReadCache::new(0).is_none());
        let c = ReadCache::new(16).unwrap();
        c.fill(c.read_epoch(), b"a", Some(b"1".to_vec()));
        c.clear();
        assert_eq!(c.get(b"a"), None);
    }
}
