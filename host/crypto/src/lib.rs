//! The cryptographic floor every PhantomCoin crate may build on: no module, no binary, no I/O.
//!
//! - [`bip340`]: secp256k1 Schnorr (BIP-340) keys and signatures, what transactions and DAG
//!   events are signed with (one verification library for both).
//! - [`vrf`]: sr25519 VRF over schnorrkel: verifiable, ungrindable per-key scores under
//!   signing contexts of our own (committee selection, attestor sampling).
//! - [`bls`]: BLS12-381 in the min-pk setting over blst: 48-byte keys validated and bound to
//!   their owner by a proof of possession with its own domain tag, 96-byte signatures that
//!   aggregate, checked with `fast_aggregate_verify` (data-availability attestations).
//!
//! Why each scheme has its job, and the attacks each choice closes: `docs/bench/crypto.md`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod bip340;
pub mod bls;
pub mod vrf;

pub use bip340::{Bip340, KeyError, Keypair, SecretKey, XOnly, keypair_from_seed, sign_prehashed};
