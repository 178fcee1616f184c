//! Key-value storage for PhantomCoin.
//!
//! One [`KvStore`] trait, two backends: [`RocksStore`] (embedded RocksDB, one column family per
//! [`Column`]; the default) and [`MemStore`] (tests). Every write goes through a [`WriteBatch`]
//! that the backend applies atomically: all writes of one finalized anchor, together with the
//! "last applied anchor" marker, land together or not at all.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod batch;
mod memory;
#[cfg(feature = "rocksdb")]
mod rocks;

pub use batch::{Op, WriteBatch};
pub use memory::MemStore;
#[cfg(feature = "rocksdb")]
pub use rocks::{DEFAULT_BLOCK_CACHE_BYTES, RocksStore};

/// Key-value pairs returned by scans, in key order.
pub type KvPairs = Vec<(Vec<u8>, Vec<u8>)>;

/// The column families. Each holds one kind of record; see `docs/spec/storage.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Column {
    /// Markers: state format, genesis hash, last applied anchor, state accumulator.
    Meta,
    /// Module state: `module/item/key` → SCALE value.
    State,
    /// Finalized anchor records by global anchor index.
    Anchors,
    /// Module events by (anchor, index), each tagged with its module.
    Events,
    /// Finalized calls by call key (e.g. a transaction id): where each landed and how it ended.
    Calls,
    /// Accepted DAG events with their payloads, in acceptance order: replayed into the
    /// consensus engine at start.
    Dag,
    /// Modules' auxiliary items (indexes such as UTXO-by-address): written in the anchor's
    /// atomic batch, but not part of the state root.
    Aux,
}

impl Column {
    /// Every column, in a fixed order.
    pub const ALL: [Column; 7] =
        [Column::Meta, Column::State, Column::Anchors, Column::Events, Column::Calls, Column::Dag, Column::Aux];

    /// The column family name on disk.
    pub const fn name(self) -> &'static str {
        match self {
            Column::Meta => "meta",
            Column::State => "state",
            Column::Anchors => "anchors",
            Column::Events => "events",
            Column::Calls => "calls",
            Column::Dag => "dag",
            Column::Aux => "aux",
        }
    }
}

/// A storage failure. Backends never panic on I/O; they report.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// RocksDB reported an error.
    #[cfg(feature = "rocksdb")]
    #[error("rocksdb: {0}")]
    Rocks(#[from] rocksdb::Error),
    /// A column family is missing from an opened database.
    #[error("column family `{0}` is missing")]
    MissingColumn(&'static str),
    /// A lock guarding in-memory data was poisoned by a panicking thread.
    #[error("in-memory store lock poisoned")]
    Poisoned,
}

/// Whether a write must reach the disk before `write` returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// fsync the write-ahead log: survives power loss. Used for anchor commits.
    Sync,
    /// Leave flushing to the OS: survives a process kill, not a power cut.
    Buffered,
}

/// What a scan callback wants next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scan {
    /// Go on to the next entry.
    Continue,
    /// Stop the scan.
    Stop,
}

/// An ordered key-value store with column families and atomic batches.
pub trait KvStore: Send + Sync {
    /// Reads one value.
    fn get(&self, col: Column, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// Visits, in ascending key order, every entry whose key starts with `prefix` and is `>= from`
    /// (pass `prefix` itself as `from` to start at the beginning).
    fn scan(
        &self,
        col: Column,
        prefix: &[u8],
        from: &[u8],
        visit: &mut dyn FnMut(&[u8], &[u8]) -> Scan,
    ) -> Result<(), StoreError>;

    /// Applies every operation of `batch` atomically.
    fn write(&self, batch: WriteBatch, durability: Durability) -> Result<(), StoreError>;
}

#[cfg(test)]
mod contract_tests;
