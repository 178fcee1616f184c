//! The committed state and the atomic anchor commit.

use crate::cache::ReadCache;
use crate::commitment::{Accumulator, Change, empty_state_root};
use crate::{StateError, StateTxn, Writes};
use pc_codec::{Decode, Encode, Hash32, decode_canonical};
use pc_store::{Column, Durability, KvStore, WriteBatch};
use rayon::prelude::*;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

const HEAD_KEY: &[u8] = b"head";
const GENESIS_KEY: &[u8] = b"genesis";
const ACCUMULATOR_KEY: &[u8] = b"state-accumulator";
const FORMAT_KEY: &[u8] = b"state-format";
/// The state format this build reads and writes. 4: the host stores every epoch's committee
/// (`host.committee`), starting at genesis, so a state of format 3 lacks it. 3: the `utxo` module no longer keeps a
/// `last-anchor` entry (views carry the anchor), so a state of format 2 holds a key that a node
/// synced from genesis lacks, and its roots would differ: such a node must resync or import a
/// snapshot. 2 is the lattice-hash commitment. Format 1 (a sparse Merkle tree) recorded no
/// marker.
pub const STATE_FORMAT: u32 = 4;
/// Below this many state writes an anchor's committed values are read on the calling thread.
const PARALLEL_READS_FROM: usize = 64;

/// The last committed anchor: what a restarted node resumes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub struct Head {
    /// Global index of the last committed anchor.
    pub anchor: u64,
    /// Its id.
    pub anchor_id: Hash32,
    /// The state root after applying it.
    pub state_root: Hash32,
}

/// Keys with this prefix are auxiliary: committed with the anchor, outside the state root.
/// (Module namespaces are `a-z0-9-` names, so no module key starts with 0xFF.)
pub const AUX_KEY_PREFIX: &[u8] = b"\xffaux/";

/// The column a state key lives in.
pub(crate) fn column_of(key: &[u8]) -> Column {
    if key.starts_with(AUX_KEY_PREFIX) { Column::Aux } else { Column::State }
}

/// Entries of the committed-value cache of [`StateDb::new`] (a few hundred bytes each).
pub const DEFAULT_STATE_CACHE_ENTRIES: usize = 1 << 18;

/// A committed value, through the cache where there is one (auxiliary keys bypass it: they are
/// read by scans).
pub(crate) fn read_committed(
    kv: &dyn KvStore,
    cache: Option<&ReadCache>,
    key: &[u8],
) -> Result<Option<Vec<u8>>, StateError> {
    let col = column_of(key);
    let Some(cache) = cache.filter(|_| col == Column::State) else { return Ok(kv.get(col, key)?) };
    if let Some(v) = cache.get(key) {
        return Ok(v);
    }
    let epoch = cache.read_epoch();
    let v = kv.get(col, key)?;
    cache.fill(epoch, key, v.clone());
    Ok(v)
}

/// A changed state key with its committed value and its new one.
type OwnedChange = (Vec<u8>, Option<Vec<u8>>, Option<Vec<u8>>);

/// The committed state of one node. Clones share the store, the cache and the commit lock.
#[derive(Clone)]
pub struct StateDb {
    kv: Arc<dyn KvStore>,
    cache: Option<Arc<ReadCache>>,
    /// Held from [`StateDb::prepare`] until the commit is written and cached: the accumulator
    /// is read, updated and written back, so two commits must never interleave.
    commit_lock: Arc<Mutex<()>>,
}

impl std::fmt::Debug for StateDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateDb").finish_non_exhaustive()
    }
}

impl StateDb {
    /// Wraps a store, with a cache of [`DEFAULT_STATE_CACHE_ENTRIES`] committed values.
    pub fn new(kv: Arc<dyn KvStore>) -> Self {
        Self::with_cache(kv, DEFAULT_STATE_CACHE_ENTRIES)
    }

    /// Wraps a store, with a cache of `entries` committed values (0: none).
    pub fn with_cache(kv: Arc<dyn KvStore>, entries: usize) -> Self {
        Self { kv, cache: ReadCache::new(entries).map(Arc::new), commit_lock: Arc::new(Mutex::new(())) }
    }

