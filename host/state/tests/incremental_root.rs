//! The incremental state root equals a root built from scratch and binds every value, a
//! database of another format is refused, and snapshots restore to the identical root or are
//! refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use pc_codec::Hash32;
use pc_state::{Accumulator, STATE_FORMAT, StateDb, StateError, empty_state_root, snapshot};
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
    fn incremental_root_matches_a_root_built_from_scratch(
        anchors in prop::collection::vec(prop::collection::vec((0u8..40, prop::option::of(any::<u8>())), 0..12), 1..12)
    ) {
        let db = mem();
        let (root, model) = apply(&db, &anchors);
        let scratch = if model.is_empty() { empty_state_root() } else { from_scratch(&model) };
        prop_assert_eq!(root, scratch);
        let entries: Vec<_> = model.iter().map(|(k, v)| (k.as_slice(), v.as_slice())).collect();
        let acc = Accumulator::of_entries(rayon::iter::IntoParallelIterator::into_par_iter(entries));
        prop_assert_eq!(acc.root(), root);
        prop_assert_eq!(db.accumulator().unwrap(), acc);
    }

    /// The root binds every entry: changing, adding or removing any one changes it.
    #[test]
    fn any_single_change_changes_the_root(
        writes in prop::collection::vec((0u8..40, any::<u8>()), 1..20),
        target in 0u8..41,
        value in prop::option::of(any::<u8>()),
    ) {
        let db = mem();
        let first: Vec<_> = writes.iter().map(|(k, v)| (*k, Some(*v))).collect();
        let (before, model) = apply(&db, &[first]);
        let key = format!("m/item/{target}").into_bytes();
        prop_assume!(model.get(&key) != value.map(|v| vec![v; 3]).as_ref());
        let (after, _) = apply(&db, &[vec![(target, value)]]);
        prop_assert_ne!(before, after);
    }
}

#[test]
fn deleting_everything_returns_the_empty_root() {
    let db = mem();
    let (root, _) = apply(&db, &[vec![(1, Some(1)), (2, Some(2))], vec![(1, None), (2, None)]]);
    assert_eq!(root, empty_state_root());
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
    assert_eq!(root, head.state_root);
}

#[test]
fn a_no_op_anchor_stages_no_state_and_no_accumulator() {
    let db = mem();
    apply(&db, &[vec![(1, Some(1)), (2, Some(2))]]);
    let mut txn = db.txn();
    txn.put(b"m/item/1".to_vec(), vec![1; 3]);
    let mut p = db.prepare(txn.into_writes(), 1).unwrap();
    assert!(p.batch_mut().is_empty(), "a write equal to the committed value must stage nothing");
}

#[test]
fn large_anchors_update_and_delete_through_the_parallel_paths() {
    // Over 64 writes per anchor: committed values are read and vectors summed in parallel.
    let db = mem();
    let (_, model) = apply(&db, &[(0u8..200).map(|k| (k, Some(k))).collect()]);
    assert_eq!(model.len(), 200);
    let churn: Vec<(u8, Option<u8>)> =
        (0u8..200).map(|k| (k, if k % 3 == 0 { None } else { Some(k ^ 0x55) })).collect();
    let (root, model) = apply(&db, &[churn]);
    assert_eq!(root, from_scratch(&model));
    assert_eq!(model.len(), 133);
}

#[test]
fn a_corrupt_accumulator_is_refused_before_any_commit() {
    let db = mem();
    let (root, _) = apply(&db, &[vec![(1, Some(1))]]);
    let mut other = Accumulator::empty();
    other.insert(b"not", b"the state");
    let mut batch = pc_store::WriteBatch::new();
    batch.put(pc_store::Column::Meta, b"state-accumulator".to_vec(), other.to_bytes());
    db.kv().write(batch, pc_store::Durability::Sync).unwrap();
    let mut txn = db.txn();
    txn.put(b"m/item/2".to_vec(), vec![2; 3]);
    let err = db.prepare(txn.into_writes(), 1).unwrap_err();
    assert!(matches!(err, StateError::AccumulatorMismatch { .. }), "{err}");
    assert_eq!(db.state_root().unwrap(), root);
    assert_eq!(db.get(b"m/item/2").unwrap(), None);
}

#[test]
fn a_snapshot_of_the_tree_format_is_refused_by_name() {
    let src = mem();
    apply(&src, &[vec![(1, Some(1))]]);
    let mut bytes = Vec::new();
    snapshot::export(&src, &mut bytes).unwrap();
    bytes[4..12].copy_from_slice(b"PCSNAP01");
    let dst = mem();
    let err = snapshot::restore(&dst, Hash32([7; 32]), bytes.as_slice()).unwrap_err();
    assert!(err.to_string().contains("PCSNAP01"), "{err}");
    assert_eq!(dst.head().unwrap(), None);
}

#[test]
fn a_database_of_the_tree_format_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let db = populated_rocks(dir.path());
    let root = db.state_root().unwrap();
    // What the format-1 (sparse Merkle tree) node left: no format marker, and column families
    // this build no longer has.
    let mut batch = pc_store::WriteBatch::new();
    batch.delete(pc_store::Column::Meta, b"state-format".to_vec());
    db.kv().write(batch, pc_store::Durability::Sync).unwrap();
    drop(db);
    {
        let mut opts = rocksdb::Options::default();
        opts.create_missing_column_families(true);
        let mut names = rocksdb::DB::list_cf(&opts, dir.path()).unwrap();
        names.push("tree_nodes".into());
        let old = rocksdb::DB::open_cf(&opts, dir.path(), names).unwrap();
        old.put_cf(old.cf_handle("tree_nodes").unwrap(), b"n", b"node").unwrap();
    }
    let db = StateDb::new(Arc::new(RocksStore::open(dir.path()).unwrap()));
    let err = db.head().unwrap_err();
    assert!(matches!(err, StateError::Format { found: 1, expected: STATE_FORMAT }), "{err}");
    assert!(err.to_string().contains("empty data directory"), "{err}");
    assert!(db.prepare(Default::default(), 30).is_err(), "nothing may be committed on top of it");
    // Putting the marker back shows the refusal was the format check, and nothing changed.
    let mut batch = pc_store::WriteBatch::new();
    batch.put(pc_store::Column::Meta, b"state-format".to_vec(), parity_scale_codec::Encode::encode(&STATE_FORMAT));
    db.kv().write(batch, pc_store::Durability::Sync).unwrap();
    assert_eq!(db.state_root().unwrap(), root);
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
