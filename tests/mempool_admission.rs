//! The mempool with the real UTXO module: parallel admission, fee-rate order, conflicts,
//! eviction at the cap, and cleanup after finality.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pc_codec::{Encode, Hash32};
use pc_integration_tests::{anchor_ctx, test_key, utxo_spec};
use pc_mempool::{Mempool, MempoolConfig, PoolStatus, SubmitError};
use pc_module_utxo::genesis_outpoint;
use pc_runtime::{AnchorInput, Runtime};
use pc_runtime_api::Call;
use pc_state::StateDb;
use pc_utxo_tx::{Keypair, Predicate, Transaction, TxIn, TxOut, Witness, XOnly, sign_single_key};
use std::sync::Arc;

const PC: u64 = 100_000_000;

fn setup(n: u32) -> (Runtime, StateDb, Vec<Keypair>) {
    let keys: Vec<Keypair> = (0..n).map(test_key).collect();
    let rt = Runtime::new(utxo_spec(&keys, 10 * PC)).unwrap();
    let db = StateDb::new(Arc::new(pc_store::MemStore::new()));
    rt.init_genesis(&db).unwrap();
    (rt, db, keys)
}

/// Key `i` spends its allocation to itself, paying `fee`.
fn tx(rt: &Runtime, keys: &[Keypair], i: u32, fee: u64) -> Call {
    let kp = &keys[i as usize];
    let mut t = Transaction {
        version: 0,
        inputs: vec![TxIn { prev: genesis_outpoint(i), witness: Witness::Empty }],
        outputs: vec![TxOut { value: 10 * PC - fee, predicate: Predicate::Key(XOnly::of(kp)) }],
    };
    sign_single_key(&mut t, &rt.genesis_hash(), kp);
    Call { module: "utxo".into(), data: t.encode() }
}

#[test]
fn admission_runs_in_parallel_and_selection_follows_fee_rate() {
    let (rt, db, keys) = setup(16);
    let pool = Mempool::new(MempoolConfig::default());
    let calls: Vec<Call> = (0..16).map(|i| tx(&rt, &keys, i, 10_000 + u64::from(i) * 1_000)).collect();
    let keys_in: Vec<Hash32> = calls.iter().map(|c| rt.call_key(c)).collect();
    let results = pool.submit_batch(&rt, &db, calls);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let picked = pool.select(&rt, &db, 5, usize::MAX);
    let expect: Vec<Hash32> = keys_in.iter().rev().take(5).copied().collect();
    assert_eq!(picked.iter().map(|(k, _)| *k).collect::<Vec<_>>(), expect, "highest fee first");
    let next = pool.select(&rt, &db, 1, usize::MAX);
    assert_eq!(next[0].0, keys_in[10], "calls already in an event are skipped");
    // What a node announces again: pending calls no event carries, best first.
    let again = pool.pending_keys(3);
    assert_eq!(again, keys_in[7..10].iter().rev().copied().collect::<Vec<_>>());
    assert_eq!(pool.pending_keys(100).len(), 10);
}

