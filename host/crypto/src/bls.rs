//! BLS12-381 signatures in the min-pk setting (48-byte public keys in G1, 96-byte signatures in
//! G2) over blst, for data-availability attestations that aggregate into one signature.
//!
//! Aggregating signatures over one message is safe only for keys whose owners proved they hold
//! the secret (otherwise a rogue key chosen as a function of honest keys forges an aggregate).
//! So a key enters use through [`BlsKey::with_possession`]: it must be a valid point of the
//! prime-order subgroup, not the identity, and come with a proof of possession, a signature
//! over the key bytes under its own domain tag ([`POP_DST`]) that no attestation signature
//! ([`SIG_DST`]) can stand in for.
//!
//! For the modules that use it: a proof of possession is public and names no owner, so a
//! registry must refuse a key that is already registered (or anyone could register a copy of
//! an honest key and be credited for its signatures). [`aggregate`] checks that each signature
//! is a valid point, not that it verifies: an aggregator checks each contribution with
//! [`BlsKey::verify`] first, or one bad signature spoils the aggregate without saying whose it
//! was. Keys read back from state whose proof was checked at registration are rebuilt with
//! [`BlsKey::registered`].

use blst::BLST_ERROR;
use blst::min_pk::{AggregateSignature, PublicKey, SecretKey, Signature};
use parity_scale_codec::{Decode, Encode};

/// Hash-to-curve domain of attestation signatures (the proof-of-possession ciphersuite).
pub const SIG_DST: &[u8] = b"PHANTOMCOIN-V1-BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_";
/// Hash-to-curve domain of proofs of possession.
pub const POP_DST: &[u8] = b"PHANTOMCOIN-V1-BLS_POP_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_";

/// A compressed public key as bytes (validate with [`BlsKey::with_possession`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode)]
pub struct BlsPublic(pub [u8; 48]);

/// A compressed signature, one or aggregated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub struct BlsSignature(pub [u8; 96]);

/// Why a key or signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlsError {
    /// Not a valid point of the subgroup, or the identity.
    #[error("invalid BLS public key")]
    BadKey,
    /// The proof of possession does not verify.
    #[error("the proof of possession does not verify")]
    NoPossession,
    /// Not a valid signature point.
    #[error("malformed BLS signature")]
    BadSignature,
    /// The signature does not verify for these keys and message.
    #[error("BLS signature does not verify")]
    Invalid,
    /// Nothing to aggregate or verify against.
    #[error("no signatures or keys")]
    Empty,
    /// One key listed twice: it would count twice in an aggregate.
    #[error("a key is listed twice")]
    DuplicateKey,
    /// Key material that blst refused.
    #[error("BLS key generation failed")]
    KeyGen,
}

fn ok(e: BLST_ERROR) -> bool {
    e == BLST_ERROR::BLST_SUCCESS
}

/// A secret key.
pub struct BlsSecret(SecretKey);

impl std::fmt::Debug for BlsSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("BlsSecret").field(&self.public()).finish()
    }
}

impl BlsSecret {
    /// The key of 32 bytes of input key material (IETF KeyGen).
    pub fn from_seed(ikm: [u8; 32]) -> Result<Self, BlsError> {
        SecretKey::key_gen(&ikm, &[]).map(BlsSecret).map_err(|_| BlsError::KeyGen)
    }

    /// The public key.
    pub fn public(&self) -> BlsPublic {
        BlsPublic(self.0.sk_to_pk().compress())
    }

    /// A signature over `msg` (attestation domain).
    pub fn sign(&self, msg: &[u8]) -> BlsSignature {
        BlsSignature(self.0.sign(msg, SIG_DST, &[]).compress())
    }

    /// The proof of possession of this key: a signature over its bytes in the PoP domain.
    pub fn prove_possession(&self) -> BlsSignature {
        BlsSignature(self.0.sign(&self.public().0, POP_DST, &[]).compress())
    }
}

/// A public key that passed validation (and its proof of possession, at registration): the
/// only form that verification and aggregation accept.
#[derive(Debug, Clone)]
pub struct BlsKey {
    key: PublicKey,
    bytes: BlsPublic,
}

impl PartialEq for BlsKey {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

fn signature(sig: &BlsSignature) -> Result<Signature, BlsError> {
    Signature::sig_validate(&sig.0, true).map_err(|_| BlsError::BadSignature)
}

impl BlsKey {
    /// Validates `key` (subgroup, not the identity) and its proof of possession.
    pub fn with_possession(key: &BlsPublic, pop: &BlsSignature) -> Result<Self, BlsError> {
        let pk = PublicKey::key_validate(&key.0).map_err(|_| BlsError::BadKey)?;
        let proof = signature(pop)?;
        if !ok(proof.verify(false, &key.0, POP_DST, &[], &pk, false)) {
            return Err(BlsError::NoPossession);
        }
        Ok(BlsKey { key: pk, bytes: *key })
    }

    /// A key whose proof of possession was checked when it was registered, read back from
    /// state: validated again as a point (cheap next to the proof's pairing), proof not
    /// rechecked. Never for a key that did not go through [`with_possession`](Self::with_possession).
    pub fn registered(key: &BlsPublic) -> Result<Self, BlsError> {
        let pk = PublicKey::key_validate(&key.0).map_err(|_| BlsError::BadKey)?;
        Ok(BlsKey { key: pk, bytes: *key })
    }

