//! Adapters from pc-state to the runtime-api storage traits.

use pc_runtime_api::{KvPairs, StateRead, StateWrite, StorageError};
use pc_state::{StateDb, StateTxn};

fn err(e: impl std::fmt::Display) -> StorageError {
    StorageError(e.to_string())
}

/// The anchor's overlay, as modules see it.
pub(crate) struct TxnBackend<'t, 'a>(pub &'t mut StateTxn<'a>);

impl StateRead for TxnBackend<'_, '_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.0.get(key).map_err(err)
    }
    fn scan(&self, prefix: &[u8], from: &[u8], limit: usize) -> Result<KvPairs, StorageError> {
        self.0.scan(prefix, from, limit).map_err(err)
    }
    fn written(&self, key: &[u8]) -> bool {
        self.0.written(key)
    }
}

impl StateWrite for TxnBackend<'_, '_> {
    fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.0.put(key, value);
    }
    fn delete(&mut self, key: Vec<u8>) {
        self.0.delete(key);
    }
}

/// The committed state, read-only (validation, RPC).
pub(crate) struct CommittedBackend<'a>(pub StateTxn<'a>);

impl CommittedBackend<'_> {
    pub(crate) fn new(db: &StateDb) -> CommittedBackend<'_> {
        CommittedBackend(db.txn())
    }
}

impl StateRead for CommittedBackend<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.0.get(key).map_err(err)
    }
    fn scan(&self, prefix: &[u8], from: &[u8], limit: usize) -> Result<KvPairs, StorageError> {
        self.0.scan(prefix, from, limit).map_err(err)
    }
}
