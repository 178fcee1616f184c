//! phantom-signer: the key holder.
//!
//! - [`Keystore`]: a BIP-39 mnemonic (the backup) whose entropy is stored encrypted with
//!   Argon2id + XChaCha20-Poly1305, and BIP-32 keys derived on one hardened branch per
//!   [`Purpose`]. A request names what it signs; a key of another purpose is refused.
//! - [`HsmConfig`]: the PKCS#11 backend — the entropy sealed by a non-extractable AES key in
//!   an HSM (cryptoki), unsealed only to derive a key for one signature.
//! - [`Protection`]: the slashing-protection record. A seat never signs two different events
//!   for one (seat, seq), and the record survives restarts.
//!
//! - [`pspt`]: partially-signed transaction files for watch-only and offline signing, and
//!   [`musig`]: n-of-n MuSig2 between signer processes, carried in them.
//! - [`service`]: the seat key behind a unix socket and a token, for phantom-node.
//! - [`wallet`]: balance and send over a node's JSON-RPC, signing with the spend keys.
//!
//! Design and file formats: `docs/signer.md`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
mod hsm;
mod keystore;
pub mod musig;
mod protection;
pub mod pspt;
pub mod service;
pub mod validator;
pub mod wallet;

pub use error::SignerError;
pub use hsm::HsmConfig;
pub use keystore::{KdfParams, Keystore, Purpose, Request};
pub use protection::{Protection, Slot};
