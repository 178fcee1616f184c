//! Accepted events with their payloads, persisted in acceptance order.
//!
//! Column `dag` holds three kinds of keys: `o` + epoch + seq (8 bytes each, big-endian) → event
//! id, the acceptance order within a consensus epoch that replay follows; `h` + id → the
//! signed event (the header); `p` + id → its payload. Headers and payloads are read by id
//! through [`DagStore`]'s sharded LRU caches, so serving peers and applying anchors does not
//! need them all in memory. Only the current epoch is replayed at start; the epochs before it
//! stay on disk (up to a retention) to serve nodes that catch up. Logs of the older formats
//! (seq → whole record; `o` + seq without the epoch) are rewritten at open.

use crate::ServiceError;
use crate::cache::ShardedCache;
use parity_scale_codec::{Decode, Encode};
use pc_codec::{Hash32, Identified};
use pc_consensus::SignedEvent;
use pc_metrics::Metrics;
use pc_runtime_api::Call;
pub use pc_runtime_api::EpochGrid;
use pc_store::{Column, Durability, KvStore, Scan, WriteBatch};
use std::sync::Arc;
use std::time::Instant;

/// Largest persisted record (an event header and its payload).
const MAX_RECORD: usize = 64 << 20;
/// Meta key: the current consensus epoch, named by the global index of its first anchor.
const FIRST_ANCHOR_KEY: &[u8] = b"dag-first-anchor";
/// Meta key: the event built but not signed yet (its signature field is zero). A node that
/// crashes before the signature comes back offers this same event again after the restart, so
/// the signer's slashing protection never sees two events for one slot from an honest node.
const UNSIGNED_KEY: &[u8] = b"dag-unsigned";
const ORDER: u8 = b'o';
const HEADER: u8 = b'h';
const PAYLOAD: u8 = b'p';
/// `s` + epoch → the ids of each seat's newest events in that epoch (SCALE `Vec<Vec<id>>`),
/// written when the epoch ends: what a restarting validator is shown of its own chain.
const NEWEST: u8 = b's';

fn key(tag: u8, rest: &[u8]) -> Vec<u8> {
    [&[tag][..], rest].concat()
}

/// The epoch of an order or summary key (`tag` + epoch + …).
fn epoch_of_key(k: &[u8]) -> Option<u64> {
    k.get(1..9).and_then(|b| <[u8; 8]>::try_from(b).ok()).map(u64::from_be_bytes)
}

