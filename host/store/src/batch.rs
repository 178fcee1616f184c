//! Write batches: the unit of atomicity.

use crate::Column;

/// One write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Sets `key` to `value`.
    Put(Column, Vec<u8>, Vec<u8>),
    /// Removes `key`.
    Delete(Column, Vec<u8>),
}

/// Writes applied together or not at all, in insertion order (a later write to a key wins).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteBatch {
    ops: Vec<Op>,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues a put.
    pub fn put(&mut self, col: Column, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.ops.push(Op::Put(col, key.into(), value.into()));
    }

    /// Queues a delete.
    pub fn delete(&mut self, col: Column, key: impl Into<Vec<u8>>) {
        self.ops.push(Op::Delete(col, key.into()));
    }

    /// The queued operations.
    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    /// Takes the operations out.
    pub fn into_ops(self) -> Vec<Op> {
        self.ops
    }

    /// Number of queued operations.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}
