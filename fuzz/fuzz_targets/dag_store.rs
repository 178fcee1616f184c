//! The persisted DAG as read back at start: any contents of the DAG column and the DAG's meta
//! keys (a corrupt disk, a bug of an older version) make `DagLog::open` and the readers
//! answer or refuse, never panic; what `open` returns is exactly the current epoch's records,
//! in order, each the one encoding of its value.
//!
//! Input: SCALE `(head: u32, r: u8, alone: bool, entries: Vec<(column, key, value)>)`, column
//! 0 = Dag, anything else = Meta.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pc_codec::Identified as _;
use pc_service::dag::{CacheCaps, DagLog, DagStore, EpochGrid};
use pc_store::{Column, Durability, KvStore, MemStore, WriteBatch};
use std::sync::Arc;

type Input = (u32, u8, bool, Vec<(u8, Vec<u8>, Vec<u8>)>);

fuzz_target!(|data: &[u8]| {
    let Ok((head, r, alone, entries)) = pc_codec::decode_canonical::<Input>(data, 1 << 20) else { return };
    let kv: Arc<dyn KvStore> = Arc::new(MemStore::new());
    let mut batch = WriteBatch::new();
    for (col, k, v) in entries {
        batch.put(if col == 0 { Column::Dag } else { Column::Meta }, k, v);
    }
    kv.write(batch, Durability::Sync).expect("memory store");
    let metrics = Arc::new(pc_metrics::Metrics::new());
    let caps = CacheCaps { headers: 64, payloads: 64 };
    let reader = DagStore::new(kv.clone(), caps, metrics.clone());
    let _ = reader.ids();
    let _ = reader.oldest_epoch();
    for seat in 0..4 {
        let _ = reader.newest_on_disk(|_, s, _| s == seat);
    }
    let head = u64::from(head);
    let grid = EpochGrid { r: u64::from(r) };
    let store = DagStore::new(kv.clone(), caps, metrics);
    if let Ok((log, records, epoch)) = DagLog::open(kv, head, grid, alone, store) {
        assert!(epoch <= head + 1, "the current epoch starts after the next anchor");
        let ids = log.store().ids_of(epoch).expect("read after open");
        assert_eq!(ids.len(), records.len());
        for (id, rec) in ids.iter().zip(&records) {
            assert_eq!(rec.event.event.id(), *id, "a record under another event's id");
        }
        let _ = log.unsigned();
    }
});
