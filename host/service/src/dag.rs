//! Accepted events with their payloads, persisted in acceptance order.
//!
//! Column `dag` holds three kinds of keys: `o` + seq (8 bytes, big-endian) → event id, the
//! acceptance order that replay follows; `h` + id → the signed event (the header); `p` + id →
//! its payload. Headers and payloads are read by id through [`DagStore`]'s sharded LRU caches,
//! so serving peers and applying anchors does not need them all in memory. Logs of the first
//! format (seq → event and payload together) are rewritten at open.

use crate::ServiceError;
use crate::cache::ShardedCache;
use parity_scale_codec::{Decode, Encode};
use pc_codec::{Hash32, Identified};
use pc_consensus::SignedEvent;
use pc_metrics::Metrics;
use pc_runtime_api::Call;
use pc_store::{Column, Durability, KvStore, Scan, WriteBatch};
use std::sync::Arc;
use std::time::Instant;

/// Largest persisted record (an event header and its payload).
const MAX_RECORD: usize = 64 << 20;
/// Meta key: the global index of the first anchor the persisted DAG finalizes.
const FIRST_ANCHOR_KEY: &[u8] = b"dag-first-anchor";
/// Meta key: the event built but not signed yet (its signature field is zero). A node that
/// crashes before the signature comes back offers this same event again after the restart, so
/// the signer's slashing protection never sees two events for one slot from an honest node.
const UNSIGNED_KEY: &[u8] = b"dag-unsigned";
const ORDER: u8 = b'o';
const HEADER: u8 = b'h';
const PAYLOAD: u8 = b'p';

fn key(tag: u8, rest: &[u8]) -> Vec<u8> {
    [&[tag][..], rest].concat()
}

/// One persisted event.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct DagRecord {
    /// The signed event.
    pub event: SignedEvent,
    /// Its payload.
    pub payload: Vec<Call>,
}

/// Cache sizes in entries; 0 turns a cache off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheCaps {
    /// Event headers.
    pub headers: usize,
    /// Payloads.
    pub payloads: usize,
}

impl Default for CacheCaps {
    fn default() -> Self {
        CacheCaps { headers: 16_384, payloads: 2_048 }
    }
}

/// Reads headers and payloads by id, through the caches.
pub struct DagStore {
    kv: Arc<dyn KvStore>,
    headers: ShardedCache<SignedEvent>,
    payloads: ShardedCache<Vec<Call>>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for DagStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DagStore").field("headers", &self.headers).field("payloads", &self.payloads).finish()
    }
}

fn corrupt(what: &'static str) -> impl FnOnce(pc_codec::CodecError) -> ServiceError {
    move |source| ServiceError::Corrupt { what, source }
}

impl DagStore {
    /// A reader over `kv` with caches of `caps` (one shard per core).
    pub fn new(kv: Arc<dyn KvStore>, caps: CacheCaps, metrics: Arc<Metrics>) -> DagStore {
        DagStore {
            headers: ShardedCache::per_core("header", caps.headers, metrics.clone()),
            payloads: ShardedCache::per_core("payload", caps.payloads, metrics.clone()),
            kv,
            metrics,
        }
    }

    /// Every persisted event id, in acceptance order.
    pub fn ids(&self) -> Result<Vec<Hash32>, ServiceError> {
        let mut ids = Vec::new();
        let mut bad = false;
        self.kv.scan(Column::Dag, &[ORDER], &[ORDER], &mut |_, v| match <[u8; 32]>::try_from(v) {
            Ok(id) => {
                ids.push(Hash32(id));
                Scan::Continue
            }
            Err(_) => {
                bad = true;
                Scan::Stop
            }
        })?;
        if bad {
            return Err(ServiceError::Consensus("the persisted DAG order holds a malformed event id".into()));
        }
        Ok(ids)
    }

    /// The signed event `id`, from the cache or the store.
    pub fn header(&self, id: &Hash32) -> Result<Option<Arc<SignedEvent>>, ServiceError> {
        if let Some(h) = self.headers.get(id) {
            return Ok(Some(h));
        }
        let t = Instant::now();
        let bytes = self.kv.get(Column::Dag, &key(HEADER, &id.0))?;
        let h = bytes.map(|b| pc_codec::decode_canonical::<SignedEvent>(&b, MAX_RECORD)).transpose();
        Metrics::observe(&self.metrics.store_header_read, t.elapsed());
        let h = h.map_err(corrupt("dag header"))?.map(Arc::new);
        if let Some(h) = &h {
            self.headers.put(*id, h.clone());
        }
        Ok(h)
    }

    /// The payload of event `id`, from the cache or the store.
    pub fn payload(&self, id: &Hash32) -> Result<Option<Arc<Vec<Call>>>, ServiceError> {
        if let Some(p) = self.payloads.get(id) {
            return Ok(Some(p));
        }
        let t = Instant::now();
        let bytes = self.kv.get(Column::Dag, &key(PAYLOAD, &id.0))?;
        let p = bytes.map(|b| pc_codec::decode_canonical::<Vec<Call>>(&b, MAX_RECORD)).transpose();
        Metrics::observe(&self.metrics.store_payload_read, t.elapsed());
        let p = p.map_err(corrupt("dag payload"))?.map(Arc::new);
        if let Some(p) = &p {
            self.payloads.put(*id, p.clone());
        }
        Ok(p)
    }
}

