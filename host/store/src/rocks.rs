//! The embedded RocksDB backend: the node's default store.

use crate::{Column, Durability, KvStore, Op, Scan, StoreError, WriteBatch};
use rocksdb::{BlockBasedOptions, Cache, ColumnFamilyDescriptor, DB, Direction, IteratorMode, Options, WriteOptions};
use std::path::Path;

/// RocksDB with one column family per [`Column`]. Writes go through the WAL, so a process killed
/// at any point reopens with every completed batch and no part of an incomplete one.
pub struct RocksStore {
    db: DB,
}

impl std::fmt::Debug for RocksStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RocksStore").field("path", &self.db.path()).finish()
    }
}

/// Block cache shared by all columns, by default.
pub const DEFAULT_BLOCK_CACHE_BYTES: usize = 128 << 20;
/// Memtable size of one column before it is flushed to a table file.
const WRITE_BUFFER_BYTES: usize = 16 << 20;
/// All memtables together: past it RocksDB flushes the largest. Without this cap every column
/// may hold two 64 MiB memtables (RocksDB's default), so a node's memory grew with its writes
/// for many minutes before the first flush (docs/bench/consensus.md, "Memory").
const ALL_WRITE_BUFFERS_BYTES: usize = 64 << 20;

/// Options of every column. Most reads are point lookups, and many miss (an output that does not
/// exist yet, a call never seen): whole-key Bloom filters in the table files and in the memtable
/// answer a miss without searching, and index and filter blocks live in the shared cache.
fn column_options(cache: &Cache) -> Options {
    let mut table = BlockBasedOptions::default();
    table.set_bloom_filter(10.0, false);
    table.set_block_cache(cache);
    table.set_cache_index_and_filter_blocks(true);
    table.set_pin_l0_filter_and_index_blocks_in_cache(true);
    let mut o = Options::default();
    o.set_block_based_table_factory(&table);
    o.set_memtable_prefix_bloom_ratio(0.1);
    o.set_memtable_whole_key_filtering(true);
    o.set_compression_type(rocksdb::DBCompressionType::Lz4);
    o.set_write_buffer_size(WRITE_BUFFER_BYTES);
    o
}

impl RocksStore {
    /// Opens (creating if needed) the database in `dir`, with the default block cache.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        Self::open_with(dir, DEFAULT_BLOCK_CACHE_BYTES)
    }

    /// Opens the database in `dir` with a block cache of `block_cache_bytes` shared by every
    /// column. With the memtables' 64 MiB, the block cache is what bounds RocksDB's memory: it
    /// fills as table files are read, so a node's memory grows towards it for as long as its
    /// database does (docs/bench/consensus.md, run 10).
    pub fn open_with(dir: &Path, block_cache_bytes: usize) -> Result<Self, StoreError> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_db_write_buffer_size(ALL_WRITE_BUFFERS_BYTES);
        // A column that rarely writes would keep every WAL file alive until its own memtable
        // flushed; past this total the columns holding the oldest WAL are flushed.
        opts.set_max_total_wal_size(ALL_WRITE_BUFFERS_BYTES as u64 * 2);
        let cache = Cache::new_lru_cache(block_cache_bytes);
        let mut cfs: Vec<_> =
            Column::ALL.iter().map(|c| ColumnFamilyDescriptor::new(c.name(), column_options(&cache))).collect();
        // Column families this build does not know (a database of another format) are opened
        // too, untouched, so that the database opens and the state layer can refuse it with a
        // clear error instead of RocksDB's "column families not opened".
        let existing = DB::list_cf(&opts, dir).unwrap_or_default();
        for name in existing.into_iter().filter(|n| n != "default" && Column::ALL.iter().all(|c| c.name() != n)) {
            cfs.push(ColumnFamilyDescriptor::new(name, Options::default()));
        }
        let db = DB::open_cf_descriptors(&opts, dir, cfs)?;
        Ok(Self { db })
    }

    fn cf(&self, col: Column) -> Result<&rocksdb::ColumnFamily, StoreError> {
        self.db.cf_handle(col.name()).ok_or(StoreError::MissingColumn(col.name()))
    }
}

impl KvStore for RocksStore {
    fn get(&self, col: Column, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.db.get_cf(self.cf(col)?, key)?)
    }

    fn scan(
        &self,
        col: Column,
        prefix: &[u8],
        from: &[u8],
        visit: &mut dyn FnMut(&[u8], &[u8]) -> Scan,
    ) -> Result<(), StoreError> {
        let start = if from > prefix { from } else { prefix };
        let iter = self.db.iterator_cf(self.cf(col)?, IteratorMode::From(start, Direction::Forward));
        for item in iter {
            let (k, v) = item?;
            if !k.starts_with(prefix) || visit(&k, &v) == Scan::Stop {
                break;
            }
        }
        Ok(())
    }

    fn write(&self, batch: WriteBatch, durability: Durability) -> Result<(), StoreError> {
        let mut wb = rocksdb::WriteBatch::default();
        for op in batch.into_ops() {
            match op {
                Op::Put(c, k, v) => wb.put_cf(self.cf(c)?, k, v),
                Op::Delete(c, k) => wb.delete_cf(self.cf(c)?, k),
            }
        }
        let mut wo = WriteOptions::default();
        wo.set_sync(durability == Durability::Sync);
        Ok(self.db.write_opt(wb, &wo)?)
    }
}
