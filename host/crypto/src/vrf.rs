//! sr25519 VRF over schnorrkel 0.11: a key proves an output for an input, anyone checks it, and
//! nobody (the key holder included) can choose the output once the key and input are fixed.
//!
//! Every use has its own signing context ([`VrfContext`]), so an output computed for one use
//! says nothing about another. Scores are integers read from the VRF output through
//! `make_bytes` with a context of our own; the identity key is refused (its output would be
//! the same for every input).

use parity_scale_codec::{Decode, Encode};
use schnorrkel::vrf::{VRFInOut, VRFPreOut, VRFProof};
use schnorrkel::{ExpansionMode, MiniSecretKey, PublicKey, signing_context};

/// The signing context of one use of the VRF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VrfContext(&'static [u8]);

/// Committee selection: a candidate's score for an epoch seed.
pub const COMMITTEE: VrfContext = VrfContext(b"phantomcoin/v1/vrf/committee");
/// Attestor sampling: an attestor's score for an anchor.
pub const ATTESTORS: VrfContext = VrfContext(b"phantomcoin/v1/vrf/attestors");
/// The context of `make_bytes` that turns a verified output into a score.
const SCORE: &[u8] = b"phantomcoin/v1/vrf/score";

/// An sr25519 public key (compressed Ristretto), validated when used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode)]
pub struct VrfPublic(pub [u8; 32]);

/// A VRF output with its proof: what a candidate publishes. The proof is randomised: the
/// output and the score are unique for key and input, the proof bytes are not, so never use
/// them (or a hash of them) as an identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub struct VrfProof {
    /// The VRF pre-output (a Ristretto point).
    pub output: [u8; 32],
    /// The DLEQ proof that `output` belongs to the key and the input.
    pub proof: [u8; 64],
}

/// Why a VRF key or proof was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VrfError {
    /// The identity point: its output would not depend on the input.
    #[error("the identity key is not a VRF key")]
    IdentityKey,
    /// Not a canonical Ristretto point.
    #[error("malformed VRF public key")]
    BadKey,
    /// Output or proof bytes that do not decode.
    #[error("malformed VRF output or proof")]
    Malformed,
    /// The proof does not match key, context and input.
    #[error("VRF proof does not verify")]
    Invalid,
}

/// A VRF key pair.
pub struct VrfKeypair(schnorrkel::Keypair);

impl std::fmt::Debug for VrfKeypair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("VrfKeypair").field(&self.public()).finish()
    }
}

impl VrfKeypair {
    /// The key pair of a 32-byte seed (schnorrkel's uniform expansion; Substrate tooling
    /// expands sr25519 seeds in Ed25519 mode, so keys here are not interchangeable with theirs).
    pub fn from_seed(seed: [u8; 32]) -> Result<Self, VrfError> {
        let mini = MiniSecretKey::from_bytes(&seed).map_err(|_| VrfError::BadKey)?;
        let kp = mini.expand_to_keypair(ExpansionMode::Uniform);
        if kp.public.to_bytes() == [0; 32] {
            return Err(VrfError::IdentityKey);
        }
        Ok(VrfKeypair(kp))
    }

    /// The public key.
    pub fn public(&self) -> VrfPublic {
        VrfPublic(self.0.public.to_bytes())
    }

    /// The output and proof for `msg` under `ctx`, with the score it gives.
    pub fn prove(&self, ctx: VrfContext, msg: &[u8]) -> (VrfProof, u128) {
        let (io, proof, _) = self.0.vrf_sign(signing_context(ctx.0).bytes(msg));
        (VrfProof { output: io.to_preout().to_bytes(), proof: proof.to_bytes() }, score(&io))
    }
}

fn score(io: &VRFInOut) -> u128 {
    u128::from_le_bytes(io.make_bytes::<[u8; 16]>(SCORE))
}

/// Checks that `key` can be registered as a VRF key: a canonical Ristretto point other than
/// the identity.
pub fn check_key(key: &VrfPublic) -> Result<(), VrfError> {
    public_key(key).map(drop)
}

fn public_key(key: &VrfPublic) -> Result<PublicKey, VrfError> {
    if key.0 == [0; 32] {
        return Err(VrfError::IdentityKey);
    }
    PublicKey::from_bytes(&key.0).map_err(|_| VrfError::BadKey)
}

/// Checks `proof` for `msg` under `ctx` and `key`; the score on success.
pub fn verify(key: &VrfPublic, ctx: VrfContext, msg: &[u8], proof: &VrfProof) -> Result<u128, VrfError> {
    let pk = public_key(key)?;
    let out = VRFPreOut::from_bytes(&proof.output).map_err(|_| VrfError::Malformed)?;
    let p = VRFProof::from_bytes(&proof.proof).map_err(|_| VrfError::Malformed)?;
    let (io, _) = pk.vrf_verify(signing_context(ctx.0).bytes(msg), &out, &p).map_err(|_| VrfError::Invalid)?;
    Ok(score(&io))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_proof_verifies_to_the_provers_score_and_nothing_else() {
        let kp = VrfKeypair::from_seed([3; 32]).unwrap();
        let (proof, score) = kp.prove(COMMITTEE, b"epoch seed");
        assert_eq!(verify(&kp.public(), COMMITTEE, b"epoch seed", &proof), Ok(score));
        // Another input, context or key: refused.
        assert_eq!(verify(&kp.public(), COMMITTEE, b"other seed", &proof), Err(VrfError::Invalid));
        assert_eq!(verify(&kp.public(), ATTESTORS, b"epoch seed", &proof), Err(VrfError::Invalid));
        let other = VrfKeypair::from_seed([4; 32]).unwrap();
        assert_eq!(verify(&other.public(), COMMITTEE, b"epoch seed", &proof), Err(VrfError::Invalid));
    }

    #[test]
    fn the_score_does_not_depend_on_the_proofs_randomness() {
        let kp = VrfKeypair::from_seed([5; 32]).unwrap();
        let (a, sa) = kp.prove(COMMITTEE, b"x");
        let (b, sb) = kp.prove(COMMITTEE, b"x");
        assert_eq!(sa, sb);
        assert_eq!(a.output, b.output);
        assert_ne!(kp.prove(COMMITTEE, b"y").1, sa);
    }

    #[test]
    fn identity_and_malformed_keys_are_refused() {
        let kp = VrfKeypair::from_seed([6; 32]).unwrap();
        let (proof, _) = kp.prove(COMMITTEE, b"x");
        assert_eq!(verify(&VrfPublic([0; 32]), COMMITTEE, b"x", &proof), Err(VrfError::IdentityKey));
        assert_eq!(verify(&VrfPublic([0xff; 32]), COMMITTEE, b"x", &proof), Err(VrfError::BadKey));
        assert_eq!(check_key(&VrfPublic([0; 32])), Err(VrfError::IdentityKey));
        assert_eq!(check_key(&VrfPublic([0xff; 32])), Err(VrfError::BadKey));
        assert_eq!(check_key(&kp.public()), Ok(()));
        // An output that is no point fails the proof; proof scalars that are not canonical do
        // not even decode.
        let bad = VrfProof { output: [0xff; 32], ..proof };
        assert_eq!(verify(&kp.public(), COMMITTEE, b"x", &bad), Err(VrfError::Invalid));
        let bad = VrfProof { proof: [0xff; 64], ..proof };
        assert_eq!(verify(&kp.public(), COMMITTEE, b"x", &bad), Err(VrfError::Malformed));
    }
}
