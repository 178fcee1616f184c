//! Untrusted chainspec text: refused with an error, or a spec that validates, freezes to a raw
//! form that reads back as the same spec with the same genesis hash, and whose modules (each
//! reading its own section) build and run genesis without a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::Arc;

use pc_module_genesis as _;
use pc_module_mint_pow as _;
use pc_module_utxo as _;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(spec) = pc_chainspec::ChainSpec::from_json(text) else { return };
    assert!(spec.validate().is_ok());
    let raw = spec.to_raw_json().expect("a valid spec freezes");
    let again = pc_chainspec::ChainSpec::from_json(&raw).expect("its raw form reads back");
    assert_eq!(again, spec);
    assert_eq!(again.genesis_hash().ok(), spec.genesis_hash().ok());
    if let Ok(rt) = pc_runtime::Runtime::new(spec) {
        let db = pc_state::StateDb::new(Arc::new(pc_store::MemStore::new()));
        let _ = rt.init_genesis(&db);
    }
});
