//! The incremental state root equals a root built from scratch, proofs bind values to it, and
//! snapshots restore to the identical root or are refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use pc_codec::Hash32;
use pc_state::{EMPTY_STATE_ROOT, StateDb, StateError, snapshot, verify_proof};
use pc_store::{MemStore, RocksStore};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::sync::Arc;

fn mem() -> StateDb {
    StateDb::new(Arc::new(MemStore::new()))
}

/// Applies anchors of writes; returns the final root and the final key → value map.
fn apply(db: &StateDb, anchors: &[Vec<(u8, Option<u8>)>]) -> (Hash32, BTreeMap<Vec<u8>, Vec<u8>>) {
    let mut model = BTreeMap::new();
    let start = db.head().unwrap().map_or(0, |h| h.anchor + 1);
    for (i, writes) in anchors.iter().enumerate() {
        let mut txn = db.txn();
        for (k, v) in writes {
            let key = format!("m/item/{k}").into_bytes();
            match v {
                Some(v) => {
                    txn.put(key.clone(), vec![*v; 3]);
                    model.insert(key, vec![*v; 3]);
                }
                None => {
                    txn.delete(key.clone());
                    model.remove(&key);
                }
            }
        }
        let mut p = db.prepare(txn.into_writes(), start + i as u64).unwrap();
        if start + i as u64 == 0 {
            p.set_genesis_hash(&Hash32([7; 32]));
        }
        p.commit(Hash32([i as u8; 32])).unwrap();
    }
    (db.state_root().unwrap(), model)
}

fn from_scratch(model: &BTreeMap<Vec<u8>, Vec<u8>>) -> Hash32 {
    let db = mem();
    let mut txn = db.txn();
    for (k, v) in model {
        txn.put(k.clone(), v.clone());
    }
    db.prepare(txn.into_writes(), 0).unwrap().commit(Hash32::ZERO).unwrap().state_root
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn incremental_root_matches_scratch_and_proofs_verify(
        anchors in prop::collection::vec(prop::collection::vec((0u8..40, prop::option::of(any::<u8>())), 0..12), 1..12)
    ) {
        let db = mem();
        let (root, model) = apply(&db, &anchors);
        let scratch = if model.is_empty() { EMPTY_STATE_ROOT } else { from_scratch(&model) };
        prop_assert_eq!(root, scratch);
        if db.head().unwrap().and_then(|h| h.tree_version).is_some() {
            for k in [0u8, 7, 39] {
                let key = format!("m/item/{k}").into_bytes();
                let proof = db.prove(&key).unwrap();
                prop_assert_eq!(proof.value.as_ref(), model.get(&key));
                prop_assert!(verify_proof(&root, &proof).is_ok());
                let mut forged = proof.clone();
                forged.value = Some(b"forged".to_vec());
                prop_assert!(verify_proof(&root, &forged).is_err());
            }
        }
    }
}

#[test]
fn deleting_everything_returns_the_empty_root() {
    let db = mem();
    let (root, _) = apply(&db, &[vec![(1, Some(1)), (2, Some(2))], vec![(1, None), (2, None)]]);
    assert_eq!(root, EMPTY_STATE_ROOT);
}

#[test]
fn anchors_must_commit_in_order() {
    let db = mem();
    assert!(matches!(db.prepare(Default::default(), 1), Err(StateError::OutOfOrder { got: 1, head: None })));
    db.prepare(Default::default(), 0).unwrap().commit(Hash32::ZERO).unwrap();
    assert!(matches!(db.prepare(Default::default(), 0), Err(StateError::OutOfOrder { .. })));
}

#[test]
fn empty_anchor_keeps_root_and_head_advances() {
    let db = mem();
    let (root, _) = apply(&db, &[vec![(1, Some(1))], vec![], vec![(1, Some(1))]]);
    let head = db.head().unwrap().unwrap();
    assert_eq!(head.anchor, 2);
    assert_eq!(head.tree_version, Some(0), "no-op and empty anchors must not add tree versions");
    assert_eq!(root, head.state_root);
}

fn populated_rocks(dir: &std::path::Path) -> StateDb {
    let db = StateDb::new(Arc::new(RocksStore::open(dir).unwrap()));
    let anchors: Vec<Vec<(u8, Option<u8>)>> = (0..30u8)
        .map(|i| (0..8u8).map(|j| ((i * 7 + j) % 50, if j == 3 { None } else { Some(i ^ j) })).collect())
        .collect();
    apply(&db, &anchors);
    db
}

