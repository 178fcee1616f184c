//! The committed state and the atomic anchor commit.

use crate::cache::ReadCache;
use crate::tree::{EMPTY_STATE_ROOT, StateProof, Tree, TreeStore, key_hash, node_key_bytes, stage_nodes};
use crate::{StateError, StateTxn, Writes};
use pc_codec::{Decode, Encode, Hash32, decode_canonical};
use pc_store::{Column, Durability, KvStore, Scan, WriteBatch};
use std::sync::Arc;

const HEAD_KEY: &[u8] = b"head";
const GENESIS_KEY: &[u8] = b"genesis";
/// Age (in tree versions) beyond which leftover stale records of older databases are pruned.
const KEEP_TREE_VERSIONS: u64 = 16;
/// Stale nodes deleted per commit at most, so pruning never stalls an anchor.
const PRUNE_PER_COMMIT: usize = 4096;

/// The last committed anchor: what a restarted node resumes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub struct Head {
    /// Global index of the last committed anchor.
    pub anchor: u64,
    /// Its id.
    pub anchor_id: Hash32,
    /// The state root after applying it.
    pub state_root: Hash32,
    /// The newest tree version (the tree advances only on anchors that change state).
    pub tree_version: Option<u64>,
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

/// The committed state of one node. Clones share the store and the cache.
#[derive(Clone)]
pub struct StateDb {
    kv: Arc<dyn KvStore>,
    cache: Option<Arc<ReadCache>>,
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
        Self { kv, cache: ReadCache::new(entries).map(Arc::new) }
    }

    /// Forgets cached values: for code that wrote the store around [`Prepared::commit`].
    pub(crate) fn clear_cache(&self) {
        if let Some(c) = &self.cache {
            c.clear();
        }
    }

    /// The store underneath, for the runtime's own columns (anchors, events).
    pub fn kv(&self) -> &Arc<dyn KvStore> {
        &self.kv
    }

    /// The last committed anchor, or `None` before genesis.
    pub fn head(&self) -> Result<Option<Head>, StateError> {
        match self.kv.get(Column::Meta, HEAD_KEY)? {
            None => Ok(None),
            Some(b) => {
                decode_canonical(&b, 128).map(Some).map_err(|source| StateError::Corrupt { what: "head", source })
            }
        }
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
        Ok(self.head()?.map_or(EMPTY_STATE_ROOT, |h| h.state_root))
    }

    /// Reads a committed value.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        read_committed(self.kv.as_ref(), self.cache.as_deref(), key)
    }

    /// A transaction over the committed state.
    pub fn txn(&self) -> StateTxn<'_> {
        StateTxn::new(self.kv.as_ref(), self.cache.as_deref())
    }

    /// Computes the new tree for `writes` as anchor `anchor` and stages everything in one batch.
    /// Nothing is written until [`Prepared::commit`].
    pub fn prepare(&self, writes: Writes, anchor: u64) -> Result<Prepared<'_>, StateError> {
        let head = self.head()?;
        let expected = head.map_or(0, |h| h.anchor + 1);
        if anchor != expected {
            return Err(StateError::OutOfOrder { got: anchor, head: head.map(|h| h.anchor) });
        }
        let mut batch = WriteBatch::new();
        let mut value_set = Vec::new();
        let mut written = Vec::new();
        for (key, value) in writes {
            if column_of(&key) == Column::Aux {
                match value {
                    Some(v) => batch.put(Column::Aux, key, v),
                    None => batch.delete(Column::Aux, key),
                }
                continue;
            }
            let committed = self.get(&key)?;
            if committed == value {
                continue; // a no-op write must not churn the tree
            }
            let kh = key_hash(&key);
            match &value {
                Some(v) => batch.put(Column::State, key.clone(), v.clone()),
                None => batch.delete(Column::State, key.clone()),
            }
            value_set.push((kh, value.clone()));
            written.push((key, value));
        }
        let (state_root, tree_version) = if value_set.is_empty() {
            (head.map_or(EMPTY_STATE_ROOT, |h| h.state_root), head.and_then(|h| h.tree_version))
        } else {
            let version = head.and_then(|h| h.tree_version).map_or(0, |v| v + 1);
            let store = TreeStore { kv: self.kv.as_ref(), proving: None };
            let (root, update) =
                Tree::new(&store).put_value_set(value_set, version).map_err(|e| StateError::Tree(e.to_string()))?;
            stage_nodes(&update, &mut batch)?;
            // Only the newest version is ever read (proofs are served at the head), so the
            // nodes this update supersedes are deleted in the same atomic batch: no stale
            // records to write now and delete later.
            for stale in &update.stale_node_index_batch {
                batch.delete(Column::TreeNodes, node_key_bytes(&stale.node_key)?);
            }
            // Stale records left by databases written before this rule.
            self.stage_pruning(version, &mut batch)?;
            (Hash32(root.0), Some(version))
        };
        Ok(Prepared { db: self, batch, written, state_root, anchor, tree_version })
    }

    /// Deletes nodes that went stale more than [`KEEP_TREE_VERSIONS`] versions ago.
    fn stage_pruning(&self, version: u64, batch: &mut WriteBatch) -> Result<(), StateError> {
        let Some(limit) = version.checked_sub(KEEP_TREE_VERSIONS) else { return Ok(()) };
        let mut n = 0;
        self.kv.scan(Column::TreeStale, &[], &[], &mut |k, _| {
            let since = k.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok()).map(u64::from_be_bytes);
            match since {
                Some(s) if s <= limit && n < PRUNE_PER_COMMIT => {
                    batch.delete(Column::TreeNodes, k[8..].to_vec());
                    batch.delete(Column::TreeStale, k.to_vec());
                    n += 1;
                    Scan::Continue
                }
                _ => Scan::Stop,
            }
        })?;
        Ok(())
    }

    /// A Merkle proof of a key's current value (or absence) against the current state root.
    pub fn prove(&self, key: &[u8]) -> Result<StateProof, StateError> {
        let Some(version) = self.head()?.and_then(|h| h.tree_version) else {
            return Err(StateError::Tree("the state is empty; nothing to prove against".into()));
        };
        let value = self.kv.get(Column::State, key)?;
        let store = TreeStore { kv: self.kv.as_ref(), proving: Some((key_hash(key), value)) };
        let (value, proof) =
            Tree::new(&store).get_with_proof(key_hash(key), version).map_err(|e| StateError::Tree(e.to_string()))?;
        Ok(StateProof { key: key.to_vec(), value, proof })
    }

    pub(crate) fn write_head(batch: &mut WriteBatch, head: &Head) {
        batch.put(Column::Meta, HEAD_KEY.to_vec(), head.encode());
    }

    pub(crate) fn write_genesis(batch: &mut WriteBatch, genesis: &Hash32) {
        batch.put(Column::Meta, GENESIS_KEY.to_vec(), genesis.encode());
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
    tree_version: Option<u64>,
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

    /// Writes state, tree, extra records and the new head in one durable atomic batch.
    pub fn commit(mut self, anchor_id: Hash32) -> Result<Head, StateError> {
        let head =
            Head { anchor: self.anchor, anchor_id, state_root: self.state_root, tree_version: self.tree_version };
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