    /// Forgets cached values: for code that wrote the store around [`Prepared::commit`].
    pub(crate) fn clear_cache(&self) {
        if let Some(c) = &self.cache {
            c.clear();
        }
    }

    /// The commit lock, for writers that bypass [`StateDb::prepare`] (snapshot restore). It
    /// guards no data of its own, so a poisoned one is as good as a clean one.
    pub(crate) fn lock_commits(&self) -> MutexGuard<'_, ()> {
        self.commit_lock.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The store underneath, for the runtime's own columns (anchors, events).
    pub fn kv(&self) -> &Arc<dyn KvStore> {
        &self.kv
    }

    /// The last committed anchor, or `None` before genesis. A database of another state
    /// format is refused here, before anything reads or writes its state.
    pub fn head(&self) -> Result<Option<Head>, StateError> {
        let Some(b) = self.kv.get(Column::Meta, HEAD_KEY)? else { return Ok(None) };
        let found = match self.kv.get(Column::Meta, FORMAT_KEY)? {
            None => 1,
            Some(f) => {
                decode_canonical(&f, 4).map_err(|source| StateError::Corrupt { what: "state format", source })?
            }
        };
        if found != STATE_FORMAT {
            return Err(StateError::Format { found, expected: STATE_FORMAT });
        }
        decode_canonical(&b, 128).map(Some).map_err(|source| StateError::Corrupt { what: "head", source })
    }

    /// The committed state accumulator (empty before genesis).
    pub fn accumulator(&self) -> Result<Accumulator, StateError> {
        match self.kv.get(Column::Meta, ACCUMULATOR_KEY)? {
            None => Ok(Accumulator::empty()),
            Some(b) => Accumulator::from_bytes(&b),
        }
    }

    /// The accumulator a commit builds on, checked against the head's root: a wrong one
    /// would silently commit wrong roots from here on, so it is refused as corruption.
    fn checked_accumulator(&self, head: Option<&Head>) -> Result<Accumulator, StateError> {
        let acc = self.accumulator()?;
        let (root, expected) = (acc.root(), head.map_or_else(empty_state_root, |h| h.state_root));
        if root != expected {
            return Err(StateError::AccumulatorMismatch { root, head: expected });
        }
        Ok(acc)
    }

    /// The genesis hash of the chain this database belongs to, once genesis is committed.
    pub fn genesis_hash(&self) -> Result<Option<Hash32>, StateError> {
        match self.kv.get(Column::Meta, GENESIS_KEY)? {
            None => Ok(None),
            Some(b) => decode_canonical(&b, 32)
                .map(Some)
                .map_err(|source| StateError::Corrupt { what: "genesis hash", source }),
        }
    }

    /// The current state root (the empty root before genesis).
    pub fn state_root(&self) -> Result<Hash32, StateError> {
        Ok(self.head()?.map_or_else(empty_state_root, |h| h.state_root))
    }

