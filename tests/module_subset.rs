//! A tester builds a host with just the modules a test needs, chosen by the chainspec.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use pc_codec::decode_canonical;
use pc_integration_tests::{churn_spec, genesis_only_spec, synthetic_anchor};
use pc_runtime::{CallDropped, Runtime, SYSTEM_EVENTS, catalogue};
use pc_state::StateDb;
use std::sync::Arc;

fn mem() -> StateDb {
    StateDb::new(Arc::new(pc_store::MemStore::new()))
}

#[test]
fn catalogue_lists_linked_modules_in_order() {
    let names: Vec<_> = catalogue().unwrap().iter().map(|d| d.name).collect();
    assert_eq!(names, ["genesis", "churn"]);
}

#[test]
fn genesis_only_host_drops_calls_to_modules_it_lacks() {
    let rt = Runtime::new(genesis_only_spec()).unwrap();
    assert_eq!(rt.module_names(), ["genesis"]);
    let db = mem();
    rt.init_genesis(&db).unwrap();
    let out = rt.apply_anchor(&db, &synthetic_anchor(1)).unwrap();
    assert_eq!(out.record.dropped, out.record.calls);
    assert!(out.events.iter().all(|e| e.module == SYSTEM_EVENTS && e.name == "CallDropped"));
    let d: CallDropped = decode_canonical(&out.events[0].data, 4096).unwrap();
    assert_eq!(d.code, "system.unknown-module");
}

#[test]
fn subset_with_churn_applies_and_drops_only_refused_calls() {
    let rt = Runtime::new(churn_spec()).unwrap();
    assert_eq!(rt.module_names(), ["genesis", "churn"]);
    let db = mem();
    rt.init_genesis(&db).unwrap();
    for i in 1..35 {
        rt.apply_anchor(&db, &synthetic_anchor(i)).unwrap();
    }
    let out = rt.apply_anchor(&db, &synthetic_anchor(35)).unwrap(); // 35: refused call and absent module
    assert_eq!(out.record.dropped, 2);
    let codes: Vec<String> = out
        .events
        .iter()
        .filter(|e| e.name == "CallDropped")
        .map(|e| decode_canonical::<CallDropped>(&e.data, 4096).unwrap().code)
        .collect();
    assert_eq!(codes, ["churn.refused", "system.unknown-module"]);
}

#[test]
fn a_database_of_another_chain_is_refused() {
    let db = mem();
    Runtime::new(churn_spec()).unwrap().init_genesis(&db).unwrap();
    let other = Runtime::new(genesis_only_spec()).unwrap();
    assert!(matches!(other.init_genesis(&db), Err(pc_runtime::RuntimeError::GenesisMismatch { .. })));
}

#[test]
fn same_anchors_give_the_same_root_on_every_run() {
    let a = pc_integration_tests::reference_roots(20);
    let b = pc_integration_tests::reference_roots(20);
    assert_eq!(a, b);
    assert_eq!(a.len(), 21);
}
