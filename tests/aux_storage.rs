//! Auxiliary module storage: committed with the anchor and rolled back with a failed call, but
//! outside the state root.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use pc_codec::Encode;
use pc_integration_tests::{anchor_ctx, genesis_only_spec};
use pc_runtime::{AnchorInput, Runtime};
use pc_runtime_api::{
    AnchorCtx, Call, EventSink, Module, ModuleDescriptor, ModuleError, ModuleInit, ModuleState, StorageMap,
    register_module,
};
use pc_state::StateDb;
use std::sync::Arc;

const INDEX: StorageMap<u32, u32> = StorageMap::aux("index");
const PLAIN: StorageMap<u32, u32> = StorageMap::new("plain");

/// Call: (key, value, fail, plain). Writes `value` under `key` in the aux map (and in the plain
/// map if `plain`), then fails if asked.
#[derive(Debug)]
struct AuxProbe;

impl Module for AuxProbe {
    fn apply(
        &self,
        _ctx: &AnchorCtx,
        call: &[u8],
        state: &mut ModuleState<'_>,
        _e: &mut EventSink<'_>,
    ) -> Result<(), ModuleError> {
        let (k, v, fail, plain): (u32, u32, bool, bool) = pc_codec::decode_canonical(call, 64)?;
        INDEX.insert(state, &k, &v);
        if plain {
            PLAIN.insert(state, &k, &v);
        }
        if fail { Err(ModuleError::invalid("aux-probe.fail", "asked to fail")) } else { Ok(()) }
    }
}

register_module!(ModuleDescriptor {
    name: "aux-probe",
    feature: "test-only",
    order: 100,
    depends_on: &[],
    build: |_i: &ModuleInit<'_>| Ok(Box::new(AuxProbe)),
});

fn call(k: u32, v: u32, fail: bool, plain: bool) -> Call {
    Call { module: "aux-probe".into(), data: (k, v, fail, plain).encode() }
}

#[test]
fn aux_items_commit_with_the_anchor_but_stay_out_of_the_root() {
    assert_eq!(pc_runtime_api::AUX_KEY_PREFIX, pc_state::AUX_KEY_PREFIX, "host and modules agree on aux keys");
    let mut spec = genesis_only_spec();
    spec.modules.insert("aux-probe".into(), serde_json::json!({}));
    let rt = Runtime::new(spec).unwrap();
    let db = StateDb::new(Arc::new(pc_store::MemStore::new()));
    let root0 = rt.init_genesis(&db).unwrap().state_root;
    let apply = |i: u64, calls| rt.apply_anchor(&db, &AnchorInput { ctx: anchor_ctx(i), calls }).unwrap();
    let out = apply(1, vec![call(1, 10, false, false), call(2, 20, true, false)]);
    assert_eq!(out.record.dropped, 1);
    assert_eq!(out.record.state_root, root0, "aux writes do not move the root");
    let read = |k| rt.with_view(&db, "aux-probe", |v| INDEX.get(v, &k).unwrap()).unwrap();
    assert_eq!((read(1), read(2)), (Some(10), None), "committed, and rolled back with the failed call");
    let listed = rt.with_view(&db, "aux-probe", |v| INDEX.iter(v, None, 10).unwrap()).unwrap();
    assert_eq!(listed, vec![(1, 10)]);
    let out = apply(2, vec![call(3, 30, false, true)]);
    assert_ne!(out.record.state_root, root0, "plain writes do");
    // A snapshot carries aux entries and restores them outside the commitment.
    let mut snap = Vec::new();
    pc_state::snapshot::export(&db, &mut snap).unwrap();
    let other = StateDb::new(Arc::new(pc_store::MemStore::new()));
    let header = pc_state::snapshot::restore(&other, rt.genesis_hash(), &snap[..]).unwrap();
    assert_eq!(header.head.state_root, out.record.state_root);
    let again = rt.with_view(&other, "aux-probe", |v| INDEX.iter(v, None, 10).unwrap()).unwrap();
    assert_eq!(again, vec![(1, 10), (3, 30)]);
}
