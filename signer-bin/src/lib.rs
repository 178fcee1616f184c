//! phantom-signer: the key holder.
//!
//! - [`Keystore`]: a BIP-39 mnemonic (the backup) whose entropy is stored encrypted with
//!   Argon2id + XChaCha20-Poly1305, and BIP-32 keys derived on one hardened branch per
//!   [`Purpose`]. A request names what it signs; a key of another purpose is refused.
//! - [`Protection`]: the slashing-protection record. A seat never signs two different events
//!   for one (seat, seq), and the record survives restarts.
//!
//! - [`service`]: the seat key behind a unix socket and a token, for phantom-node.
//! - [`wallet`]: balance and send over a node's JSON-RPC, signing with the spend keys.
//!
//! Design and file formats: `docs/signer.md`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
mod keystore;
mod protection;
pub mod service;
pub mod wallet;

pub use error::SignerError;
pub use keystore::{KdfParams, Keystore, Purpose, Request};
pub use protection::{Protection, Slot};
