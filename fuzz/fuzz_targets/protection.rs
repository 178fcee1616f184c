//! The slashing-protection record read back at start: refused, or loaded so that every slot
//! in it refuses any other event. The oracle parses each line on its own.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pc_codec::Hash32;
use phantom_signer::{Protection, SignerError, Slot};
use std::sync::OnceLock;

fn dir() -> &'static tempfile::TempDir {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("tempdir"))
}

fn line(l: &str) -> Option<(Slot, Hash32)> {
    let f: Vec<&str> = l.split(' ').collect();
    let [shard, epoch, seat, seq, id] = f.as_slice() else { return None };
    let slot = Slot {
        shard: shard.parse().ok()?,
        epoch: epoch.parse().ok()?,
        seat: seat.parse().ok()?,
        seq: seq.parse().ok()?,
    };
    Some((slot, Hash32::from_hex(id).ok()?))
}

fuzz_target!(|data: &[u8]| {
    let path = dir().path().join("protection.log");
    std::fs::write(&path, data).expect("write");
    let Ok(mut p) = Protection::open(&path) else { return };
    let text = String::from_utf8_lossy(data);
    let whole = text.rfind('\n').map_or(0, |i| i + 1);
    for l in text[..whole].lines() {
        let (slot, id) = line(l).expect("opened, so every whole line parses");
        assert_eq!(p.signed(&slot), Some(id));
        let other = Hash32(id.0.map(|b| !b));
        assert!(matches!(p.record(slot, &other), Err(SignerError::DoubleSign { .. })));
    }
    // What open kept on disk reads back the same.
    let kept = std::fs::read(&path).expect("read");
    assert!(kept.is_empty() || kept.ends_with(b"\n"), "the next record would not start a line");
});
