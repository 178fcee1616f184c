//! `phantom-node bench-crypto`: one core's cost of every signature operation the chain uses,
//! measured in one run so the figures compare (docs/bench/crypto.md).

use crate::cli::BenchCryptoArgs;
use crate::commands::print;
use crate::error::NodeError;
use pc_crypto::bls::{self, BlsKey, BlsSecret, BlsSignature};
use pc_crypto::vrf::{self, COMMITTEE, VrfKeypair};
use pc_crypto::{Bip340, XOnly, keypair_from_seed, sign_prehashed};
use std::hint::black_box;
use std::time::Instant;

fn seed(i: u32) -> [u8; 32] {
    pc_codec::Domain::new("phantomcoin/v1/bench/crypto").hash(&i.to_le_bytes()).0
}

fn report(op: &str, n: u32, started: Instant) -> Result<(), NodeError> {
    let us = started.elapsed().as_secs_f64() * 1e6 / f64::from(n.max(1));
    print(&format!("op={op} n={n} us_per_op={us:.1} per_s={:.0}", 1e6 / us))
}

pub fn run(a: BenchCryptoArgs) -> Result<(), NodeError> {
    let n = a.iterations.max(1);
    let fail = |what: &str| NodeError::Usage(format!("bench-crypto: {what}"));
    let msg = [7u8; 32];

    let kp = keypair_from_seed(seed(0)).map_err(|e| NodeError::Usage(e.to_string()))?;
    let t = Instant::now();
    let mut sig = [0u8; 64];
    for i in 0..n {
        sig = sign_prehashed(&kp, &[i as u8; 32]);
    }
    report("bip340_sign", n, t)?;
    let sig = black_box(sig);
    let last = [(n - 1) as u8; 32];
    let t = Instant::now();
    for _ in 0..n {
        if !Bip340::verify(&XOnly::of(&kp), black_box(&last), &sig) {
            return Err(fail("a BIP-340 signature did not verify"));
        }
    }
    report("bip340_verify", n, t)?;

    let vk = VrfKeypair::from_seed(seed(1)).map_err(|e| fail(&e.to_string()))?;
    let t = Instant::now();
    let mut proof = None;
    for i in 0..n {
        proof = Some(vk.prove(COMMITTEE, &i.to_le_bytes()));
    }
    report("vrf_prove", n, t)?;
    let (p, score) = proof.ok_or_else(|| fail("no VRF proof"))?;
    let t = Instant::now();
    for _ in 0..n {
        if vrf::verify(&vk.public(), COMMITTEE, &(n - 1).to_le_bytes(), &p) != Ok(score) {
            return Err(fail("a VRF proof did not verify"));
        }
    }
    report("vrf_verify", n, t)?;

    let signers: Vec<BlsSecret> = (0..a.signers.max(1))
        .map(|i| BlsSecret::from_seed(seed(100 + i)))
        .collect::<Result<_, _>>()
        .map_err(|e| fail(&e.to_string()))?;
    let t = Instant::now();
    let mut one = None;
    for i in 0..n {
        one = Some(signers[0].sign(&i.to_le_bytes()));
    }
    report("bls_sign", n, t)?;
    let one = one.ok_or_else(|| fail("no BLS signature"))?;
    let pops: Vec<BlsSignature> = signers.iter().map(BlsSecret::prove_possession).collect();
    let t = Instant::now();
    let mut keys = Vec::with_capacity(signers.len());
    for (s, pop) in signers.iter().zip(&pops) {
        keys.push(BlsKey::with_possession(&s.public(), pop).map_err(|e| fail(&e.to_string()))?);
    }
    report("bls_key_with_possession", a.signers.max(1), t)?;
    let t = Instant::now();
    for _ in 0..n {
        keys[0].verify(&(n - 1).to_le_bytes(), &one).map_err(|e| fail(&e.to_string()))?;
    }
    report("bls_verify", n, t)?;
    let sigs: Vec<BlsSignature> = signers.iter().map(|s| s.sign(&msg)).collect();
    let rounds = (n / 10).max(1);
    let t = Instant::now();
    let mut agg = None;
    for _ in 0..rounds {
        agg = Some(bls::aggregate(&sigs).map_err(|e| fail(&e.to_string()))?);
    }
    report(&format!("bls_aggregate_{}", sigs.len()), rounds, t)?;
    let agg = agg.ok_or_else(|| fail("no aggregate"))?;
    let refs: Vec<&BlsKey> = keys.iter().collect();
    let t = Instant::now();
    for _ in 0..rounds {
        bls::fast_aggregate_verify(&refs, &msg, &agg).map_err(|e| fail(&e.to_string()))?;
    }
    report(&format!("bls_fast_aggregate_verify_{}", refs.len()), rounds, t)
}
