//! Keys, proofs and signatures arrive from strangers (calls, gossip): arbitrary bytes must be
//! refused with an error, never panic, and never verify.
#![allow(clippy::unwrap_used)]

use pc_crypto::bls::{self, BlsKey, BlsPublic, BlsSecret, BlsSignature};
use pc_crypto::vrf::{self, COMMITTEE, VrfProof, VrfPublic};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_vrf_keys_and_proofs_never_verify(key in any::<[u8; 32]>(), out in any::<[u8; 32]>(),
            p1 in any::<[u8; 32]>(), p2 in any::<[u8; 32]>(), msg in any::<Vec<u8>>()) {
        let proof = VrfProof { output: out, proof: [p1, p2].concat().try_into().unwrap() };
        prop_assert!(vrf::verify(&VrfPublic(key), COMMITTEE, &msg, &proof).is_err());
    }

    #[test]
    fn arbitrary_bls_keys_and_signatures_are_refused(k1 in any::<[u8; 32]>(), k2 in any::<[u8; 16]>(),
            s in any::<[[u8; 32]; 3]>()) {
        let key = BlsPublic([&k1[..], &k2[..]].concat().try_into().unwrap());
        let sig = BlsSignature(s.concat().try_into().unwrap());
        prop_assert!(BlsKey::with_possession(&key, &sig).is_err());
        let honest = BlsSecret::from_seed([1; 32]).unwrap();
        let good = BlsKey::with_possession(&honest.public(), &honest.prove_possession()).unwrap();
        prop_assert!(good.verify(b"m", &sig).is_err());
        prop_assert!(bls::fast_aggregate_verify(&[&good], b"m", &sig).is_err());
        let _ = bls::aggregate(&[sig]);
    }
}
