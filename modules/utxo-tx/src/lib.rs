//! PhantomCoin transactions, independent of any node: what wallets, signers and the UTXO module
//! share.
//!
//! - [`Transaction`]: inputs as outpoints with witnesses, outputs as a value and a
//!   [`Predicate`]; the id covers everything but the witnesses.
//! - [`Predicate`] / [`Witness`]: eUTXO predicates v0 — BIP-340 key, k-of-n keys, anchor-index
//!   lock, BLAKE3 hash lock, pay-to-predicate-hash, and `All` / `Any` combinations, with a cost
//!   limit.
//! - [`sighash`]: the one message every key signs, bound to the chain's genesis hash.
//! - [`Address`]: Bech32m with HRP `pc`.
//!
//! Rules and limits: `docs/spec/utxo.md`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod address;
mod predicate;
mod sign;
mod tx;

pub use address::{Address, AddressError, HRP};
pub use predicate::{
    MAX_BRANCHES, MAX_COST, MAX_DEPTH, MAX_KEYS, MAX_PREIMAGE, Predicate, PredicateError, SIG_COST, SigChecker,
    SpendCtx, Witness, hash_lock_digest, predicate_hash,
};
pub use sign::{
    Bip340, KeyError, Keypair, SecretKey, XOnly, keypair_from_seed, sign_sighash, sign_single_key, signed_transfer,
};
pub use tx::{
    DEFAULT_DUST, MAX_INPUTS, MAX_OUTPUTS, MAX_TX_BYTES, OutPoint, Transaction, TxIn, TxOut, TxShapeError, sighash,
};

/// Units per PC (1 PC = 100,000,000 units).
pub const UNITS_PER_PC: u64 = 100_000_000;
