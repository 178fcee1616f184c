//! BIP-340 keys and signatures through the `secp256k1` crate.

use parity_scale_codec::{Decode, Encode};
use secp256k1::{XOnlyPublicKey, schnorr};
use std::fmt;

pub use secp256k1::{Keypair, SecretKey};

/// A BIP-340 x-only public key as bytes (validated when used: a key that is not on the curve
/// verifies nothing).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode)]
pub struct XOnly(pub [u8; 32]);

impl fmt::Debug for XOnly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "XOnly(")?;
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

impl XOnly {
    /// The x-only key of a key pair.
    pub fn of(kp: &Keypair) -> Self {
        XOnly(kp.x_only_public_key().0.to_byte_array())
    }

    /// Whether the bytes are an x-only point on the curve (a key that can verify anything).
    pub fn is_valid(&self) -> bool {
        XOnlyPublicKey::from_byte_array(self.0).is_ok()
    }
}

/// A key could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid secret key: {0}")]
pub struct KeyError(String);

/// The key pair for 32 secret bytes (dev keys, tests, the signer's derived keys).
pub fn keypair_from_seed(secret: [u8; 32]) -> Result<Keypair, KeyError> {
    Keypair::from_secret_bytes(secret).map_err(|e| KeyError(e.to_string()))
}

/// Signs a 32-byte message (a sighash or an event id) with BIP-340 without auxiliary
/// randomness: the nonce comes from key and message alone, as BIP-340 permits.
pub fn sign_prehashed(kp: &Keypair, msg: &[u8; 32]) -> [u8; 64] {
    schnorr::sign_no_aux_rand(msg, kp).to_byte_array()
}

/// Plain BIP-340 verification.
#[derive(Debug, Clone, Copy, Default)]
pub struct Bip340;

impl Bip340 {
    /// Verifies one signature; false for a key that is not a valid x-only point.
    pub fn verify(key: &XOnly, msg: &[u8], sig: &[u8; 64]) -> bool {
        let Ok(pk) = XOnlyPublicKey::from_byte_array(key.0) else { return false };
        schnorr::verify(&schnorr::Signature::from_byte_array(*sig), msg, &pk).is_ok()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_for_its_key_and_message() {
        let kp = keypair_from_seed([7; 32]).unwrap();
        let msg = [1u8; 32];
        let sig = sign_prehashed(&kp, &msg);
        assert!(Bip340::verify(&XOnly::of(&kp), &msg, &sig));
        assert!(!Bip340::verify(&XOnly::of(&kp), &[2u8; 32], &sig));
        let other = keypair_from_seed([8; 32]).unwrap();
        assert!(!Bip340::verify(&XOnly::of(&other), &msg, &sig));
        assert!(!Bip340::verify(&XOnly([0xff; 32]), &msg, &sig), "not a curve point");
    }

    #[test]
    fn a_zero_secret_is_refused() {
        assert!(keypair_from_seed([0; 32]).is_err());
    }
}
