//! Signing transactions: BIP-340 from `pc_crypto`, wired to the predicates' signature checks.

use crate::predicate::SigChecker;

pub use pc_crypto::{Bip340, KeyError, Keypair, SecretKey, XOnly, keypair_from_seed};

/// Signs a sighash (BIP-340, `pc_crypto::sign_prehashed`).
pub fn sign_sighash(kp: &Keypair, sighash: &[u8; 32]) -> [u8; 64] {
    pc_crypto::sign_prehashed(kp, sighash)
}

impl SigChecker for Bip340 {
    fn check(&self, key: &XOnly, msg: &[u8; 32], sig: &[u8; 64]) -> bool {
        Bip340::verify(key, msg, sig)
    }
}

/// Fills every input's witness with `kp`'s signature (for inputs locked by `Predicate::Key` of
/// that key), after putting the transaction in canonical order: the common single-key wallet
/// case.
pub fn sign_single_key(tx: &mut crate::Transaction, genesis_hash: &pc_codec::Hash32, kp: &Keypair) {
    tx.sort_canonical();
    let msg = crate::sighash(genesis_hash, &tx.txid());
    let sig = sign_sighash(kp, &msg);
    for input in &mut tx.inputs {
        input.witness = crate::Witness::Sig(sig);
    }
}

/// A transfer of `inputs`, all locked by `kp`'s key, into `outputs`, put in canonical order and
/// signed for the chain with `genesis_hash`.
pub fn signed_transfer(
    genesis_hash: &pc_codec::Hash32,
    kp: &Keypair,
    inputs: &[crate::OutPoint],
    outputs: Vec<crate::TxOut>,
) -> crate::Transaction {
    let mut tx = crate::Transaction {
        version: 0,
        inputs: inputs.iter().map(|p| crate::TxIn { prev: *p, witness: crate::Witness::Empty }).collect(),
        outputs,
    };
    sign_single_key(&mut tx, genesis_hash, kp);
    tx
}
