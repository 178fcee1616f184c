//! The keystore and slashing protection: backup and restore, purpose separation, errors that
//! write nothing, and a double-sign refused after a restart.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use pc_codec::Hash32;
use phantom_signer::{KdfParams, Keystore, Protection, Purpose, Request, SignerError, Slot};

/// Cheap parameters for tests (the CLI default is 64 MiB).
const FAST: KdfParams = KdfParams { m_kib: 64, t: 1, p: 1 };

#[test]
fn a_mnemonic_restores_the_same_keys_and_each_purpose_has_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let (ks, phrase) = Keystore::create(&dir.path().join("a.json"), "pw", FAST).unwrap();
    assert_eq!(phrase.split_whitespace().count(), 24);
    let restored = Keystore::restore(&dir.path().join("b.json"), &phrase, "other", FAST).unwrap();
    let reopened = Keystore::open(&dir.path().join("a.json"), "pw").unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for p in [Purpose::Seat, Purpose::Bond, Purpose::Payout, Purpose::Spend] {
        for i in 0..2 {
            let k = ks.public_key(p, i).unwrap();
            assert_eq!(k, restored.public_key(p, i).unwrap());
            assert_eq!(k, reopened.public_key(p, i).unwrap());
            assert!(seen.insert(k), "{p} {i} shares a key");
        }
    }
}

#[test]
fn the_same_words_give_the_same_keys_and_a_bad_checksum_writes_nothing() {
    // 32 zero bytes of entropy: "abandon" ×23 "art".
    let dir = tempfile::tempdir().unwrap();
    let phrase = ["abandon"; 23].join(" ") + " art";
    let ks = Keystore::restore(&dir.path().join("k.json"), &phrase, "pw", FAST).unwrap();
    let again = Keystore::restore(&dir.path().join("k2.json"), &phrase, "pw", FAST).unwrap();
    assert_eq!(ks.public_key(Purpose::Spend, 0).unwrap(), again.public_key(Purpose::Spend, 0).unwrap());
    let bad = ["abandon"; 24].join(" ");
    assert!(matches!(Keystore::restore(&dir.path().join("k3.json"), &bad, "pw", FAST), Err(SignerError::Mnemonic(_))));
    assert!(!dir.path().join("k3.json").exists(), "a bad mnemonic writes nothing");
}

#[test]
fn a_key_signs_only_its_own_purpose() {
    let dir = tempfile::tempdir().unwrap();
    let (ks, _) = Keystore::create(&dir.path().join("k.json"), "pw", FAST).unwrap();
    let msg = [7u8; 32];
    let sig = ks.sign(Purpose::Spend, 0, &Request::Transaction(msg)).unwrap();
    assert!(pc_utxo_tx::Bip340::verify(&ks.public_key(Purpose::Spend, 0).unwrap(), &msg, &sig));
    for (purpose, req) in [
        (Purpose::Seat, Request::Transaction(msg)),
        (Purpose::Spend, Request::Event(msg)),
        (Purpose::Payout, Request::Bond(msg)),
        (Purpose::Bond, Request::Payout(msg)),
    ] {
        assert!(matches!(ks.sign(purpose, 0, &req), Err(SignerError::Purpose { .. })), "{purpose} signed {req:?}");
    }
}

#[test]
fn wrong_passwords_corrupt_files_and_overwrites_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.json");
    Keystore::create(&path, "right", FAST).unwrap();
    let before = std::fs::read(&path).unwrap();
    assert!(matches!(Keystore::open(&path, "wrong"), Err(SignerError::WrongPassword)));
    assert!(matches!(Keystore::create(&path, "right", FAST), Err(SignerError::Exists(_))));
    assert_eq!(std::fs::read(&path).unwrap(), before);
    // A changed KDF parameter is bound as associated data: it fails like a wrong password.
    let mut v: serde_json::Value = serde_json::from_slice(&before).unwrap();
    v["kdf_params"]["t"] = serde_json::json!(2);
    std::fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
    assert!(matches!(Keystore::open(&path, "right"), Err(SignerError::WrongPassword)));
    std::fs::write(&path, &before[..before.len() / 2]).unwrap();
    assert!(matches!(Keystore::open(&path, "right"), Err(SignerError::Corrupt { .. })));
    let mut v: serde_json::Value = serde_json::from_slice(&before).unwrap();
    v["nonce"] = serde_json::json!("00");
    std::fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
    assert!(matches!(Keystore::open(&path, "right"), Err(SignerError::Corrupt { .. })));
}

