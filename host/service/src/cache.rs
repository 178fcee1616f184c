//! A sharded LRU cache (the `lru` crate behind one mutex per shard) for event headers and
//! payloads read from the store. Shards keep readers on different cores off each other's lock;
//! a capacity of 0 turns the cache off.

use lru::LruCache;
use pc_codec::Hash32;
use pc_metrics::{CacheLabel, Metrics};
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

/// One cache of `name` (`header` or `payload`).
pub struct ShardedCache<V> {
    shards: Vec<Mutex<LruCache<Hash32, Arc<V>>>>,
    label: CacheLabel,
    metrics: Arc<Metrics>,
}

impl<V> std::fmt::Debug for ShardedCache<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShardedCache").field("cache", &self.label.cache).field("shards", &self.shards.len()).finish()
    }
}

impl<V> ShardedCache<V> {
    /// A cache of about `cap` entries over `shards` shards (0 = off).
    pub fn new(name: &'static str, cap: usize, shards: usize, metrics: Arc<Metrics>) -> Self {
        let shards = if cap == 0 { 0 } else { shards.clamp(1, cap) };
        let per = if shards == 0 { 0 } else { cap.div_ceil(shards) };
        let shards = (0..shards).filter_map(|_| NonZeroUsize::new(per).map(|n| Mutex::new(LruCache::new(n)))).collect();
        ShardedCache { shards, label: CacheLabel { cache: name }, metrics }
    }

    /// One shard per core: the default.
    pub fn per_core(name: &'static str, cap: usize, metrics: Arc<Metrics>) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
        Self::new(name, cap, cores, metrics)
    }

    fn shard(&self, id: &Hash32) -> Option<&Mutex<LruCache<Hash32, Arc<V>>>> {
        if self.shards.is_empty() {
            return None;
        }
        self.shards.get((id.prefix_u64() % self.shards.len() as u64) as usize)
    }

    /// The cached value, counting a hit or a miss.
    pub fn get(&self, id: &Hash32) -> Option<Arc<V>> {
        let found = self.shard(id).and_then(|s| s.lock().ok()?.get(id).cloned());
        match &found {
            Some(_) => self.metrics.cache_hits.get_or_create(&self.label).inc(),
            None => self.metrics.cache_misses.get_or_create(&self.label).inc(),
        };
        found
    }

    /// Caches a value.
    pub fn put(&self, id: Hash32, v: Arc<V>) {
        if let Some(s) = self.shard(&id)
            && let Ok(mut s) = s.lock()
        {
            s.put(id, v);
        }
    }
}
