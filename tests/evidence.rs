//! Evidence as host-owned calls (docs/runtime-api.md §12): checked alike at admission and at
//! apply, free, recorded once per fault, handed to the one module that declares itself the
//! receiver (a toy one here, outside host/), and kept and served when none is enabled.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pc_chainspec::{ChainSpec, DEV_JSON};
use pc_codec::{ConsensusTime, Decode, Encode, Hash32, Identified};
use pc_consensus::{Event, SignedEvent};
use pc_runtime::{AnchorInput, CallOutcome, Runtime, RuntimeError};
use pc_runtime_api::{
    AnchorCtx, Call, EVIDENCE_TARGET, EventSink, Evidence, Fault, Module, ModuleDescriptor, ModuleError, ModuleEvent,
    ModuleState, StorageMap, register_module,
};
use pc_state::StateDb;
use std::sync::Arc;

use pc_module_genesis as _;

/// What the toy receiver keeps: the anchor each seat was reported at.
const REPORTED: StorageMap<u8, u64> = StorageMap::new("reported");

#[derive(Debug, Encode, Decode, PartialEq)]
struct Punished {
    seat: u8,
    seq: u64,
}
impl ModuleEvent for Punished {
    const NAME: &'static str = "Punished";
}

struct ToyReceiver;

impl Module for ToyReceiver {
    fn receives_evidence(&self) -> bool {
        true
    }
    fn on_evidence(
        &self,
        ctx: &AnchorCtx,
        _evidence: &Evidence,
        fault: &Fault,
        state: &mut ModuleState<'_>,
        events: &mut EventSink<'_>,
    ) -> Result<(), ModuleError> {
        REPORTED.insert(state, &fault.seat, &ctx.index);
        events.emit(&Punished { seat: fault.seat, seq: fault.seq });
        // Seat 1 is the one this toy refuses, after writing: its writes must roll back.
        if fault.seat == 1 {
            return Err(ModuleError::invalid("toy.refused", "not punishing seat 1"));
        }
        Ok(())
    }
}

register_module!(ModuleDescriptor {
    name: "toy-receiver",
    feature: "test",
    order: 90,
    depends_on: &[],
    build: |_| Ok(Box::new(ToyReceiver))
});
register_module!(ModuleDescriptor {
    name: "toy-receiver-b",
    feature: "test",
    order: 91,
    depends_on: &[],
    build: |_| Ok(Box::new(ToyReceiver))
});

/// The dev chain with four seats (well-known keys) and the given extra modules.
fn spec(extra: &[&str]) -> ChainSpec {
    let mut v: serde_json::Value = serde_json::from_str(DEV_JSON).unwrap();
    v["modules"] = serde_json::json!({ "genesis": v["modules"]["genesis"] });
    v["constants"]["committee_size"] = serde_json::json!(4);
    // Epochs of four anchors: epoch 1 ends at anchor 4, and its evidence is taken until 14.
    v["constants"]["windows"]["epoch_anchors"] = serde_json::json!(4);
    for m in extra {
        v["modules"][*m] = serde_json::json!({});
    }
    ChainSpec::from_json(&v.to_string()).unwrap()
}

/// A runtime for `spec` on a fresh in-memory state at genesis.
fn started(spec: &ChainSpec) -> (Runtime, StateDb) {
    let rt = Runtime::new(spec.clone()).unwrap();
    let db = StateDb::new(Arc::new(pc_store::MemStore::new()));
    rt.init_genesis(&db).unwrap();
    (rt, db)
}

fn seat_key(spec: &ChainSpec, seat: u8) -> pc_crypto::Keypair {
    pc_crypto::keypair_from_seed(spec.dev_seat_secret(seat).unwrap()).unwrap()
}

fn event(seat: u8, seq: u64, tag: u8) -> Event {
    Event {
        shard: 0,
        epoch: 1,
        creator: seat,
        seq,
        parents: vec![],
        lamport: seq,
        frame: 1,
        payload_root: Hash32([tag; 32]),
        payload_len: 0,
    }
}

fn signed(kp: &pc_crypto::Keypair, e: Event) -> SignedEvent {
    SignedEvent { sig: pc_crypto::sign_prehashed(kp, &e.id().0), event: e }
}

fn call(first: SignedEvent, second: SignedEvent) -> Call {
    Call { module: EVIDENCE_TARGET.into(), data: Evidence::Equivocation { first, second }.encode() }
}

fn anchor(i: u64, calls: Vec<Call>) -> AnchorInput {
    AnchorInput { ctx: AnchorCtx::bare(0, i, Hash32([i as u8; 32]), ConsensusTime { anchor: i, lamport: i }), calls }
}