fn order_key(epoch: u64, seq: u64) -> Vec<u8> {
    [&[ORDER][..], &epoch.to_be_bytes(), &seq.to_be_bytes()].concat()
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

    /// Every persisted event id of every epoch kept, epoch by epoch in acceptance order.
    pub fn ids(&self) -> Result<Vec<Hash32>, ServiceError> {
        self.ids_under(&[ORDER])
    }

    /// The persisted event ids of the epoch that starts at anchor `epoch`, in acceptance order
    /// (empty for an epoch pruned or never seen).
    pub fn ids_of(&self, epoch: u64) -> Result<Vec<Hash32>, ServiceError> {
        self.ids_under(&[&[ORDER][..], &epoch.to_be_bytes()].concat())
    }

    /// The ids of a validator's newest events in the latest ended epoch on disk where it has
    /// any, with that epoch: `is_own(epoch, seat, ids)` says whether a seat's newest events in
    /// an epoch are the validator's (seats move between epochs as the committee changes).
    pub fn newest_on_disk(
        &self,
        is_own: impl Fn(u64, u8, &[Hash32]) -> bool,
    ) -> Result<Option<(u64, Vec<Hash32>)>, ServiceError> {
        let mut found = None;
        let mut bad = false;
        self.kv.scan(Column::Dag, &[NEWEST], &[NEWEST], &mut |k, v| match (
            epoch_of_key(k),
            pc_codec::decode_canonical::<Vec<Vec<Hash32>>>(v, MAX_RECORD),
        ) {
            (Some(e), Ok(per_seat)) => {
                let own = per_seat.iter().enumerate().find(|(seat, ids)| {
                    !ids.is_empty() && u8::try_from(*seat).is_ok_and(|seat| is_own(e, seat, ids.as_slice()))
                });
                if let Some((_, ids)) = own {
                    found = Some((e, ids.clone()));
                }
                Scan::Continue
            }
            _ => {
                bad = true;
                Scan::Stop
            }
        })?;
        if bad {
            return Err(ServiceError::Consensus("a persisted epoch summary is malformed".into()));
        }
        Ok(found)
    }

    /// The first anchor of the oldest epoch with events on disk, if any.
    pub fn oldest_epoch(&self) -> Result<Option<u64>, ServiceError> {
        let mut oldest = None;
        self.kv.scan(Column::Dag, &[ORDER], &[ORDER], &mut |k, _| {
            oldest = epoch_of_key(k);
            Scan::Stop
        })?;
        Ok(oldest)
    }

    fn ids_under(&self, prefix: &[u8]) -> Result<Vec<Hash32>, ServiceError> {
        let mut ids = Vec::new();
        let mut bad = false;
        self.kv.scan(Column::Dag, prefix, prefix, &mut |_, v| match <[u8; 32]>::try_from(v) {
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
pub struct DagLog {
    store: DagStore,
    epoch: u64,
    next: u64,
}

impl DagLog {
    /// Opens the log and reads every record of the current epoch, in order, with that epoch.
    /// The recorded epoch stays current while the committed `head` is inside it; otherwise
    /// (a fresh chain, state imported from a snapshot, or a crash between an epoch's last
    /// commit and the switch) the current epoch is the grid epoch that holds anchor head + 1,
    /// and that is recorded. A restored node thereby joins the epoch the network is in. A
    /// single seat (`alone`) has nobody to replay an epoch's start from: with no record of
    /// the current epoch it starts a new one right after `head`, which ends on the grid.
    pub fn open(
        kv: Arc<dyn KvStore>,
        head: u64,
        grid: EpochGrid,
        alone: bool,
        store: DagStore,
    ) -> Result<(DagLog, Vec<DagRecord>, u64), ServiceError> {
        migrate_legacy(&kv)?;
        let recorded = kv
            .get(Column::Meta, FIRST_ANCHOR_KEY)?
            .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
            .map(u64::from_be_bytes);
        migrate_unversioned_order(&kv, recorded.unwrap_or(1))?;
        let mut epoch = match recorded {
            Some(e) if e <= head + 1 && head < grid.end_of(e) => Some(e),
            _ => None,
        };
        if alone && epoch.is_some_and(|e| e <= head && store.ids_of(e).is_ok_and(|ids| ids.is_empty())) {
            epoch = None;
        }
        let epoch = match epoch {
            Some(e) => e,
            None => {
                let e = if alone { head + 1 } else { grid.start_of(head + 1) };
                let mut batch = WriteBatch::new();
                batch.put(Column::Meta, FIRST_ANCHOR_KEY.to_vec(), e.to_be_bytes().to_vec());
                kv.write(batch, Durability::Sync)?;
                e
            }
        };
        let mut records = Vec::new();
        for id in store.ids_of(epoch)? {
            let missing = || ServiceError::Consensus(format!("persisted event {id} lacks its header or payload"));
            let event = store.header(&id)?.ok_or_else(missing)?;
            let payload = store.payload(&id)?.ok_or_else(missing)?;
            if event.event.id() != id {
                return Err(ServiceError::Consensus(format!("persisted event {id} holds another event's header")));
            }
            records.push(DagRecord { event: (*event).clone(), payload: (*payload).clone() });
        }
        let next = next_seq(&kv, epoch)?;
        Ok((DagLog { store, epoch, next }, records, epoch))
    }

    /// Reads by id.
    pub fn store(&self) -> &DagStore {
        &self.store
    }

    /// Makes `epoch` the current one, records `newest` (per seat, the ids of its newest
    /// events in the epoch that ended) and deletes every persisted epoch that started before
    /// `keep_from`, in one atomic write. The epochs in between stay on disk to serve peers
    /// that catch up; a crash before this write replays the old epoch, whose end is committed,
    /// and [`open`](Self::open) then moves on by itself.
    pub fn switch(&mut self, epoch: u64, keep_from: u64, newest: Vec<Vec<Hash32>>) -> Result<(), ServiceError> {
        let mut batch = WriteBatch::new();
        batch.put(Column::Dag, key(NEWEST, &self.epoch.to_be_bytes()), newest.encode());
        self.store.kv.scan(Column::Dag, &[NEWEST], &[NEWEST], &mut |k, _| {
            if epoch_of_key(k).is_some_and(|e| e < keep_from) {
                batch.delete(Column::Dag, k.to_vec());
            }
            Scan::Continue
        })?;
        let mut ids = Vec::new();
        self.store.kv.scan(Column::Dag, &[ORDER], &[ORDER], &mut |k, v| {
            if epoch_of_key(k).is_some_and(|e| e < keep_from) {
                batch.delete(Column::Dag, k.to_vec());
                ids.extend(<[u8; 32]>::try_from(v).ok());
            }
            Scan::Continue
        })?;
        for id in &ids {
            batch.delete(Column::Dag, key(HEADER, id));
            batch.delete(Column::Dag, key(PAYLOAD, id));
        }
        batch.put(Column::Meta, FIRST_ANCHOR_KEY.to_vec(), epoch.to_be_bytes().to_vec());
        batch.delete(Column::Meta, UNSIGNED_KEY.to_vec());
        self.store.kv.write(batch, Durability::Sync)?;
        self.epoch = epoch;
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
        put_record(&mut batch, self.epoch, self.next, &id, r);
        self.store.kv.write(batch, Durability::Sync)?;
        self.next += 1;
        self.store.headers.put(id, Arc::new(r.event.clone()));
        self.store.payloads.put(id, Arc::new(r.payload.clone()));
        Ok(())
    }
}

/// The seq after the highest order key of `epoch`. Counting records instead would let an
/// append overwrite an entry of a damaged log with gaps in its keys.
fn next_seq(kv: &Arc<dyn KvStore>, epoch: u64) -> Result<u64, ServiceError> {
    let prefix = [&[ORDER][..], &epoch.to_be_bytes()].concat();
    let mut next = 0u64;
    kv.scan(Column::Dag, &prefix, &prefix, &mut |k, _| {
        if let Some(seq) = k.get(9..17).and_then(|b| <[u8; 8]>::try_from(b).ok()).map(u64::from_be_bytes) {
            next = next.max(seq.saturating_add(1));
        }
        Scan::Continue
    })?;
    Ok(next)
}

fn put_record(batch: &mut WriteBatch, epoch: u64, seq: u64, id: &Hash32, r: &DagRecord) {
    batch.put(Column::Dag, order_key(epoch, seq), id.0.to_vec());
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
        put_record(&mut batch, r.event.event.epoch, seq, &r.event.event.id(), &r);
        batch.delete(Column::Dag, k.clone());
    }
    kv.write(batch, Durability::Sync)?;
    tracing::info!(target: "pc::node", records = legacy.len(), "persisted DAG rewritten to the id-keyed format");
    Ok(())
}

/// Rewrites order keys of the second format (`o` + seq, no epoch) as keys of `epoch`, the one
/// epoch such a log held, in one atomic write.
fn migrate_unversioned_order(kv: &Arc<dyn KvStore>, epoch: u64) -> Result<(), ServiceError> {
    let mut batch = WriteBatch::new();
    let mut n = 0usize;
    kv.scan(Column::Dag, &[ORDER], &[ORDER], &mut |k, v| {
        if let Some(seq) = k.get(1..).and_then(|b| <[u8; 8]>::try_from(b).ok()).map(u64::from_be_bytes) {
            batch.delete(Column::Dag, k.to_vec());
            batch.put(Column::Dag, order_key(epoch, seq), v.to_vec());
            n += 1;
        }
        Scan::Continue
    })?;
    if n > 0 {
        kv.write(batch, Durability::Sync)?;
        tracing::info!(target: "pc::node", records = n, epoch, "persisted DAG order keyed by epoch");
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use pc_consensus::Event;
    use pc_store::MemStore;

    fn record(epoch: u64, seq: u64) -> DagRecord {
        let event = Event {
            shard: 0,
            epoch,
            creator: 0,
            seq,
            parents: vec![],
            lamport: seq,
            frame: 1,
            payload_root: Hash32([0; 32]),
            payload_len: 1,
        };
        DagRecord { event: SignedEvent { event, sig: [7; 64] }, payload: vec![] }
    }

    fn open(kv: &Arc<dyn KvStore>, head: u64) -> (DagLog, Vec<DagRecord>, u64) {
        let store = DagStore::new(kv.clone(), CacheCaps::default(), Arc::new(Metrics::new()));
        DagLog::open(kv.clone(), head, EpochGrid { r: 10 }, false, store).unwrap()
    }

    #[test]
    fn a_header_stored_under_another_events_id_is_refused_at_start() {
        let kv: Arc<dyn KvStore> = Arc::new(MemStore::new());
        let (mut log, _, _) = open(&kv, 0);
        log.append(&record(1, 1)).unwrap();
        log.append(&record(1, 2)).unwrap();
        let (first, second) = (record(1, 1).event.event.id(), record(1, 2));
        let mut batch = WriteBatch::new();
        batch.put(Column::Dag, key(HEADER, &first.0), second.event.encode());
        kv.write(batch, Durability::Sync).unwrap();
        let store = DagStore::new(kv.clone(), CacheCaps::default(), Arc::new(Metrics::new()));
        let opened = DagLog::open(kv.clone(), 0, EpochGrid { r: 10 }, false, store);
        assert!(matches!(opened, Err(ServiceError::Consensus(why)) if why.contains("another event's header")));
    }

    #[test]
    fn an_append_after_a_gap_in_the_order_keys_overwrites_nothing() {
        let kv: Arc<dyn KvStore> = Arc::new(MemStore::new());
        let (mut log, _, _) = open(&kv, 0);
        for seq in 1..=3 {
            log.append(&record(1, seq)).unwrap();
        }
        // A damaged log: the middle order entry is gone.
        let mut batch = WriteBatch::new();
        batch.delete(Column::Dag, order_key(1, 1));
        kv.write(batch, Durability::Sync).unwrap();
        let (mut log, records, _) = open(&kv, 0);
        assert_eq!(records.len(), 2);
        log.append(&record(1, 4)).unwrap();
        let (_, records, _) = open(&kv, 0);
        let seqs: Vec<u64> = records.iter().map(|r| r.event.event.seq).collect();
        assert_eq!(seqs, vec![1, 3, 4], "the append took the third record's place");
    }

    #[test]
    fn the_grid_ends_epochs_on_multiples_of_r() {
        let g = EpochGrid { r: 10 };
        assert_eq!((g.start_of(1), g.end_of(1)), (1, 10));
        assert_eq!((g.start_of(10), g.start_of(11), g.end_of(11)), (1, 11, 20));
        // An epoch that starts off the grid ends on it.
        assert_eq!(g.end_of(14), 20);
        assert_eq!(EpochGrid { r: 1 }.end_of(5), 5);
    }

    #[test]
    fn a_restart_replays_only_the_current_epoch_and_a_switch_prunes_by_retention() {
        let kv: Arc<dyn KvStore> = Arc::new(MemStore::new());
        let (mut log, records, epoch) = open(&kv, 0);
        assert_eq!((records.len(), epoch), (0, 1));
        log.append(&record(1, 1)).unwrap();
        log.append(&record(1, 2)).unwrap();
        log.switch(11, 1, vec![vec![record(1, 2).event.event.id()]]).unwrap();
        log.append(&record(11, 1)).unwrap();
        let (_, records, epoch) = open(&kv, 10);
        assert_eq!(epoch, 11);
        assert_eq!(records, vec![record(11, 1)], "only the current epoch is replayed");
        // The old epoch stays on disk to serve peers, until the retention drops it.
        let store = DagStore::new(kv.clone(), CacheCaps { headers: 0, payloads: 0 }, Arc::new(Metrics::new()));
        assert_eq!(store.ids_of(1).unwrap().len(), 2);
        let (mut log, _, _) = open(&kv, 10);
        assert_eq!(store.newest_on_disk(|_, s, _| s == 0).unwrap(), Some((1, vec![record(1, 2).event.event.id()])));
        assert_eq!(store.newest_on_disk(|_, s, _| s == 1).unwrap(), None);
        log.switch(21, 11, vec![vec![]]).unwrap();
        assert!(store.ids_of(1).unwrap().is_empty());
        assert_eq!(store.newest_on_disk(|_, s, _| s == 0).unwrap(), None, "the summary goes with its epoch");
        assert!(store.header(&record(1, 1).event.event.id()).unwrap().is_none());
        assert_eq!(store.ids_of(11).unwrap().len(), 1);
    }

    #[test]
    fn a_node_whose_state_passed_the_epoch_end_opens_the_grid_epoch_after_it() {
        let kv: Arc<dyn KvStore> = Arc::new(MemStore::new());
        let (mut log, _, _) = open(&kv, 0);
        log.append(&record(1, 1)).unwrap();
        // Crash after committing anchor 10 (the epoch's last) but before the switch.
        let (_, records, epoch) = open(&kv, 10);
        assert_eq!((epoch, records.len()), (11, 0));
        // State restored from a snapshot at anchor 37: the epoch the network is in, or for a
        // single seat, which has no network to replay it from, a new epoch after it.
        let kv: Arc<dyn KvStore> = Arc::new(MemStore::new());
        assert_eq!(open(&kv, 37).2, 31);
        let kv: Arc<dyn KvStore> = Arc::new(MemStore::new());
        let store = DagStore::new(kv.clone(), CacheCaps::default(), Arc::new(Metrics::new()));
        assert_eq!(DagLog::open(kv.clone(), 37, EpochGrid { r: 10 }, true, store).unwrap().2, 38);
    }

    #[test]
    fn an_order_log_without_epochs_is_rewritten_into_its_epoch() {
        let kv: Arc<dyn KvStore> = Arc::new(MemStore::new());
        let r = record(1, 1);
        let id = r.event.event.id();
        let mut batch = WriteBatch::new();
        batch.put(Column::Dag, key(ORDER, &0u64.to_be_bytes()), id.0.to_vec());
        batch.put(Column::Dag, key(HEADER, &id.0), r.event.encode());
        batch.put(Column::Dag, key(PAYLOAD, &id.0), r.payload.encode());
        kv.write(batch, Durability::Sync).unwrap();
        let (_, records, epoch) = open(&kv, 0);
        assert_eq!((epoch, records), (1, vec![r]));
    }
}