/// The persisted DAG of the current epoch: appends in acceptance order, reads through
/// [`DagStore`].
#[derive(Debug)]
pub(crate) struct DagLog {
    store: DagStore,
    next: u64,
}

impl DagLog {
    /// Opens the log and reads every record, in order, with the global index of the first
    /// anchor this DAG finalizes. A new log (fresh chain, or state imported from a snapshot)
    /// starts right after the committed `head`, and that is recorded.
    pub fn open(
        kv: Arc<dyn KvStore>,
        head: u64,
        store: DagStore,
    ) -> Result<(DagLog, Vec<DagRecord>, u64), ServiceError> {
        migrate_legacy(&kv)?;
        let mut records = Vec::new();
        for id in store.ids()? {
            let missing = || ServiceError::Consensus(format!("persisted event {id} lacks its header or payload"));
            let event = store.header(&id)?.ok_or_else(missing)?;
            let payload = store.payload(&id)?.ok_or_else(missing)?;
            records.push(DagRecord { event: (*event).clone(), payload: (*payload).clone() });
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
        Ok((DagLog { store, next }, records, first_anchor))
    }

    /// Reads by id.
    pub fn store(&self) -> &DagStore {
        &self.store
    }

    /// Starts a new epoch after `head`: deletes every record and records `head + 1` as the
    /// first anchor of the next DAG, in one atomic write. Only for a single seat whose persisted
    /// events are all finalized: nothing they carry is lost, and a fresh engine continues the
    /// global anchor index.
    pub fn reset(&mut self, head: u64) -> Result<(), ServiceError> {
        let mut batch = WriteBatch::new();
        self.store.kv.scan(Column::Dag, &[], &[], &mut |k, _| {
            batch.delete(Column::Dag, k.to_vec());
            Scan::Continue
        })?;
        batch.put(Column::Meta, FIRST_ANCHOR_KEY.to_vec(), (head + 1).to_be_bytes().to_vec());
        batch.delete(Column::Meta, UNSIGNED_KEY.to_vec());
        self.store.kv.write(batch, Durability::Sync)?;
        self.next = 0;
        Ok(())
    }

    /// The event built before a crash and never signed, if any.
    pub fn unsigned(&self) -> Result<Option<DagRecord>, ServiceError> {
        let Some(bytes) = self.store.kv.get(Column::Meta, UNSIGNED_KEY)? else { return Ok(None) };
        pc_codec::decode_canonical(&bytes, MAX_RECORD).map(Some).map_err(corrupt("unsigned dag record"))
    }

    /// Persists an event about to be sent to the signer.
    pub fn save_unsigned(&self, r: &DagRecord) -> Result<(), ServiceError> {
        let mut batch = WriteBatch::new();
        batch.put(Column::Meta, UNSIGNED_KEY.to_vec(), r.encode());
        self.store.kv.write(batch, Durability::Sync)?;
        Ok(())
    }

    /// Appends a signed record durably, replacing the unsigned one in the same write. Own
    /// events are appended before the engine sees them; peer events right after it accepted
    /// them (one lost in a crash is pulled again).
    pub fn append(&mut self, r: &DagRecord) -> Result<(), ServiceError> {
        let id = r.event.event.id();
        let mut batch = WriteBatch::new();
        batch.delete(Column::Meta, UNSIGNED_KEY.to_vec());
        put_record(&mut batch, self.next, &id, r);
        self.store.kv.write(batch, Durability::Sync)?;
        self.next += 1;
        self.store.headers.put(id, Arc::new(r.event.clone()));
        self.store.payloads.put(id, Arc::new(r.payload.clone()));
        Ok(())
    }
}

fn put_record(batch: &mut WriteBatch, seq: u64, id: &Hash32, r: &DagRecord) {
    batch.put(Column::Dag, key(ORDER, &seq.to_be_bytes()), id.0.to_vec());
    batch.put(Column::Dag, key(HEADER, &id.0), r.event.encode());
    batch.put(Column::Dag, key(PAYLOAD, &id.0), r.payload.encode());
}

/// Rewrites a log of the first format (8-byte seq keys holding whole records) into the
/// current one, in one atomic write.
fn migrate_legacy(kv: &Arc<dyn KvStore>) -> Result<(), ServiceError> {
    let mut legacy: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    // Legacy keys are big-endian sequence numbers: their first byte is 0, no tag's is.
    kv.scan(Column::Dag, &[0], &[0], &mut |k, v| {
        if k.len() == 8 {
            legacy.push((k.to_vec(), v.to_vec()));
        }
        Scan::Continue
    })?;
    if legacy.is_empty() {
        return Ok(());
    }
    let mut batch = WriteBatch::new();
    for (k, v) in &legacy {
        let r: DagRecord = pc_codec::decode_canonical(v, MAX_RECORD).map_err(corrupt("dag record"))?;
        let seq = <[u8; 8]>::try_from(k.as_slice()).map_or(0, u64::from_be_bytes);
        put_record(&mut batch, seq, &r.event.event.id(), &r);
        batch.delete(Column::Dag, k.clone());
    }
    kv.write(batch, Durability::Sync)?;
    tracing::info!(target: "pc::node", records = legacy.len(), "persisted DAG rewritten to the id-keyed format");
    Ok(())
}
