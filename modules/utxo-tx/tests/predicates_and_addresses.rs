//! Predicates, witnesses, addresses and the transaction decoder, without any node.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use pc_codec::{Encode, Hash32, decode_canonical};
use pc_utxo_tx::{
    Address, AddressError, Bip340, MAX_TX_BYTES, OutPoint, Predicate, PredicateError, SpendCtx, Transaction, TxIn,
    TxOut, TxShapeError, Witness, XOnly, hash_lock_digest, keypair_from_seed, predicate_hash, sign_sighash,
};
use proptest::prelude::*;

fn key(i: u8) -> pc_utxo_tx::Keypair {
    keypair_from_seed([i + 1; 32]).unwrap()
}

#[test]
fn a_deep_predicate_behind_a_version_one_address_stays_spendable() {
    let kp = key(0);
    let msg = [7u8; 32];
    // Depth 4: Any(All(Any(Key))).
    let inner = Predicate::Any(vec![Predicate::All(vec![Predicate::Any(vec![Predicate::Key(XOnly::of(&kp))])])]);
    inner.check_limits().unwrap();
    let outer = Address::for_predicate(&inner).predicate();
    let w = Witness::Reveal {
        predicate: Box::new(inner.clone()),
        witness: Box::new(Witness::Any {
            branch: 0,
            witness: Box::new(Witness::All(vec![Witness::Any {
                branch: 0,
                witness: Box::new(Witness::Sig(sign_sighash(&kp, &msg))),
            }])),
        }),
    };
    let ctx = SpendCtx { anchor_index: 1, sighash: &msg };
    outer.satisfy(&w, &ctx, &Bip340).unwrap();
    // A reveal inside a reveal is refused.
    let nested = Predicate::PredicateHash(predicate_hash(&outer));
    let w2 = Witness::Reveal { predicate: Box::new(outer), witness: Box::new(w) };
    assert_eq!(nested.satisfy(&w2, &ctx, &Bip340), Err(PredicateError::TooDeep));
}

#[test]
fn limits_bound_keys_depth_and_cost() {
    let keys: Vec<XOnly> = {
        let mut v: Vec<XOnly> = (0..16).map(|i| XOnly::of(&key(i))).collect();
        v.sort();
        v
    };
    Predicate::Threshold { k: 16, keys: keys.clone() }.check_limits().unwrap();
    let two = Predicate::All(vec![Predicate::Threshold { k: 1, keys: keys.clone() }, Predicate::Key(keys[0])]);
    assert_eq!(two.check_limits(), Err(PredicateError::TooManyKeys));
    let mut unsorted = keys.clone();
    unsorted.swap(0, 1);
    assert_eq!(Predicate::Threshold { k: 1, keys: unsorted }.check_limits(), Err(PredicateError::Threshold));
    let deep =
        Predicate::All(vec![Predicate::All(vec![Predicate::All(vec![Predicate::All(vec![Predicate::After(1)])])])]);
    assert_eq!(deep.check_limits(), Err(PredicateError::TooDeep));
    assert_eq!(Predicate::Any(vec![]).check_limits(), Err(PredicateError::Branches));
}

#[test]
fn hash_locks_and_anchor_locks() {
    let msg = [0u8; 32];
    let p = Predicate::All(vec![Predicate::HashLock(hash_lock_digest(b"x")), Predicate::After(10)]);
    let w = Witness::All(vec![Witness::Preimage(b"x".to_vec()), Witness::Empty]);
    let at = |i| SpendCtx { anchor_index: i, sighash: &msg };
    assert_eq!(p.satisfy(&w, &at(9), &Bip340), Err(PredicateError::Locked { until: 10, now: 9 }));
    p.satisfy(&w, &at(10), &Bip340).unwrap();
    let bad = Witness::All(vec![Witness::Preimage(b"y".to_vec()), Witness::Empty]);
    assert_eq!(p.satisfy(&bad, &at(10), &Bip340), Err(PredicateError::WrongPreimage));
}

#[test]
fn addresses_refuse_bech32_other_prefixes_and_bad_lengths() {
    let a = Address::Key(XOnly::of(&key(3)));
    let s = a.to_string();
    assert!(s.starts_with("pc1"));
    assert_eq!(s.parse::<Address>().unwrap(), a);
    assert_eq!(s.to_uppercase().parse::<Address>().unwrap(), a, "all upper case is valid Bech32m");
    let hrp = bech32::Hrp::parse("pc").unwrap();
    let classic = bech32::encode::<bech32::Bech32>(hrp, &a.to_bytes()).unwrap();
    assert!(matches!(classic.parse::<Address>(), Err(AddressError::Encoding(_))), "Bech32 (not m) is refused");
    let other = bech32::encode::<bech32::Bech32m>(bech32::Hrp::parse("bc").unwrap(), &a.to_bytes()).unwrap();
    assert_eq!(other.parse::<Address>(), Err(AddressError::Hrp("bc".into())));
    let short = bech32::encode::<bech32::Bech32m>(hrp, &[0u8; 20]).unwrap();
    assert!(matches!(short.parse::<Address>(), Err(AddressError::Payload { len: 20, .. })));
    let v9 = bech32::encode::<bech32::Bech32m>(hrp, &[9u8; 33]).unwrap();
    assert!(matches!(v9.parse::<Address>(), Err(AddressError::Payload { version: 9, .. })));
    let mut typo = s.clone();
    typo.replace_range(10..11, if &s[10..11] == "q" { "p" } else { "q" });
    assert!(typo.parse::<Address>().is_err());
}

