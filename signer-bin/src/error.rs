//! The signer's errors: each one leaves every file as it was.

use crate::Purpose;

/// Why the signer refused.
#[derive(Debug, thiserror::Error)]
pub enum SignerError {
    /// `init`/`restore` would overwrite a keystore.
    #[error("{0}: a keystore already exists; refusing to overwrite it")]
    Exists(String),
    /// Decryption failed: the password is wrong (or the ciphertext was altered).
    #[error("wrong password (or the keystore's encrypted part was altered)")]
    WrongPassword,
    /// The keystore file is not one.
    #[error("{path}: corrupt keystore: {why}")]
    Corrupt {
        /// The file.
        path: String,
        /// What is wrong.
        why: String,
    },
    /// A mnemonic that does not parse.
    #[error("invalid mnemonic: {0}")]
    Mnemonic(String),
    /// A key of one purpose asked to sign another purpose's message.
    #[error("a {key} key cannot sign {request}")]
    Purpose {
        /// The key's purpose.
        key: Purpose,
        /// What was to be signed.
        request: &'static str,
    },
    /// The slashing-protection record holds another event for this slot.
    #[error("refusing to sign: {slot} already holds the signed event {signed}")]
    DoubleSign {
        /// The slot.
        slot: crate::Slot,
        /// The event signed before.
        signed: String,
    },
    /// The spendable outputs do not cover the amount and the fee.
    #[error("insufficient funds: {have} spendable units, {need} needed (amount + fee)")]
    InsufficientFunds {
        /// Spendable units.
        have: u64,
        /// Amount plus fee (at least).
        need: u64,
    },
    /// The signing service refused to sign (slashing protection).
    #[error("the signer refused: {0}")]
    Refused(String),
    /// The signing service could not be reached, or answered something else.
    #[error("signing service: {0}")]
    Service(String),
    /// The PKCS#11 module, token or key failed or is missing.
    #[error("hsm: {0}")]
    Hsm(String),
    /// A PSPT file is malformed, incomplete or for another network or transaction.
    #[error("pspt: {0}")]
    Pspt(String),
    /// A MuSig2 step cannot be taken.
    #[error("musig2: {0}")]
    Musig(String),
    /// The node refused or could not be reached.
    #[error("node: {0}")]
    Node(String),
    /// Key derivation or encryption failed.
    #[error("crypto: {0}")]
    Crypto(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
}

pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> SignerError + '_ {
    move |source| SignerError::Io { path: path.display().to_string(), source }
}
