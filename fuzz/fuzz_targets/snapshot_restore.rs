//! Untrusted snapshot files: refused with nothing written, or restored to a root that matches.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pc_codec::Hash32;
use pc_state::{StateDb, snapshot};
use std::sync::Arc;

fuzz_target!(|data: &[u8]| {
    let db = StateDb::new(Arc::new(pc_store::MemStore::new()));
    match snapshot::restore(&db, Hash32::ZERO, data) {
        Ok(header) => assert_eq!(db.state_root().ok(), Some(header.head.state_root)),
        Err(_) => assert!(matches!(db.head(), Ok(None))),
    }
});
