//! The write overlay of one anchor, with nested checkpoints so a failed call leaves no trace.

use crate::StateError;
use crate::cache::ReadCache;
use crate::db::{column_of, read_committed};
use pc_store::{KvPairs, KvStore, Scan};
use std::collections::{BTreeMap, HashMap};

/// Pending writes in key order: `Some(value)` sets a key, `None` deletes it.
pub type Writes = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// A key and the overlay entry it had before a write (`None`: the key was not in the overlay).
type Undo = (Vec<u8>, Option<Option<Vec<u8>>>);

/// Reads see the overlay first, then the committed state; writes stay in the overlay until the
/// runtime commits them with the anchor.
pub struct StateTxn<'a> {
    base: &'a dyn KvStore,
    cache: Option<&'a ReadCache>,
    /// Hashed, not ordered: an anchor does thousands of point reads and writes here and few or
    /// no scans. Its order is never observed: [`Self::scan`] and [`Self::into_writes`] sort.
    writes: HashMap<Vec<u8>, Option<Vec<u8>>>,
    /// Previous overlay entry of every key written since the oldest open checkpoint.
    journal: Vec<Undo>,
    marks: Vec<usize>,
}

impl std::fmt::Debug for StateTxn<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateTxn").field("writes", &self.writes.len()).field("checkpoints", &self.marks.len()).finish()
    }
}

impl<'a> StateTxn<'a> {
    pub(crate) fn new(base: &'a dyn KvStore, cache: Option<&'a ReadCache>) -> Self {
        Self { base, cache, writes: HashMap::new(), journal: Vec::new(), marks: Vec::new() }
    }

    /// Reads a key.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        match self.writes.get(key) {
            Some(v) => Ok(v.clone()),
            None => read_committed(self.base, self.cache, key),
        }
    }

    /// Up to `limit` entries with keys starting with `prefix` and `>= from`, in key order.
    pub fn scan(&self, prefix: &[u8], from: &[u8], limit: usize) -> Result<KvPairs, StateError> {
        let start = if from > prefix { from } else { prefix };
        let mut out = Vec::new();
        self.base.scan(column_of(prefix), prefix, start, &mut |k, v| {
            if !self.writes.contains_key(k) {
                out.push((k.to_vec(), v.to_vec()));
            }
            if out.len() >= limit { Scan::Stop } else { Scan::Continue }
        })?;
        for (k, v) in &self.writes {
            if let Some(v) = v
                && k.starts_with(prefix)
                && k.as_slice() >= start
            {
                out.push((k.clone(), v.clone()));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out.truncate(limit);
        Ok(out)
    }

    /// Sets a key.
    pub fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.record(key, Some(value));
    }

    /// Deletes a key.
    pub fn delete(&mut self, key: Vec<u8>) {
        self.record(key, None);
    }

    fn record(&mut self, key: Vec<u8>, value: Option<Vec<u8>>) {
        let prev = self.writes.insert(key.clone(), value);
        if !self.marks.is_empty() {
            self.journal.push((key, prev));
        }
    }

    /// Opens a checkpoint; [`Self::rollback`] returns to it, [`Self::release`] keeps its writes.
    pub fn checkpoint(&mut self) {
        self.marks.push(self.journal.len());
    }

    /// Undoes every write since the newest open checkpoint and closes it.
    pub fn rollback(&mut self) {
        let Some(mark) = self.marks.pop() else { return };
        while self.journal.len() > mark {
            let Some((key, prev)) = self.journal.pop() else { break };
            match prev {
                Some(v) => self.writes.insert(key, v),
                None => self.writes.remove(&key),
            };
        }
    }

    /// Closes the newest checkpoint, keeping its writes.
    pub fn release(&mut self) {
        self.marks.pop();
        if self.marks.is_empty() {
            self.journal.clear();
        }
    }

    /// Makes room for about `keys` more writes up front (an anchor knows its call count), so
    /// the overlay does not rehash as it grows.
    pub fn reserve(&mut self, keys: usize) {
        self.writes.reserve(keys);
    }

    /// Whether `key` was written (set or deleted) in this transaction.
    pub fn written(&self, key: &[u8]) -> bool {
        self.writes.contains_key(key)
    }

    /// Number of keys written so far.
    pub fn write_count(&self) -> usize {
        self.writes.len()
    }

    /// Ends the transaction, handing its writes over for commit, in key order.
    pub fn into_writes(self) -> Writes {
        self.writes.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pc_store::{Column, Durability, MemStore, WriteBatch};

    fn base() -> MemStore {
        let s = MemStore::new();
        let mut b = WriteBatch::new();
        for k in ["a/1", "a/2", "a/4", "b/1"] {
            b.put(Column::State, k.as_bytes().to_vec(), b"base".to_vec());
        }
        s.write(b, Durability::Buffered).unwrap();
        s
    }

    #[test]
    fn nested_checkpoints_roll_back_exactly() {
        let s = base();
        let mut t = StateTxn::new(&s, None);
        t.put(b"a/1".to_vec(), b"x".to_vec());
        t.checkpoint();
        t.put(b"a/1".to_vec(), b"y".to_vec());
        t.delete(b"a/2".to_vec());
        t.checkpoint();
        t.put(b"a/9".to_vec(), b"z".to_vec());
        t.rollback();
        assert_eq!(t.get(b"a/9").unwrap(), None);
        assert_eq!(t.get(b"a/1").unwrap(), Some(b"y".to_vec()));
        t.rollback();
        assert_eq!(t.get(b"a/1").unwrap(), Some(b"x".to_vec()));
        assert_eq!(t.get(b"a/2").unwrap(), Some(b"base".to_vec()));
        assert_eq!(t.into_writes().len(), 1);
    }

    #[test]
    fn scan_merges_overlay_and_base() {
        let s = base();
        let mut t = StateTxn::new(&s, None);
        t.delete(b"a/2".to_vec());
        t.put(b"a/3".to_vec(), b"new".to_vec());
        t.put(b"a/1".to_vec(), b"upd".to_vec());
        let got = t.scan(b"a/", b"a/", 10).unwrap();
        let keys: Vec<_> = got.iter().map(|(k, _)| String::from_utf8(k.clone()).unwrap()).collect();
        assert_eq!(keys, ["a/1", "a/3", "a/4"]);
        assert_eq!(got[0].1, b"upd".to_vec());
        let two = t.scan(b"a/", b"a/", 2).unwrap();
        assert_eq!(two.len(), 2);
        assert_eq!(two[1].0, b"a/3".to_vec());
        let from = t.scan(b"a/", b"a/2", 10).unwrap();
        assert_eq!(from.len(), 2);
    }
}
