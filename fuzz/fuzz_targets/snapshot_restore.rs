//! Untrusted snapshot files: refused with nothing written, or restored to a root that matches.
//! Restored as the dev chain, whose genesis snapshot is the seed, so inputs get past the chain
//! check to the entries, the checksum and the root.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pc_codec::Hash32;
use pc_state::{StateDb, snapshot};
use std::sync::{Arc, OnceLock};

fn dev_genesis() -> Hash32 {
    static HASH: OnceLock<Hash32> = OnceLock::new();
    *HASH.get_or_init(|| pc_chainspec::ChainSpec::load("dev").and_then(|s| s.genesis_hash()).expect("dev chainspec"))
}

fuzz_target!(|data: &[u8]| {
    let db = StateDb::new(Arc::new(pc_store::MemStore::new()));
    match snapshot::restore(&db, dev_genesis(), data) {
        Ok(header) => assert_eq!(db.state_root().ok(), Some(header.head.state_root)),
        Err(_) => assert!(matches!(db.head(), Ok(None))),
    }
});