#[test]
fn snapshot_round_trip_restores_identical_root() {
    let a = tempfile::tempdir().unwrap();
    let src = populated_rocks(a.path());
    let mut bytes = Vec::new();
    let exported = snapshot::export(&src, &mut bytes).unwrap();
    let b = tempfile::tempdir().unwrap();
    let dst = StateDb::new(Arc::new(RocksStore::open(b.path()).unwrap()));
    let restored = snapshot::restore(&dst, Hash32([7; 32]), bytes.as_slice()).unwrap();
    assert_eq!(restored.head.state_root, exported.head.state_root);
    assert_eq!(dst.state_root().unwrap(), src.state_root().unwrap());
    assert_eq!(dst.genesis_hash().unwrap(), Some(Hash32([7; 32])));
    // The restored node keeps going and agrees with the original.
    let next = vec![vec![(5u8, Some(99u8)), (6, None)]];
    let (r1, _) = apply(&src, &next);
    let (r2, _) = apply(&dst, &next);
    assert_eq!(r1, r2);
    // Restoring over a used database is refused.
    assert!(matches!(snapshot::restore(&dst, Hash32([7; 32]), bytes.as_slice()), Err(StateError::NotEmpty(_))));
}

#[test]
fn corrupt_snapshots_are_refused_and_write_nothing() {
    let a = tempfile::tempdir().unwrap();
    let src = populated_rocks(a.path());
    let mut bytes = Vec::new();
    snapshot::export(&src, &mut bytes).unwrap();
    let mut flipped = bytes.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 1;
    let truncated = &bytes[..bytes.len() - 5];
    let mut trailing = bytes.clone();
    trailing.push(0);
    let dst = mem();
    assert!(snapshot::restore(&dst, Hash32([8; 32]), bytes.as_slice()).is_err(), "another chain's snapshot");
    assert_eq!(dst.head().unwrap(), None);
    for bad in [flipped.as_slice(), truncated, trailing.as_slice(), &[][..]] {
        let dst = mem();
        assert!(snapshot::restore(&dst, Hash32([7; 32]), bad).is_err());
        assert_eq!(dst.head().unwrap(), None);
        let mut any = false;
        dst.kv()
            .scan(pc_store::Column::State, &[], &[], &mut |_, _| {
                any = true;
                pc_store::Scan::Stop
            })
            .unwrap();
        assert!(!any, "a refused snapshot must write nothing");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Hostile snapshot bytes: a mutated snapshot is refused and writes nothing.
    #[test]
    fn mutated_snapshots_are_refused_without_writes(pos in any::<prop::sample::Index>(), byte in any::<u8>(), cut in any::<bool>()) {
        let src = mem();
        apply(&src, &[vec![(1, Some(1)), (2, Some(2)), (3, Some(3))], vec![(2, None), (4, Some(9))]]);
        let mut bytes = Vec::new();
        snapshot::export(&src, &mut bytes).unwrap();
        let i = pos.index(bytes.len());
        let mut bad = bytes.clone();
        if cut {
            bad.truncate(i);
        } else {
            prop_assume!(bad[i] != byte);
            bad[i] = byte;
        }
        let dst = mem();
        prop_assert!(snapshot::restore(&dst, Hash32([7; 32]), bad.as_slice()).is_err());
        prop_assert_eq!(dst.head().unwrap(), None);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    /// Reads through the committed-value cache (values and absences it has cached, from before
    /// each commit) always equal reads of the same store without a cache.
    #[test]
    fn the_state_cache_never_serves_a_value_a_commit_replaced(
        anchors in proptest::collection::vec(proptest::collection::vec((0u8..12, proptest::option::of(any::<u8>())), 0..8), 1..8)
    ) {
        let kv: Arc<MemStore> = Arc::new(MemStore::new());
        let cached = StateDb::with_cache(kv.clone(), 64);
        let plain = StateDb::with_cache(kv, 0);
        let keys: Vec<Vec<u8>> = (0u8..12).map(|k| format!("m/item/{k}").into_bytes()).collect();
        for (i, writes) in anchors.iter().enumerate() {
            // Fill the cache (present and absent keys) before the commit.
            for k in &keys {
                prop_assert_eq!(cached.get(k).unwrap(), plain.get(k).unwrap());
            }
            apply(&cached, std::slice::from_ref(writes));
            for k in &keys {
                prop_assert_eq!(cached.get(k).unwrap(), plain.get(k).unwrap(), "after anchor {}", i);
                prop_assert_eq!(cached.txn().get(k).unwrap(), plain.get(k).unwrap());
            }
        }
    }
}