fn refusal(rt: &Runtime, db: &StateDb, c: &Call) -> &'static str {
    match rt.validate_call(db, c) {
        Err(RuntimeError::InvalidCall(ModuleError::Invalid { code, .. })) => code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn an_equivocation_is_admitted_free_recorded_once_and_handed_to_the_receiver() {
    let spec = spec(&["toy-receiver"]);
    let (rt, db) = started(&spec);
    assert_eq!(rt.evidence_receiver(), Some("toy-receiver"));
    let kp = seat_key(&spec, 2);
    let (a, b, c) = (signed(&kp, event(2, 7, 1)), signed(&kp, event(2, 7, 2)), signed(&kp, event(2, 7, 3)));
    let fault = Fault { kind: Fault::EQUIVOCATION, shard: 0, epoch: 1, seat: 2, seq: 7 };

    let ev = call(a.clone(), b.clone());
    let v = rt.validate_call(&db, &ev).unwrap();
    assert_eq!((v.priority, v.key, v.requires.len()), (u64::MAX, Some(fault.key()), 0), "free and first");
    // Another pair proves the same fault, and so does a fork of another slot in the same epoch:
    // one call for the pool and the index, so a forking seat yields one free call per epoch.
    let other = call(b.clone(), c.clone());
    assert_eq!(rt.call_key(&ev), rt.call_key(&other));
    let later_slot = call(signed(&kp, event(2, 9, 1)), signed(&kp, event(2, 9, 2)));
    assert_eq!(rt.call_key(&ev), rt.call_key(&later_slot));
    // Nor do other epoch numbers inside the same grid epoch (1..=4 here): the events name their
    // epoch themselves, and throw-away pairs must not buy a record per number.
    let other_epoch =
        call(signed(&kp, Event { epoch: 3, ..event(2, 1, 1) }), signed(&kp, Event { epoch: 3, ..event(2, 1, 2) }));
    assert_eq!(rt.call_key(&ev), rt.call_key(&other_epoch));
    // A forged copy does not stand for the fault.
    let forged = call(a.clone(), SignedEvent { sig: [7; 64], ..b.clone() });
    assert_ne!(rt.call_key(&forged), fault.key());

    let out = rt.apply_anchor(&db, &anchor(1, vec![ev.clone(), other.clone()])).unwrap();
    assert_eq!(out.record.dropped, 1, "the second proof of one fault is dropped");
    let names: Vec<(&str, &str)> = out.events.iter().map(|e| (e.module.as_str(), e.name.as_str())).collect();
    assert!(names.contains(&("host.evidence", "FaultRecorded")));
    assert!(names.contains(&("toy-receiver", "Punished")));
    let rec = Runtime::call_record(&db, &fault.key()).unwrap().unwrap();
    assert_eq!(rec.outcome, CallOutcome::Applied, "the first proof keeps the fault's record");
    let known = Runtime::known_faults(&db, None, 10).unwrap();
    assert_eq!(known.len(), 1);
    assert_eq!((known[0].fault, known[0].anchor), (fault, 1));
    let reported = rt.with_view(&db, "toy-receiver", |v| REPORTED.get(v, &2)).unwrap().unwrap();
    assert_eq!(reported, Some(1));
    // Known now: refused at admission, and dropped if a Byzantine seat still carries it.
    assert_eq!(refusal(&rt, &db, &other), "evidence.known");
    let out = rt.apply_anchor(&db, &anchor(2, vec![other])).unwrap();
    assert_eq!(out.record.dropped, 1);
    assert_eq!(Runtime::known_faults(&db, None, 10).unwrap().len(), 1);
}

#[test]
fn bad_evidence_is_refused_at_admission_and_dropped_at_apply_leaving_the_state_alone() {
    let spec = spec(&["toy-receiver"]);
    let (rt, db) = started(&spec);
    let kp = seat_key(&spec, 1);
    let a = signed(&kp, event(1, 3, 1));
    let wrong_key = seat_key(&spec, 0);
    let cases = [
        (call(a.clone(), a.clone()), "evidence.no-conflict"),
        (call(a.clone(), signed(&kp, event(1, 4, 2))), "evidence.no-conflict"),
        (call(a.clone(), signed(&wrong_key, event(1, 3, 2))), "evidence.bad-signature"),
        (call(signed(&kp, event(9, 3, 1)), signed(&kp, event(9, 3, 2))), "evidence.unknown-seat"),
        (Call { module: EVIDENCE_TARGET.into(), data: vec![0, 1, 2] }, "evidence.malformed"),
        (
            call(signed(&kp, Event { shard: 1, ..event(1, 3, 1) }), signed(&kp, Event { shard: 1, ..event(1, 3, 2) })),
            "evidence.out-of-window",
        ),
        (
            call(signed(&kp, Event { epoch: 0, ..event(1, 3, 1) }), signed(&kp, Event { epoch: 0, ..event(1, 3, 2) })),
            "evidence.out-of-window",
        ),
        (
            call(signed(&kp, Event { epoch: 5, ..event(1, 3, 1) }), signed(&kp, Event { epoch: 5, ..event(1, 3, 2) })),
            "evidence.out-of-window",
        ),
    ];
    let root = db.state_root().unwrap();
    for (c, code) in &cases {
        assert_eq!(refusal(&rt, &db, c), *code);
    }
    let out = rt.apply_anchor(&db, &anchor(1, cases.iter().map(|(c, _)| c.clone()).collect())).unwrap();
    assert_eq!(out.record.dropped, cases.len() as u32);
    assert!(Runtime::known_faults(&db, None, 10).unwrap().is_empty());
    let reported = rt.with_view(&db, "toy-receiver", |v| REPORTED.get(v, &1)).unwrap().unwrap();
    assert_eq!(reported, None);
    assert!(out.events.iter().all(|e| e.module == "system"), "only drop notices");
    assert_eq!(db.state_root().unwrap(), root, "no state written");
}

#[test]
fn without_a_receiver_evidence_is_kept_and_served() {
    let spec = spec(&[]);
    let (rt, db) = started(&spec);
    assert_eq!(rt.evidence_receiver(), None);
    let kp = seat_key(&spec, 3);
    let ev = call(signed(&kp, event(3, 1, 1)), signed(&kp, event(3, 1, 2)));
    rt.validate_call(&db, &ev).unwrap();
    let out = rt.apply_anchor(&db, &anchor(1, vec![ev])).unwrap();
    assert_eq!(out.record.dropped, 0);
    let recorded = out.events.iter().find(|e| e.name == "FaultRecorded").unwrap();
    let body = pc_runtime::FaultRecorded::decode(&mut &recorded.data[..]).unwrap();
    assert!(!body.received, "nobody took it");
    assert_eq!(Runtime::known_faults(&db, None, 10).unwrap()[0].fault.seat, 3);
}

#[test]
fn evidence_is_taken_until_the_slash_window_after_its_epoch_has_passed() {
    let spec = spec(&[]);
    let (rt, db) = started(&spec);
    let kp = seat_key(&spec, 0);
    let ev = call(signed(&kp, event(0, 1, 1)), signed(&kp, event(0, 1, 2)));
    // Epoch 1 ends at anchor 4; the dev chain's slash window is 10 anchors.
    for i in 1..=13 {
        rt.apply_anchor(&db, &anchor(i, vec![])).unwrap();
    }
    rt.validate_call(&db, &ev).unwrap();
    rt.apply_anchor(&db, &anchor(14, vec![])).unwrap();
    assert_eq!(refusal(&rt, &db, &ev), "evidence.out-of-window");
    let out = rt.apply_anchor(&db, &anchor(15, vec![ev])).unwrap();
    assert_eq!(out.record.dropped, 1);
}

#[test]
fn a_receiver_that_refuses_a_fault_does_not_make_the_chain_forget_it() {
    let spec = spec(&["toy-receiver"]);
    let (rt, db) = started(&spec);
    let kp = seat_key(&spec, 1);
    let ev = call(signed(&kp, event(1, 2, 1)), signed(&kp, event(1, 2, 2)));
    let out = rt.apply_anchor(&db, &anchor(1, vec![ev])).unwrap();
    assert_eq!(out.record.dropped, 0);
    let recorded = out.events.iter().find(|e| e.name == "FaultRecorded").unwrap();
    assert!(!pc_runtime::FaultRecorded::decode(&mut &recorded.data[..]).unwrap().received);
    assert!(out.events.iter().all(|e| e.name != "Punished"), "the refusing receiver's events rolled back");
    let reported = rt.with_view(&db, "toy-receiver", |v| REPORTED.get(v, &1)).unwrap().unwrap();
    assert_eq!(reported, None, "and its writes");
    assert_eq!(Runtime::known_faults(&db, None, 10).unwrap().len(), 1);
}

#[test]
fn known_faults_page_on_after_the_last_key() {
    let spec = spec(&[]);
    let (rt, db) = started(&spec);
    let calls = (0..4u8)
        .map(|s| {
            let kp = seat_key(&spec, s);
            call(signed(&kp, event(s, 1, 1)), signed(&kp, event(s, 1, 2)))
        })
        .collect();
    rt.apply_anchor(&db, &anchor(1, calls)).unwrap();
    let first = Runtime::known_faults(&db, None, 3).unwrap();
    let rest = Runtime::known_faults(&db, Some(&first[2].fault.key()), 3).unwrap();
    assert_eq!((first.len(), rest.len()), (3, 1));
    assert!(!first.iter().any(|f| f.fault == rest[0].fault));
    assert!(Runtime::known_faults(&db, Some(&rest[0].fault.key()), 3).unwrap().is_empty());
}

#[test]
fn two_evidence_receivers_are_refused_at_start() {
    let err = Runtime::new(spec(&["toy-receiver", "toy-receiver-b"])).unwrap_err();
    assert!(matches!(err, RuntimeError::EvidenceReceivers(ref m) if m.len() == 2), "{err}");
}
