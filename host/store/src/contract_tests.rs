//! The same contract checked against both backends.

use crate::*;

fn backends() -> Vec<(Box<dyn KvStore>, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let rocks = RocksStore::open(dir.path()).unwrap();
    vec![(Box::new(MemStore::new()), None), (Box::new(rocks), Some(dir))]
}

fn collect(s: &dyn KvStore, col: Column, prefix: &[u8], from: &[u8]) -> KvPairs {
    let mut out = Vec::new();
    s.scan(col, prefix, from, &mut |k, v| {
        out.push((k.to_vec(), v.to_vec()));
        Scan::Continue
    })
    .unwrap();
    out
}

#[test]
fn batch_applies_in_order_and_columns_are_separate() {
    for (s, _dir) in backends() {
        let mut b = WriteBatch::new();
        b.put(Column::State, b"a".to_vec(), b"1".to_vec());
        b.put(Column::State, b"a".to_vec(), b"2".to_vec());
        b.put(Column::Meta, b"a".to_vec(), b"meta".to_vec());
        b.put(Column::State, b"b".to_vec(), b"3".to_vec());
        b.delete(Column::State, b"b".to_vec());
        s.write(b, Durability::Sync).unwrap();
        assert_eq!(s.get(Column::State, b"a").unwrap(), Some(b"2".to_vec()));
        assert_eq!(s.get(Column::Meta, b"a").unwrap(), Some(b"meta".to_vec()));
        assert_eq!(s.get(Column::State, b"b").unwrap(), None);
        assert_eq!(s.get(Column::Events, b"a").unwrap(), None);
    }
}

#[test]
fn scan_respects_prefix_start_and_stop() {
    for (s, _dir) in backends() {
        let mut b = WriteBatch::new();
        for k in ["m/1", "m/2", "m/3", "n/1", "l/9"] {
            b.put(Column::State, k.as_bytes().to_vec(), k.as_bytes().to_vec());
        }
        s.write(b, Durability::Buffered).unwrap();
        let keys = |v: KvPairs| v.into_iter().map(|(k, _)| String::from_utf8(k).unwrap()).collect::<Vec<_>>();
        assert_eq!(keys(collect(s.as_ref(), Column::State, b"m/", b"m/")), ["m/1", "m/2", "m/3"]);
        assert_eq!(keys(collect(s.as_ref(), Column::State, b"m/", b"m/2")), ["m/2", "m/3"]);
        let mut first = Vec::new();
        s.scan(Column::State, b"", b"", &mut |k, _| {
            first.push(k.to_vec());
            Scan::Stop
        })
        .unwrap();
        assert_eq!(first, vec![b"l/9".to_vec()]);
    }
}

#[test]
fn rocks_reopens_with_committed_data() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = RocksStore::open(dir.path()).unwrap();
        let mut b = WriteBatch::new();
        b.put(Column::Anchors, b"k".to_vec(), b"v".to_vec());
        s.write(b, Durability::Sync).unwrap();
    }
    let s = RocksStore::open(dir.path()).unwrap();
    assert_eq!(s.get(Column::Anchors, b"k").unwrap(), Some(b"v".to_vec()));
}
