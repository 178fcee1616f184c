//! A module author's view: two modules defined right here, outside host/, register through
//! `inventory`, are enabled by a chainspec, get their config, and have their hooks called in the
//! declared order — without a line of host code knowing them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use pc_chainspec::{ChainSpec, DEV_JSON};
use pc_codec::{ConsensusTime, Decode, Encode, Hash32};
use pc_runtime::{AnchorInput, Runtime, RuntimeError};
use pc_runtime_api::{
    AnchorCtx, Call, EventSink, GenesisCtx, Module, ModuleDescriptor, ModuleError, ModuleEvent, ModuleInit,
    ModuleState, StorageValue, register_module,
};
use pc_state::StateDb;
use std::sync::{Arc, Mutex};

use pc_module_genesis as _;

static LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn log(s: String) {
    LOG.lock().unwrap().push(s);
}

const GREETING: StorageValue<String> = StorageValue::new("greeting");

#[derive(Debug, Encode, Decode, PartialEq)]
struct Noted(String);
impl ModuleEvent for Noted {
    const NAME: &'static str = "Noted";
}

struct Probe {
    name: &'static str,
    greeting: String,
}

impl Module for Probe {
    fn genesis(
        &self,
        _g: &GenesisCtx<'_>,
        state: &mut ModuleState<'_>,
        _e: &mut EventSink<'_>,
    ) -> Result<(), ModuleError> {
        log(format!("{}:genesis", self.name));
        GREETING.put(state, &self.greeting);
        Ok(())
    }
    fn on_anchor_begin(
        &self,
        ctx: &AnchorCtx,
        _s: &mut ModuleState<'_>,
        _e: &mut EventSink<'_>,
    ) -> Result<(), ModuleError> {
        log(format!("{}:begin:{}", self.name, ctx.index));
        Ok(())
    }
    fn apply(
        &self,
        ctx: &AnchorCtx,
        call: &[u8],
        state: &mut ModuleState<'_>,
        events: &mut EventSink<'_>,
    ) -> Result<(), ModuleError> {
        log(format!("{}:apply:{}:{}", self.name, ctx.index, call.len()));
        if self.name == "probe-b" {
            // probe-b declared probe-a as a dependency, so it may read probe-a's state ...
            let a = state.view().dependency("probe-a")?;
            let greeting = GREETING.get(&a)?.unwrap_or_default();
            events.emit(&Noted(greeting));
            // ... but not a module it did not declare.
            assert!(matches!(state.view().dependency("genesis"), Err(ModuleError::UndeclaredDependency { .. })));
        }
        Ok(())
    }
    fn on_anchor_end(
        &self,
        ctx: &AnchorCtx,
        _s: &mut ModuleState<'_>,
        _e: &mut EventSink<'_>,
    ) -> Result<(), ModuleError> {
        log(format!("{}:end:{}", self.name, ctx.index));
        Ok(())
    }
}

fn build_a(init: &ModuleInit<'_>) -> Result<Box<dyn Module>, ModuleError> {
    let greeting = init
        .config
        .get("greeting")
        .and_then(|g| g.as_str())
        .ok_or_else(|| ModuleError::Config { field: "greeting".into(), reason: "missing string field".into() })?;
    Ok(Box::new(Probe { name: "probe-a", greeting: greeting.into() }))
}

// Same order: the name breaks the tie, so probe-a runs before probe-b whatever the link order.
register_module!(ModuleDescriptor {
    name: "probe-b",
    feature: "test",
    order: 50,
    depends_on: &["probe-a"],
    build: |_| Ok(Box::new(Probe { name: "probe-b", greeting: "b".into() }))
});
register_module!(ModuleDescriptor { name: "probe-a", feature: "test", order: 50, depends_on: &[], build: build_a });
// Registered but never enabled: it must never be built.
register_module!(ModuleDescriptor {
    name: "probe-unused",
    feature: "test",
    order: 1,
    depends_on: &[],
    build: |_| Err(ModuleError::Fatal("must not be built".into()))
});