#[test]
fn shape_checks_name_the_problem() {
    let out = |v| TxOut { value: v, predicate: Predicate::After(0) };
    let inp = |i| TxIn { prev: OutPoint { tx: Hash32([1; 32]), index: i }, witness: Witness::Empty };
    let tx = |inputs, outputs| Transaction { version: 0, inputs, outputs };
    assert_eq!(tx(vec![], vec![out(5000)]).check_shape(1000), Err(TxShapeError::Empty));
    assert_eq!(tx(vec![inp(1), inp(0)], vec![out(5000)]).check_shape(1000), Err(TxShapeError::InputOrder));
    assert!(matches!(
        tx(vec![inp(0), inp(1), inp(0)], vec![out(5000)]).check_shape(1000),
        Err(TxShapeError::DuplicateInput(_))
    ));
    assert_eq!(tx(vec![inp(0)], vec![out(6000), out(5000)]).check_shape(1000), Err(TxShapeError::OutputOrder));
    assert!(matches!(tx(vec![inp(0)], vec![out(5)]).check_shape(1000), Err(TxShapeError::Dust { .. })));
    assert_eq!(tx(vec![inp(0)], vec![out(u64::MAX), out(u64::MAX)]).check_shape(1000), Err(TxShapeError::Overflow));
    let mut t = tx(vec![inp(1), inp(0)], vec![out(6000), out(5000)]);
    t.sort_canonical();
    t.check_shape(1000).unwrap();
    assert_eq!(Transaction { version: 1, ..t }.check_shape(1000), Err(TxShapeError::Version(1)));
}

#[test]
fn the_txid_ignores_witnesses_and_covers_everything_else() {
    let mut t = Transaction {
        version: 0,
        inputs: vec![TxIn { prev: OutPoint { tx: Hash32([1; 32]), index: 0 }, witness: Witness::Empty }],
        outputs: vec![TxOut { value: 5000, predicate: Predicate::After(0) }],
    };
    let id = t.txid();
    t.inputs[0].witness = Witness::Sig([9; 64]);
    assert_eq!(t.txid(), id);
    t.outputs[0].value += 1;
    assert_ne!(t.txid(), id);
}

fn arb_predicate() -> impl Strategy<Value = Predicate> {
    let leaf = prop_oneof![
        any::<[u8; 32]>().prop_map(|k| Predicate::Key(XOnly(k))),
        any::<u64>().prop_map(Predicate::After),
        any::<[u8; 32]>().prop_map(|h| Predicate::HashLock(Hash32(h))),
        any::<[u8; 32]>().prop_map(|h| Predicate::PredicateHash(Hash32(h))),
    ];
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 1..3).prop_map(Predicate::All),
            proptest::collection::vec(inner, 1..3).prop_map(Predicate::Any),
        ]
    })
}

proptest! {
    #[test]
    fn transactions_round_trip(ps in proptest::collection::vec(arb_predicate(), 1..4), v in 1000u64..1_000_000) {
        let tx = Transaction {
            version: 0,
            inputs: vec![TxIn { prev: OutPoint { tx: Hash32([2; 32]), index: 1 }, witness: Witness::Preimage(vec![1, 2]) }],
            outputs: ps.into_iter().map(|predicate| TxOut { value: v, predicate }).collect(),
        };
        let bytes = tx.encode();
        prop_assert_eq!(decode_canonical::<Transaction>(&bytes, MAX_TX_BYTES).unwrap(), tx);
    }

    /// The decoder of untrusted transaction bytes either refuses or returns a value that
    /// re-encodes to exactly those bytes.
    #[test]
    fn arbitrary_bytes_are_refused_or_canonical(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(tx) = decode_canonical::<Transaction>(&bytes, MAX_TX_BYTES) {
            prop_assert_eq!(tx.encode(), bytes);
        }
    }

    #[test]
    fn address_strings_round_trip_and_garbage_is_refused(k in any::<[u8; 32]>(), junk in "[a-z0-9]{0,70}") {
        for a in [Address::Key(XOnly(k)), Address::PredicateHash(Hash32(k))] {
            prop_assert_eq!(a.to_string().parse::<Address>().unwrap(), a);
        }
        let _ = format!("pc1{junk}").parse::<Address>();
    }

    #[test]
    fn a_signature_verifies_only_for_its_key_and_message(i in 0u8..8, m in any::<[u8; 32]>()) {
        let kp = key(i);
        let sig = sign_sighash(&kp, &m);
        prop_assert!(Bip340::verify(&XOnly::of(&kp), &m, &sig));
        prop_assert!(!Bip340::verify(&XOnly::of(&key(i + 1)), &m, &sig));
        let mut m2 = m;
        m2[0] ^= 1;
        prop_assert!(!Bip340::verify(&XOnly::of(&kp), &m2, &sig));
    }
}
