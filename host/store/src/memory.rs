//! In-memory backend, for tests only: same contract as RocksDB, nothing persisted.

use crate::{Column, Durability, KvStore, Op, Scan, StoreError, WriteBatch};
use std::collections::BTreeMap;
use std::sync::RwLock;

type Table = BTreeMap<Vec<u8>, Vec<u8>>;

/// A `BTreeMap` per column behind one lock, so a batch is atomic with respect to readers.
#[derive(Debug, Default)]
pub struct MemStore {
    cols: RwLock<BTreeMap<Column, Table>>,
}

impl MemStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl KvStore for MemStore {
    fn get(&self, col: Column, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let cols = self.cols.read().map_err(|_| StoreError::Poisoned)?;
        Ok(cols.get(&col).and_then(|t| t.get(key)).cloned())
    }

    fn scan(
        &self,
        col: Column,
        prefix: &[u8],
        from: &[u8],
        visit: &mut dyn FnMut(&[u8], &[u8]) -> Scan,
    ) -> Result<(), StoreError> {
        let cols = self.cols.read().map_err(|_| StoreError::Poisoned)?;
        let Some(table) = cols.get(&col) else { return Ok(()) };
        let start = if from > prefix { from } else { prefix };
        for (k, v) in table.range(start.to_vec()..) {
            if !k.starts_with(prefix) || visit(k, v) == Scan::Stop {
                break;
            }
        }
        Ok(())
    }

    fn write(&self, batch: WriteBatch, _durability: Durability) -> Result<(), StoreError> {
        let mut cols = self.cols.write().map_err(|_| StoreError::Poisoned)?;
        for op in batch.into_ops() {
            match op {
                Op::Put(c, k, v) => {
                    cols.entry(c).or_default().insert(k, v);
                }
                Op::Delete(c, k) => {
                    if let Some(t) = cols.get_mut(&c) {
                        t.remove(&k);
                    }
                }
            }
        }
        Ok(())
    }
}