fn spec(modules: serde_json::Value) -> ChainSpec {
    let mut v: serde_json::Value = serde_json::from_str(DEV_JSON).unwrap();
    // This binary links only `genesis` and its own probes.
    v["modules"] = serde_json::json!({ "genesis": v["modules"]["genesis"] });
    for (k, m) in modules.as_object().unwrap() {
        v["modules"][k] = m.clone();
    }
    ChainSpec::from_json(&v.to_string()).unwrap()
}

fn anchor(i: u64, calls: Vec<Call>) -> AnchorInput {
    AnchorInput { ctx: AnchorCtx::bare(0, i, Hash32([i as u8; 32]), ConsensusTime { anchor: i, lamport: i }), calls }
}

#[test]
fn test_module_plugs_in_and_hooks_run_in_declared_order() {
    let rt = Runtime::new(spec(serde_json::json!({"probe-a": {"greeting": "hello"}, "probe-b": {}}))).unwrap();
    assert_eq!(rt.module_names(), ["genesis", "probe-a", "probe-b"]);
    let db = StateDb::new(Arc::new(pc_store::MemStore::new()));
    rt.init_genesis(&db).unwrap();
    let calls =
        vec![Call { module: "probe-b".into(), data: vec![1, 2] }, Call { module: "probe-a".into(), data: vec![7] }];
    let out = rt.apply_anchor(&db, &anchor(1, calls)).unwrap();
    rt.apply_anchor(&db, &anchor(2, vec![])).unwrap();
    let log = LOG.lock().unwrap().clone();
    assert_eq!(
        log,
        [
            "probe-a:genesis",
            "probe-b:genesis",
            "probe-a:begin:1",
            "probe-b:begin:1",
            "probe-b:apply:1:2",
            "probe-a:apply:1:1",
            "probe-a:end:1",
            "probe-b:end:1",
            "probe-a:begin:2",
            "probe-b:begin:2",
            "probe-a:end:2",
            "probe-b:end:2",
        ]
    );
    // probe-b read probe-a's genesis state and emitted a typed event, indexed by (anchor, index).
    let ev = &out.events[0];
    assert_eq!((ev.anchor, ev.index, ev.module.as_str(), ev.name.as_str()), (1, 0, "probe-b", "Noted"));
    assert_eq!(Noted::decode(&mut &ev.data[..]).unwrap(), Noted("hello".into()));
    assert_eq!(Runtime::anchor_events(&db, 1).unwrap(), out.events);
    assert_eq!(Runtime::anchor_record(&db, 1).unwrap(), Some(out.record));
}

#[test]
fn chainspec_errors_name_the_module_or_field() {
    let e = Runtime::new(spec(serde_json::json!({"utxo": {}}))).unwrap_err();
    assert!(matches!(&e, RuntimeError::ModuleNotCompiledIn { name, .. } if name == "utxo"));
    let msg = e.to_string();
    assert!(msg.contains("`utxo`") && msg.contains("module-utxo"), "{msg}");

    let e = Runtime::new(spec(serde_json::json!({"probe-b": {}}))).unwrap_err();
    assert!(e.to_string().contains("probe-b") && e.to_string().contains("probe-a"), "{e}");

    let e = Runtime::new(spec(serde_json::json!({"probe-a": {}}))).unwrap_err();
    assert!(e.to_string().contains("modules.probe-a.greeting"), "{e}");

    let mut bad_genesis: serde_json::Value = serde_json::to_value(spec(serde_json::json!({}))).unwrap();
    bad_genesis["modules"]["genesis"].as_object_mut().unwrap().remove("seed");
    let e = Runtime::new(ChainSpec::from_json(&bad_genesis.to_string()).unwrap()).unwrap_err();
    assert!(e.to_string().contains("modules.genesis") && e.to_string().contains("seed"), "{e}");
}