    /// The key's bytes.
    pub fn public(&self) -> BlsPublic {
        self.bytes
    }

    /// Checks one signature over `msg`.
    pub fn verify(&self, msg: &[u8], sig: &BlsSignature) -> Result<(), BlsError> {
        let s = signature(sig)?;
        if ok(s.verify(false, msg, SIG_DST, &[], &self.key, false)) { Ok(()) } else { Err(BlsError::Invalid) }
    }
}

/// Aggregates signatures (each checked to be a valid point) into one.
pub fn aggregate(sigs: &[BlsSignature]) -> Result<BlsSignature, BlsError> {
    if sigs.is_empty() {
        return Err(BlsError::Empty);
    }
    let parsed = sigs.iter().map(signature).collect::<Result<Vec<_>, _>>()?;
    let refs: Vec<&Signature> = parsed.iter().collect();
    let agg = AggregateSignature::aggregate(&refs, false).map_err(|_| BlsError::BadSignature)?;
    Ok(BlsSignature(agg.to_signature().compress()))
}

/// Checks that `agg` aggregates one signature over `msg` by each of `keys` (the attestation
/// check: every key has proved possession, so one pairing pair suffices for all of them). A
/// key listed twice is refused: it would count two signers for one.
pub fn fast_aggregate_verify(keys: &[&BlsKey], msg: &[u8], agg: &BlsSignature) -> Result<(), BlsError> {
    if keys.is_empty() {
        return Err(BlsError::Empty);
    }
    let mut seen: Vec<&BlsPublic> = keys.iter().map(|k| &k.bytes).collect();
    seen.sort();
    if seen.windows(2).any(|w| w[0] == w[1]) {
        return Err(BlsError::DuplicateKey);
    }
    let s = signature(agg)?;
    let pks: Vec<&PublicKey> = keys.iter().map(|k| &k.key).collect();
    if ok(s.fast_aggregate_verify(false, msg, SIG_DST, &pks)) { Ok(()) } else { Err(BlsError::Invalid) }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn member(i: u8) -> (BlsSecret, BlsKey) {
        let sk = BlsSecret::from_seed([i; 32]).unwrap();
        let key = BlsKey::with_possession(&sk.public(), &sk.prove_possession()).unwrap();
        (sk, key)
    }

    #[test]
    fn an_aggregate_verifies_for_exactly_its_signers() {
        let m: Vec<_> = (1..=4).map(member).collect();
        let msg = b"anchor 7 of shard 0";
        let agg = aggregate(&m.iter().map(|(sk, _)| sk.sign(msg)).collect::<Vec<_>>()).unwrap();
        let keys: Vec<&BlsKey> = m.iter().map(|(_, k)| k).collect();
        assert_eq!(fast_aggregate_verify(&keys, msg, &agg), Ok(()));
        assert_eq!(fast_aggregate_verify(&keys[..3], msg, &agg), Err(BlsError::Invalid));
        assert_eq!(fast_aggregate_verify(&keys, b"another anchor", &agg), Err(BlsError::Invalid));
        // A signer listed twice against a doubled signature: refused, not counted twice.
        let doubled = aggregate(&[m[0].0.sign(msg), m[0].0.sign(msg)]).unwrap();
        assert_eq!(fast_aggregate_verify(&[keys[0], keys[0]], msg, &doubled), Err(BlsError::DuplicateKey));
        // A registered key rebuilt from state verifies the same.
        let again = BlsKey::registered(&keys[1].public()).unwrap();
        assert_eq!(fast_aggregate_verify(&[keys[0], &again, keys[2], keys[3]], msg, &agg), Ok(()));
        assert_eq!(BlsKey::registered(&BlsPublic([0; 48])), Err(BlsError::BadKey));
        m[0].1.verify(msg, &m[0].0.sign(msg)).unwrap();
    }

    #[test]
    fn a_key_without_its_proof_of_possession_is_refused() {
        let (a, _) = member(1);
        let (b, _) = member(2);
        assert_eq!(BlsKey::with_possession(&a.public(), &b.prove_possession()), Err(BlsError::NoPossession));
        // An attestation signature over the key bytes is not a proof: the domains differ.
        assert_eq!(BlsKey::with_possession(&a.public(), &a.sign(&a.public().0)), Err(BlsError::NoPossession));
    }

    #[test]
    fn invalid_points_are_refused() {
        let (a, _) = member(1);
        assert_eq!(BlsKey::with_possession(&BlsPublic([0; 48]), &a.prove_possession()), Err(BlsError::BadKey));
        // The compressed identity (point at infinity) of G1.
        let mut inf = [0u8; 48];
        inf[0] = 0xc0;
        assert_eq!(BlsKey::with_possession(&BlsPublic(inf), &a.prove_possession()), Err(BlsError::BadKey));
        assert_eq!(aggregate(&[BlsSignature([0xff; 96])]), Err(BlsError::BadSignature));
        assert_eq!(aggregate(&[]), Err(BlsError::Empty));
    }
}