#[test]
fn a_conflict_a_duplicate_and_a_bad_call_are_refused_with_reasons() {
    let (rt, db, keys) = setup(2);
    let pool = Mempool::new(MempoolConfig::default());
    let first = tx(&rt, &keys, 0, 10_000);
    let k1 = pool.submit(&rt, &db, first.clone()).unwrap();
    assert_eq!(pool.submit(&rt, &db, first), Err(SubmitError::Duplicate));
    assert_eq!(pool.submit(&rt, &db, tx(&rt, &keys, 0, 20_000)), Err(SubmitError::Conflict { with: k1 }));
    let mut forged = tx(&rt, &keys, 1, 10_000);
    forged.data = {
        let mut t: Transaction = pc_codec::decode_canonical(&forged.data, 1 << 20).unwrap();
        t.inputs[0].prev = genesis_outpoint(0);
        sign_single_key(&mut t, &rt.genesis_hash(), &keys[1]);
        t.encode()
    };
    let key = rt.call_key(&forged);
    match pool.submit(&rt, &db, forged) {
        Err(SubmitError::Invalid { code, .. }) => assert_eq!(code, "utxo.bad-signature"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(matches!(pool.status(&key), Some(PoolStatus::Rejected { code, .. }) if code == "utxo.bad-signature"));
    assert_eq!(pool.status(&k1), Some(PoolStatus::Pending));
    assert_eq!(pool.size().0, 1);
}

#[test]
fn a_full_pool_evicts_the_cheapest_for_a_better_payer_and_refuses_a_worse_one() {
    let (rt, db, keys) = setup(4);
    let pool = Mempool::new(MempoolConfig { max_calls: 2, ..MempoolConfig::default() });
    let cheap = pool.submit(&rt, &db, tx(&rt, &keys, 0, 10_000)).unwrap();
    pool.submit(&rt, &db, tx(&rt, &keys, 1, 30_000)).unwrap();
    pool.submit(&rt, &db, tx(&rt, &keys, 2, 50_000)).unwrap();
    assert!(matches!(pool.status(&cheap), Some(PoolStatus::Rejected { code, .. }) if code == "mempool.evicted"));
    assert!(matches!(pool.submit(&rt, &db, tx(&rt, &keys, 3, 10_000)), Err(SubmitError::Full { .. })));
    assert_eq!(pool.size().0, 2);
}

#[test]
fn a_call_already_in_an_event_is_never_evicted() {
    let (rt, db, keys) = setup(3);
    let pool = Mempool::new(MempoolConfig { max_calls: 1, ..MempoolConfig::default() });
    let cheap = pool.submit(&rt, &db, tx(&rt, &keys, 0, 10_000)).unwrap();
    assert_eq!(pool.select(&rt, &db, 10, usize::MAX).len(), 1);
    // A better payer cannot push out a call whose spends an unfinalized event relies on.
    assert!(matches!(pool.submit(&rt, &db, tx(&rt, &keys, 1, 90_000)), Err(SubmitError::Full { .. })));
    assert_eq!(pool.status(&cheap), Some(PoolStatus::Pending));
    pool.finalized(&[cheap], &[], &[]);
    pool.submit(&rt, &db, tx(&rt, &keys, 1, 90_000)).unwrap();
}

#[test]
fn finality_removes_applied_calls_and_selection_drops_invalidated_ones() {
    let (rt, db, keys) = setup(2);
    let pool = Mempool::new(MempoolConfig::default());
    let a = tx(&rt, &keys, 0, 10_000);
    let ka = pool.submit(&rt, &db, a.clone()).unwrap();
    let kb = pool.submit(&rt, &db, tx(&rt, &keys, 1, 10_000)).unwrap();
    // Another node's transaction spends key 1's output first (it never was in this pool).
    let mut rival = Transaction {
        version: 0,
        inputs: vec![TxIn { prev: genesis_outpoint(1), witness: Witness::Empty }],
        outputs: vec![TxOut { value: 9 * PC, predicate: Predicate::Key(XOnly::of(&keys[0])) }],
    };
    sign_single_key(&mut rival, &rt.genesis_hash(), &keys[1]);
    let rival = Call { module: "utxo".into(), data: rival.encode() };
    let out = rt.apply_anchor(&db, &AnchorInput { ctx: anchor_ctx(1), calls: vec![a, rival.clone()] }).unwrap();
    assert_eq!(out.keys, [ka, rt.call_key(&rival)]);
    pool.finalized(&out.applied, &out.dropped, &out.consumed);
    assert_eq!(pool.status(&ka), None);
    // The rival consumed key 1's output, so the pending spend of it is gone with the reason.
    match pool.status(&kb) {
        Some(PoolStatus::Rejected { code, reason }) => {
            assert_eq!(code, "mempool.conflict");
            assert!(reason.contains(&rt.call_key(&rival).to_string()), "{reason}");
        }
        other => panic!("the losing spend should be rejected, got {other:?}"),
    }
    assert!(pool.select(&rt, &db, 10, usize::MAX).is_empty());
    assert_eq!(pool.size(), (0, 0));
    assert!(matches!(pool.submit(&rt, &db, tx(&rt, &keys, 0, 10_000)), Err(SubmitError::Finalized(1))));
}

#[test]
fn seats_carry_disjoint_shares_and_take_over_a_silent_seats_calls() {
    let (rt, db, keys) = setup(16);
    let calls: Vec<Call> = (0..16).map(|i| tx(&rt, &keys, i, 10_000)).collect();
    let none = std::collections::BTreeSet::new();
    let share = |seat| Some((pc_mempool::Share { seat, seats: 2, patience: 3 }, &none));
    // Two validators that heard of the same calls.
    let (a, b) = (Mempool::new(MempoolConfig::default()), Mempool::new(MempoolConfig::default()));
    assert!(a.submit_batch(&rt, &db, calls.clone()).iter().all(Result::is_ok));
    assert!(b.submit_batch(&rt, &db, calls.clone()).iter().all(Result::is_ok));
    let mine: Vec<Hash32> = a.select_share(&rt, &db, 100, usize::MAX, share(0)).into_iter().map(|(k, _)| k).collect();
    let theirs: Vec<Hash32> = b.select_share(&rt, &db, 100, usize::MAX, share(1)).into_iter().map(|(k, _)| k).collect();
    assert!(!mine.is_empty() && !theirs.is_empty(), "both seats have a share");
    assert!(mine.iter().all(|k| !theirs.contains(k)), "no call is carried twice");
    assert_eq!(mine.len() + theirs.len(), 16, "every call is someone's");
    // Seat 1 is silent: after `patience` rounds seat 0 carries its calls too.
    for _ in 0..2 {
        assert!(a.select_share(&rt, &db, 100, usize::MAX, share(0)).is_empty());
    }
    let taken: Vec<Hash32> = a.select_share(&rt, &db, 100, usize::MAX, share(0)).into_iter().map(|(k, _)| k).collect();
    let mut expect = theirs.clone();
    expect.sort();
    let mut got = taken.clone();
    got.sort();
    assert_eq!(got, expect);
    // A call submitted to this node is carried at once, whatever its share.
    let c = Mempool::new(MempoolConfig::default());
    assert!(c.submit_batch(&rt, &db, calls.clone()).iter().all(Result::is_ok));
    let local: std::collections::BTreeSet<Hash32> = theirs.iter().copied().collect();
    let first =
        c.select_share(&rt, &db, 100, usize::MAX, Some((pc_mempool::Share { seat: 0, seats: 2, patience: 3 }, &local)));
    assert_eq!(first.len(), 16, "its own share and the local calls");
}

/// A Byzantine seat copies a pending transaction with a broken witness into its event. The
/// copy has the transaction's id (ids leave witnesses out) and is dropped at apply, but it
/// must not push the valid transaction out of the pool: only the same bytes end a pending call.
#[test]
fn a_dropped_copy_with_a_broken_witness_leaves_the_valid_transaction_pending() {
    let (rt, db, keys) = setup(1);
    let pool = Mempool::new(MempoolConfig::default());
    let good = tx(&rt, &keys, 0, 10_000);
    let key = pool.submit(&rt, &db, good.clone()).unwrap();
    let mut broken: Transaction = pc_codec::decode_canonical(&good.data, 1 << 20).unwrap();
    broken.inputs[0].witness = Witness::Sig([9; 64]);
    let broken = Call { module: "utxo".into(), data: broken.encode() };
    assert_eq!(rt.call_key(&broken), key);
    let out = rt.apply_anchor(&db, &AnchorInput { ctx: anchor_ctx(1), calls: vec![broken] }).unwrap();
    assert_eq!((out.record.dropped, out.applied.len()), (1, 0));
    pool.finalized(&out.applied, &out.dropped, &out.consumed);
    assert_eq!(pool.status(&key), Some(PoolStatus::Pending), "the valid transaction was censored");
    let out = rt.apply_anchor(&db, &AnchorInput { ctx: anchor_ctx(2), calls: vec![good] }).unwrap();
    pool.finalized(&out.applied, &out.dropped, &out.consumed);
    assert_eq!(pool.status(&key), None);
}
