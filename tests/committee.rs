//! The committee as chain state (docs/runtime-api.md §13): the chainspec's committee is the
//! first epoch's; at every epoch end the host asks the one committee provider (the toy
//! `rotate` of tests/src/rotate.rs) for the next, refuses an answer that breaks the rules,
//! stores the result in the state root and keeps the history for the slash window; evidence
//! is checked against the committee of the offence's epoch.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pc_chainspec::{ChainSpec, DEV_JSON};
use pc_codec::{ConsensusTime, Decode, Encode, Hash32, Identified};
use pc_consensus::{Event, SignedEvent};
use pc_runtime::{AnchorInput, CallOutcome, Runtime, RuntimeError};
use pc_runtime_api::{
    AnchorCtx, COMMITTEE_TARGET, Call, CommitteeChanged, CommitteeRefused, EVIDENCE_TARGET, Evidence, ModuleDescriptor,
    ModuleEvent, register_module,
};
use pc_state::StateDb;
use std::sync::Arc;

#[path = "src/rotate.rs"]
mod rotate;
use rotate::Rotate;

// Keep `genesis` linked.
use pc_module_genesis as _;

// A second provider, to show that two are refused.
register_module!(ModuleDescriptor {
    name: "rotate-twin",
    feature: "test",
    order: 901,
    depends_on: &[],
    build: Rotate::build,
});

/// Epochs of four anchors; committees kept eight anchors past their epoch's end.
const R: u64 = 4;

fn key_of(spec: &ChainSpec, n: u8) -> pc_crypto::Keypair {
    pc_crypto::keypair_from_seed(spec.dev_seat_secret(n).unwrap()).unwrap()
}

fn xonly(spec: &ChainSpec, n: u8) -> [u8; 32] {
    pc_crypto::XOnly::of(&key_of(spec, n)).0
}

/// The single-seat dev chain with only `genesis`, R = 4, a slash window of 8, and the
/// providers named in `providers` rotating over well-known keys 0, 1, 2.
fn spec(providers: &[&str], refuse_at: Option<u64>) -> ChainSpec {
    let mut v: serde_json::Value = serde_json::from_str(DEV_JSON).unwrap();
    v["modules"] = serde_json::json!({ "genesis": v["modules"]["genesis"] });
    v["constants"]["windows"]["epoch_anchors"] = serde_json::json!(R);
    v["constants"]["windows"]["slash_window"] = serde_json::json!(8);
    let plain = ChainSpec::from_json(&v.to_string()).unwrap();
    let candidates: Vec<String> = (0..3).map(|n| hex::encode(xonly(&plain, n))).collect();
    for p in providers {
        v["modules"][*p] = serde_json::json!({ "candidates": candidates, "refuse_at": refuse_at });
    }
    ChainSpec::from_json(&v.to_string()).unwrap()
}

fn started(spec: &ChainSpec) -> (Runtime, StateDb) {
    let rt = Runtime::new(spec.clone()).unwrap();
    let db = StateDb::new(Arc::new(pc_store::MemStore::new()));
    rt.init_genesis(&db).unwrap();
    (rt, db)
}

fn anchor(i: u64, calls: Vec<Call>) -> AnchorInput {
    let epoch = (i - 1) / R * R + 1;
    let mut ctx = AnchorCtx::bare(0, i, Hash32([i as u8; 32]), ConsensusTime { anchor: i, lamport: i });
    ctx.epoch = epoch;
    AnchorInput { ctx, calls }
}

/// Applies anchors `from..=to` without calls; returns the host's committee events by anchor.
fn run(rt: &Runtime, db: &StateDb, from: u64, to: u64) -> Vec<(u64, String, Vec<u8>)> {
    let mut out = Vec::new();
    for i in from..=to {
        let o = rt.apply_anchor(db, &anchor(i, vec![])).unwrap();
        assert_eq!(o.committee.is_some(), i % R == 0, "anchor {i}: a committee is stored exactly at epoch ends");
        for e in o.events.into_iter().filter(|e| e.module == COMMITTEE_TARGET) {
            out.push((i, e.name, e.data));
        }
    }
    out
}

fn keys_at(rt: &Runtime, db: &StateDb, a: u64) -> Option<Vec<[u8; 32]>> {
    rt.committee(db, a).unwrap().map(|c| c.keys())
}

#[test]
fn a_chain_without_a_provider_keeps_its_genesis_committee_and_prunes_past_the_slash_window() {
    let spec = spec(&[], None);
    let (rt, db) = started(&spec);
    assert_eq!(rt.committee_provider(), None);
    let genesis = vec![xonly(&spec, 0)];
    assert_eq!(keys_at(&rt, &db, 1), Some(genesis.clone()), "the chainspec's committee is the first epoch's");
    assert_eq!(keys_at(&rt, &db, 5), None, "not decided before its epoch's predecessor ends");
    let events = run(&rt, &db, 1, 12);
    assert!(events.is_empty(), "nothing changed, nothing said: {events:?}");
    for a in [5, 9, 13] {
        let c = rt.committee(&db, a).unwrap().unwrap();
        assert_eq!((c.epoch, c.decided_at, c.keys()), ((a - 1) / R * R + 1, a - 1, genesis.clone()));
    }
    // Epoch 1 ended at anchor 4; evidence of it is taken up to anchor 12, so from anchor 13 on
    // its committee is of no use and is gone; epoch 5's stays until anchor 16.
    assert_eq!(keys_at(&rt, &db, 1), None);
    assert!(keys_at(&rt, &db, 5).is_some());
}