    /// Reads a committed value.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        read_committed(self.kv.as_ref(), self.cache.as_deref(), key)
    }

    /// A transaction over the committed state.
    pub fn txn(&self) -> StateTxn<'_> {
        StateTxn::new(self.kv.as_ref(), self.cache.as_deref())
    }

    /// Computes the state root after `writes` as anchor `anchor` and stages everything in one
    /// batch. Nothing is written until [`Prepared::commit`], and the commit lock is held until
    /// the [`Prepared`] is committed or dropped.
    pub fn prepare(&self, writes: Writes, anchor: u64) -> Result<Prepared<'_>, StateError> {
        let guard = self.lock_commits();
        let head = self.head()?;
        let expected = head.map_or(0, |h| h.anchor + 1);
        if anchor != expected {
            return Err(StateError::OutOfOrder { got: anchor, head: head.map(|h| h.anchor) });
        }
        let mut batch = WriteBatch::new();
        let (aux, state): (Vec<_>, Vec<_>) = writes.into_iter().partition(|(k, _)| column_of(k) == Column::Aux);
        for (key, value) in aux {
            match value {
                Some(v) => batch.put(Column::Aux, key, v),
                None => batch.delete(Column::Aux, key),
            }
        }
        // The committed value of every written key: the commitment takes it out, and a
        // no-op write must change nothing.
        let read = |(key, value): (Vec<u8>, Option<Vec<u8>>)| {
            self.get(&key).map(|committed| (committed != value).then_some((key, committed, value)))
        };
        let changes: Vec<OwnedChange> = if state.len() < PARALLEL_READS_FROM {
            state.into_iter().map(read).filter_map(Result::transpose).collect::<Result<_, _>>()?
        } else {
            state.into_par_iter().map(read).filter_map(Result::transpose).collect::<Result<_, _>>()?
        };
        let state_root = if changes.is_empty() {
            head.map_or_else(empty_state_root, |h| h.state_root)
        } else {
            let mut acc = self.checked_accumulator(head.as_ref())?;
            let refs: Vec<Change<'_>> =
                changes.iter().map(|(k, old, new)| (k.as_slice(), old.as_deref(), new.as_deref())).collect();
            acc.apply(&refs);
            StateDb::write_accumulator(&mut batch, &acc);
            acc.root()
        };
        let mut written = Vec::with_capacity(changes.len());
        for (key, _, value) in changes {
            match &value {
                Some(v) => batch.put(Column::State, key.clone(), v.clone()),
                None => batch.delete(Column::State, key.clone()),
            }
            written.push((key, value));
        }
        Ok(Prepared { db: self, batch, written, state_root, anchor, _guard: guard })
    }

    /// The head goes with the format marker: a database is only ever written by a build that
    /// reads its format ([`StateDb::head`] refuses the others before any commit).
    pub(crate) fn write_head(batch: &mut WriteBatch, head: &Head) {
        batch.put(Column::Meta, HEAD_KEY.to_vec(), head.encode());
        batch.put(Column::Meta, FORMAT_KEY.to_vec(), STATE_FORMAT.encode());
    }

    pub(crate) fn write_genesis(batch: &mut WriteBatch, genesis: &Hash32) {
        batch.put(Column::Meta, GENESIS_KEY.to_vec(), genesis.encode());
    }

    pub(crate) fn write_accumulator(batch: &mut WriteBatch, acc: &Accumulator) {
        batch.put(Column::Meta, ACCUMULATOR_KEY.to_vec(), acc.to_bytes());
    }
}

/// An anchor's staged commit: the state root is known, nothing is written yet.
#[derive(Debug)]
pub struct Prepared<'a> {
    db: &'a StateDb,
    batch: WriteBatch,
    /// The state values this commit changes, for the cache.
    written: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    state_root: Hash32,
    anchor: u64,
    /// The commit lock, released after the write and the cache update.
    _guard: MutexGuard<'a, ()>,
}

impl Prepared<'_> {
    /// The state root after this anchor.
    pub fn state_root(&self) -> Hash32 {
        self.state_root
    }

    /// The batch, for records that must commit atomically with the state (anchor, events). Never
    /// for `State` column entries: those go through [`StateDb::prepare`], which also writes
    /// them through to the cache.
    pub fn batch_mut(&mut self) -> &mut WriteBatch {
        &mut self.batch
    }

    /// Records which chain this database belongs to (done once, with genesis).
    pub fn set_genesis_hash(&mut self, genesis: &Hash32) {
        StateDb::write_genesis(&mut self.batch, genesis);
    }

    /// Writes the state values, the accumulator, extra records and the new head in one durable
    /// atomic batch, then the changed values through to the cache.
    pub fn commit(mut self, anchor_id: Hash32) -> Result<Head, StateError> {
        let head = Head { anchor: self.anchor, anchor_id, state_root: self.state_root };
        StateDb::write_head(&mut self.batch, &head);
        let Some(cache) = &self.db.cache else {
            self.db.kv.write(self.batch, Durability::Sync)?;
            return Ok(head);
        };
        cache.begin_update();
        let result = self.db.kv.write(self.batch, Durability::Sync);
        if result.is_ok() {
            for (key, value) in self.written {
                cache.update(key, value);
            }
        }
        cache.end_update();
        result?;
        Ok(head)
    }
}
