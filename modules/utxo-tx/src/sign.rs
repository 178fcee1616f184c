//! BIP-340 keys and signatures through the `secp256k1` crate.

use crate::predicate::SigChecker;
use pc_codec::{Decode, Encode};
use secp256k1::{Keypair, XOnlyPublicKey, schnorr};
use std::fmt;

pub use secp256k1::SecretKey;

/// A BIP-340 x-only public key, as stored in predicates (validated when used).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode)]
pub struct XOnly(pub [u8; 32]);

impl fmt::Debug for XOnly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "XOnly({})", hex_string(&self.0))
    }
}

fn hex_string(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A key could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid secret key: {0}")]
pub struct KeyError(String);

/// The key pair for 32 secret bytes (dev keys, tests, the signer's derived keys).
pub fn keypair_from_seed(secret: [u8; 32]) -> Result<Keypair, KeyError> {
    Keypair::from_secret_bytes(secret).map_err(|e| KeyError(e.to_string()))
}

impl XOnly {
    /// The x-only key of a key pair.
    pub fn of(kp: &Keypair) -> Self {
        XOnly(kp.x_only_public_key().0.to_byte_array())
    }
}

/// Signs a sighash (BIP-340 with auxiliary randomness derived deterministically from the key and
/// message, as BIP-340 permits when no RNG is at hand).
pub fn sign_sighash(kp: &Keypair, sighash: &[u8; 32]) -> [u8; 64] {
    schnorr::sign_no_aux_rand(sighash, kp).to_byte_array()
}

/// Plain BIP-340 verification.
#[derive(Debug, Clone, Copy, Default)]
pub struct Bip340;

impl Bip340 {
    /// Verifies one signature.
    pub fn verify(key: &XOnly, msg: &[u8], sig: &[u8; 64]) -> bool {
        let Ok(pk) = XOnlyPublicKey::from_byte_array(key.0) else { return false };
        schnorr::verify(&schnorr::Signature::from_byte_array(*sig), msg, &pk).is_ok()
    }
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