#[test]
fn the_provider_rotates_the_committee_at_every_epoch_end_and_says_so() {
    let spec = spec(&["rotate"], None);
    let (rt, db) = started(&spec);
    assert_eq!(rt.committee_provider(), Some("rotate"));
    assert_eq!(keys_at(&rt, &db, 4), Some(vec![xonly(&spec, 0)]), "the genesis committee");
    let events = run(&rt, &db, 1, 12);
    for (a, n) in [(5, 1u8), (8, 1), (9, 2), (13, 0)] {
        assert_eq!(keys_at(&rt, &db, a), Some(vec![xonly(&spec, n)]), "anchor {a}");
    }
    let c = rt.committee(&db, 9).unwrap().unwrap();
    assert_eq!(c.seats[0].meta, 2u64.to_le_bytes().to_vec(), "the provider's meta is kept");
    let changed: Vec<(u64, CommitteeChanged)> = events
        .iter()
        .filter(|(_, name, _)| name == CommitteeChanged::NAME)
        .map(|(a, _, d)| (*a, CommitteeChanged::decode(&mut &d[..]).unwrap()))
        .collect();
    let expect: Vec<(u64, CommitteeChanged)> = [(4, 5, 1u8), (8, 9, 2), (12, 13, 0)]
        .into_iter()
        .map(|(a, epoch, n)| (a, CommitteeChanged { epoch, keys: vec![xonly(&spec, n)] }))
        .collect();
    assert_eq!(changed, expect);

    // Same anchors, same committees, same roots: a second node agrees.
    let (rt2, db2) = started(&spec);
    run(&rt2, &db2, 1, 12);
    assert_eq!(db.head().unwrap(), db2.head().unwrap());
}

#[test]
fn a_committee_that_breaks_the_rules_is_refused_and_the_committee_stays() {
    // The committee the rule gives epoch number 1 (anchors 5..=8) comes with one seat too many.
    let spec = spec(&["rotate"], Some(1));
    let (rt, db) = started(&spec);
    let events = run(&rt, &db, 1, 8);
    assert_eq!(keys_at(&rt, &db, 5), Some(vec![xonly(&spec, 0)]), "refused: the committee stays");
    assert_eq!(keys_at(&rt, &db, 9), Some(vec![xonly(&spec, 2)]), "the next answer is taken again");
    let refused: Vec<CommitteeRefused> = events
        .iter()
        .filter(|(_, name, _)| name == CommitteeRefused::NAME)
        .map(|(_, _, d)| CommitteeRefused::decode(&mut &d[..]).unwrap())
        .collect();
    assert_eq!(refused.len(), 1, "{events:?}");
    assert_eq!(refused[0].epoch, 5);
    assert!(refused[0].reason.contains("2 seats given"), "{}", refused[0].reason);
}

#[test]
fn two_committee_providers_are_refused_at_start() {
    match Runtime::new(spec(&["rotate", "rotate-twin"], None)) {
        Err(RuntimeError::CommitteeProviders(names)) => assert_eq!(names, ["rotate", "rotate-twin"]),
        other => panic!("expected CommitteeProviders, got {other:?}"),
    }
}

fn event(epoch: u64, seq: u64, tag: u8) -> Event {
    Event {
        shard: 0,
        epoch,
        creator: 0,
        seq,
        parents: vec![],
        lamport: seq,
        frame: 1,
        payload_root: Hash32([tag; 32]),
        payload_len: 0,
    }
}

fn equivocation(kp: &pc_crypto::Keypair, epoch: u64) -> Call {
    let signed = |e: Event| SignedEvent { sig: pc_crypto::sign_prehashed(kp, &e.id().0), event: e };
    let (first, second) = (signed(event(epoch, 3, 1)), signed(event(epoch, 3, 2)));
    Call { module: EVIDENCE_TARGET.into(), data: Evidence::Equivocation { first, second }.encode() }
}

#[test]
fn evidence_is_checked_against_the_committee_of_the_offence_epoch() {
    let spec = spec(&["rotate"], None);
    let (rt, db) = started(&spec);
    run(&rt, &db, 1, 5); // anchor 5 opened epoch 5, whose seat 0 is key 1
    let (k0, k1) = (key_of(&spec, 0), key_of(&spec, 1));

    // Key 0 held seat 0 in epoch 1: its fork there is still proven after it left.
    let old = equivocation(&k0, 1);
    rt.validate_call(&db, &old).unwrap();
    // Key 0 signing as seat 0 of epoch 5, where key 1 sits, proves nothing.
    let wrong = equivocation(&k0, 5);
    match rt.validate_call(&db, &wrong) {
        Err(RuntimeError::InvalidCall(e)) => assert!(e.to_string().contains("signature"), "{e}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    // Key 1's fork in epoch 5 is its fault.
    let now = equivocation(&k1, 5);
    rt.validate_call(&db, &now).unwrap();
    // The keys of both proofs are the faults', so the pool and the index dedupe them.
    assert_ne!(rt.call_key(&old), old.id());
    assert_ne!(rt.call_key(&wrong), rt.call_key(&now));

    let o = rt.apply_anchor(&db, &anchor(6, vec![old.clone(), wrong.clone(), now.clone()])).unwrap();
    assert_eq!(o.applied, [rt.call_key(&old), rt.call_key(&now)]);
    assert_eq!(o.dropped.len(), 1);
    let faults = Runtime::known_faults(&db, None, 10).unwrap();
    let mut got: Vec<(u64, u8)> = faults.iter().map(|k| (k.fault.epoch, k.fault.seat)).collect();
    got.sort();
    assert_eq!(got, [(1, 0), (5, 0)]);
    let rec = Runtime::call_record(&db, &rt.call_key(&now)).unwrap().unwrap();
    assert_eq!(rec.outcome, CallOutcome::Applied);
}
