//! PSPT files as untrusted input, and a three-party MuSig2 session in one process.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pc_codec::Hash32;
use pc_utxo_tx::{Address, Bip340, OutPoint, Transaction, TxIn, TxOut, Witness};
use phantom_signer::musig::{self, NonceStore};
use phantom_signer::pspt::{Input, Pspt};
use phantom_signer::{KdfParams, Keystore, Purpose, SignerError};
use proptest::prelude::*;
use std::path::PathBuf;

fn ks(dir: &std::path::Path, name: &str) -> (PathBuf, Keystore) {
    let p = dir.join(name);
    let (k, _) = Keystore::create(&p, "pw", KdfParams { m_kib: 64, t: 1, p: 1 }).unwrap();
    (p, k)
}

fn pspt_paying_from(from: &Address) -> Pspt {
    let prev = OutPoint { tx: Hash32([3; 32]), index: 1 };
    let tx = Transaction {
        version: 0,
        inputs: vec![TxIn { prev, witness: Witness::Empty }],
        outputs: vec![TxOut { value: 5_000, predicate: from.predicate() }],
    };
    let input = Input { prev, value: 9_000, predicate: from.predicate(), reveal: None, preimage: None };
    Pspt::new(&Hash32([1; 32]), tx, &[input])
}

#[test]
fn three_signers_make_one_bip340_signature_and_a_nonce_is_used_once() {
    let dir = tempfile::tempdir().unwrap();
    let parties: Vec<(PathBuf, Keystore)> = ["a", "b", "c"].iter().map(|n| ks(dir.path(), n)).collect();
    let keys: Vec<_> = parties.iter().map(|(_, k)| k.keypair(Purpose::Spend, 0).unwrap().public_key()).collect();
    let agg = musig::aggregate_address(&keys).unwrap();
    let mut p = pspt_paying_from(&agg);
    musig::add_session(&mut p, &keys).unwrap();
    let stores: Vec<NonceStore> = parties.iter().map(|(path, k)| NonceStore::beside(path, k).unwrap()).collect();
    for ((_, k), store) in parties.iter().zip(&stores) {
        musig::nonce_round(&mut p, k, store, 0).unwrap();
    }
    let before_sign = p.clone();
    for ((_, k), store) in parties.iter().zip(&stores) {
        musig::sign_round(&mut p, k, store, 0).unwrap();
    }
    assert_eq!(musig::aggregate(&mut p).unwrap(), 1);
    let Address::Key(agg_key) = agg else { panic!("an aggregate is a key address") };
    let sig = p.signatures[&hex::encode(agg_key.0)].clone();
    let sig: [u8; 64] = hex::decode(sig).unwrap().try_into().unwrap();
    assert!(Bip340::verify(&agg_key, &p.sighash().unwrap(), &sig), "plain BIP-340 under the aggregate key");
    assert!(matches!(p.finalize().unwrap().inputs[0].witness, Witness::Sig(_)));

    // Round 2 again from the same nonces: the secret nonce is gone.
    let mut replay = before_sign;
    let e = musig::sign_round(&mut replay, &parties[0].1, &stores[0], 0).unwrap_err();
    assert!(e.to_string().contains("no secret nonce"), "{e}");
    // A forged partial signature is caught at aggregation.
    let mut forged = p.clone();
    forged.signatures.clear();
    let first = forged.musig[0].keys[0].clone();
    forged.musig[0].partials.insert(first, "11".repeat(32));
    assert!(musig::aggregate(&mut forged).is_err());
}

#[test]
fn tampered_and_mismatched_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, k) = ks(dir.path(), "k");
    let from = Address::Key(k.public_key(Purpose::Spend, 0).unwrap());
    let mut p = pspt_paying_from(&from);
    phantom_signer::wallet::sign(&mut p, &k, 1).unwrap();
    let path = dir.path().join("p.pspt");
    p.save(&path).unwrap();
    assert_eq!(Pspt::load(&path).unwrap(), p);

    let mut bad = p.clone();
    let key = bad.signatures.keys().next().unwrap().clone();
    bad.signatures.insert(key, "00".repeat(64));
    bad.save(&path).unwrap();
    assert!(matches!(Pspt::load(&path), Err(SignerError::Pspt(m)) if m.contains("does not verify")));

    let mut other_tx = pspt_paying_from(&Address::Key(k.public_key(Purpose::Spend, 1).unwrap()));
    assert!(other_tx.combine(&p).unwrap_err().to_string().contains("different transactions"));
    let mut other_net = p.clone();
    other_net.genesis = Hash32([2; 32]).to_hex();
    assert!(other_net.combine(&p).unwrap_err().to_string().contains("another network"));
    let mut incomplete = p.clone();
    incomplete.signatures.clear();
    assert!(incomplete.finalize().unwrap_err().to_string().contains("lacks signatures"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    /// Any single-byte change to a valid file either fails to load with an error or loads as a
    /// file that passes every check; nothing panics.
    #[test]
    fn a_corrupted_file_is_an_error_or_a_valid_pspt(pos in 0usize..2000, byte in any::<u8>()) {
        let p = pspt_paying_from(&Address::Key(pc_utxo_tx::XOnly([7; 32])));
        let mut json = serde_json::to_vec(&p).unwrap();
        let i = pos % json.len();
        json[i] = byte;
        if let Ok(q) = serde_json::from_slice::<Pspt>(&json)
            && q.check().is_ok()
        {
            prop_assert!(q.transaction().is_ok() && q.parsed_inputs().is_ok());
        }
    }

    /// Arbitrary bytes never panic the decoder.
    #[test]
    fn arbitrary_bytes_are_refused_cleanly(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(q) = serde_json::from_slice::<Pspt>(&bytes) {
            let _ = q.check();
        }
    }
}