#[test]
fn a_double_sign_is_refused_even_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("protection.log");
    let (a, b) = (Hash32([1; 32]), Hash32([2; 32]));
    let slot = |epoch, seat, seq| Slot { shard: 0, epoch, seat, seq };
    {
        let mut p = Protection::open(&path).unwrap();
        p.record(slot(1, 3, 10), &a).unwrap();
        p.record(slot(1, 3, 10), &a).unwrap(); // the same event again is fine
        let refused = p.record(slot(1, 3, 10), &b);
        assert!(matches!(refused, Err(SignerError::DoubleSign { slot: s, .. }) if s == slot(1, 3, 10)));
        p.record(slot(1, 3, 11), &b).unwrap();
        p.record(slot(1, 4, 10), &b).unwrap(); // another seat
        p.record(slot(7, 3, 10), &b).unwrap(); // another DAG epoch
    }
    let mut p = Protection::open(&path).unwrap();
    let again = p.record(slot(1, 3, 10), &b);
    assert!(matches!(again, Err(SignerError::DoubleSign { .. })), "the record survived the restart");
    assert!(matches!(p.record(slot(7, 3, 10), &a), Err(SignerError::DoubleSign { .. })));
    p.record(slot(1, 3, 10), &a).unwrap();
    std::fs::write(&path, "0 1 3 10 nothex\n").unwrap();
    assert!(matches!(Protection::open(&path), Err(SignerError::Corrupt { .. })));
}

#[test]
fn a_record_torn_by_a_crash_is_cut_off_and_a_whole_one_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("protection.log");
    let (a, b) = (Hash32([1; 32]), Hash32([2; 32]));
    let slot = |seq| Slot { shard: 0, epoch: 0, seat: 1, seq };
    Protection::open(&path).unwrap().record(slot(1), &a).unwrap();
    let whole = std::fs::read(&path).unwrap();
    // A crash in the middle of the second append: half a line, no newline.
    let torn = format!("0 0 1 2 {}", &b.to_hex()[..20]);
    std::fs::write(&path, [&whole[..], torn.as_bytes()].concat()).unwrap();
    let mut p = Protection::open(&path).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), whole, "the torn line is cut off");
    assert_eq!(p.signed(&slot(1)), Some(a));
    assert_eq!(p.signed(&slot(2)), None);
    p.record(slot(2), &b).unwrap();
    // A line that lost only its newline is whole: kept, and the next record starts a new line.
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.trim_end()).unwrap();
    let mut p = Protection::open(&path).unwrap();
    assert_eq!(p.signed(&slot(2)), Some(b));
    p.record(slot(3), &a).unwrap();
    let p = Protection::open(&path).unwrap();
    assert_eq!((p.signed(&slot(1)), p.signed(&slot(2)), p.signed(&slot(3))), (Some(a), Some(b), Some(a)));
}

#[test]
fn a_record_with_two_events_for_one_slot_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("protection.log");
    let (a, b) = (Hash32([1; 32]), Hash32([2; 32]));
    std::fs::write(&path, format!("0 0 1 2 {}\n0 0 1 2 {}\n", a.to_hex(), a.to_hex())).unwrap();
    assert_eq!(Protection::open(&path).unwrap().signed(&Slot { shard: 0, epoch: 0, seat: 1, seq: 2 }), Some(a));
    std::fs::write(&path, format!("0 0 1 2 {}\n0 0 1 2 {}\n", a.to_hex(), b.to_hex())).unwrap();
    assert!(matches!(Protection::open(&path), Err(SignerError::Corrupt { .. })));
}

#[test]
fn a_keystore_asking_for_unbounded_kdf_work_is_refused_before_any_is_done() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.json");
    Keystore::create(&path, "right", FAST).unwrap();
    let before: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    for (field, value) in [("m_kib", u32::MAX), ("t", u32::MAX), ("p", 0), ("m_kib", 0)] {
        let mut v = before.clone();
        v["kdf_params"][field] = serde_json::json!(value);
        std::fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
        // Were the work done, 4 TiB or 2^32 passes would never return.
        assert!(matches!(Keystore::open(&path, "right"), Err(SignerError::Corrupt { .. })), "{field}={value}");
    }
    let huge = KdfParams { m_kib: KdfParams::MAX_M_KIB + 1, ..FAST };
    assert!(Keystore::create(&dir.path().join("new.json"), "pw", huge).is_err());
    assert!(!dir.path().join("new.json").exists());
}
