//! Accepted events with their payloads, persisted in acceptance order.

use crate::ServiceError;
use parity_scale_codec::{Decode, Encode};
use pc_consensus::SignedEvent;
use pc_runtime_api::Call;
use pc_store::{Column, Durability, KvStore, Scan, WriteBatch};
use std::sync::Arc;

/// Largest persisted record (an event header and its payload).
const MAX_RECORD: usize = 64 << 20;
/// Meta key: the global index of the first anchor the persisted DAG finalizes.
const FIRST_ANCHOR_KEY: &[u8] = b"dag-first-anchor";
/// Meta key: the event built but not signed yet (its signature field is zero). A node that
/// crashes before the signature comes back offers this same event again after the restart, so
/// the signer's slashing protection never sees two events for one slot from an honest node.
const UNSIGNED_KEY: &[u8] = b"dag-unsigned";

/// One persisted event.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub(crate) struct DagRecord {
    pub event: SignedEvent,
    pub payload: Vec<Call>,
}

pub(crate) struct DagLog {
    kv: Arc<dyn KvStore>,
    next: u64,
}

impl DagLog {
    /// Opens the log and reads every record, in order, with the global index of the first
    /// anchor this DAG finalizes. A new log (fresh chain, or state imported from a snapshot)
    /// starts right after the committed `head`, and that is recorded.
    pub fn open(kv: Arc<dyn KvStore>, head: u64) -> Result<(DagLog, Vec<DagRecord>, u64), ServiceError> {
        let mut records = Vec::new();
        let mut bad = None;
        kv.scan(Column::Dag, &[], &[], &mut |_, v| match pc_codec::decode_canonical::<DagRecord>(v, MAX_RECORD) {
            Ok(r) => {
                records.push(r);
                Scan::Continue
            }
            Err(e) => {
                bad = Some(e);
                Scan::Stop
            }
        })?;
        if let Some(source) = bad {
            return Err(ServiceError::Corrupt { what: "dag record", source });
        }
        let next = records.len() as u64;
        let first_anchor = if records.is_empty() {
            let first = head + 1;
            let mut batch = WriteBatch::new();
            batch.put(Column::Meta, FIRST_ANCHOR_KEY.to_vec(), first.to_be_bytes().to_vec());
            kv.write(batch, Durability::Sync)?;
            first
        } else {
            // Logs written before this record existed started at anchor 1.
            kv.get(Column::Meta, FIRST_ANCHOR_KEY)?
                .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
                .map_or(1, u64::from_be_bytes)
        };
        Ok((DagLog { kv, next }, records, first_anchor))
    }

    /// Starts a new epoch after `head`: deletes every record and records `head + 1` as the
    /// first anchor of the next DAG, in one atomic write. Only for a single seat whose persisted
    /// events are all finalized: nothing they carry is lost, and a fresh engine continues the
    /// global anchor index.
    pub fn reset(&mut self, head: u64) -> Result<(), ServiceError> {
        let mut batch = WriteBatch::new();
        for seq in 0..self.next {
            batch.delete(Column::Dag, seq.to_be_bytes().to_vec());
        }
        batch.put(Column::Meta, FIRST_ANCHOR_KEY.to_vec(), (head + 1).to_be_bytes().to_vec());
        batch.delete(Column::Meta, UNSIGNED_KEY.to_vec());
        self.kv.write(batch, Durability::Sync)?;
        self.next = 0;
        Ok(())
    }

    /// The event built before a crash and never signed, if any.
    pub fn unsigned(&self) -> Result<Option<DagRecord>, ServiceError> {
        let Some(bytes) = self.kv.get(Column::Meta, UNSIGNED_KEY)? else { return Ok(None) };
        pc_codec::decode_canonical(&bytes, MAX_RECORD)
            .map(Some)
            .map_err(|source| ServiceError::Corrupt { what: "unsigned dag record", source })
    }

    /// Persists an event about to be sent to the signer.
    pub fn save_unsigned(&self, r: &DagRecord) -> Result<(), ServiceError> {
        let mut batch = WriteBatch::new();
        batch.put(Column::Meta, UNSIGNED_KEY.to_vec(), r.encode());
        self.kv.write(batch, Durability::Sync)?;
        Ok(())
    }

    /// Appends a signed record durably, replacing the unsigned one in the same write. Own
    /// events are appended before the engine sees them; peer events right after it accepted
    /// them (one lost in a crash is pulled again).
    pub fn append(&mut self, r: &DagRecord) -> Result<(), ServiceError> {
        let mut batch = WriteBatch::new();
        batch.delete(Column::Meta, UNSIGNED_KEY.to_vec());
        batch.put(Column::Dag, self.next.to_be_bytes().to_vec(), r.encode());
        self.kv.write(batch, Durability::Sync)?;
        self.next += 1;
        Ok(())
    }
}
