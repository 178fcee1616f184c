//! Authenticated state for PhantomCoin.
//!
//! Module state is a flat ordered key space (`module/item/key` → SCALE bytes) kept in the
//! store's `State` column. Its commitment is a lattice hash over the entries ([`Accumulator`]):
//! committing an anchor costs one hash vector per changed entry, computed in parallel, so the
//! cost of the state root grows with the writes, never with the size of the state.
//!
//! An anchor's writes, the new accumulator and the new [`Head`] commit in one atomic batch
//! ([`StateDb::prepare`] then [`Prepared::commit`]), so a node killed at any point reopens at
//! its last committed anchor.
//!
//! Keys that start with [`AUX_KEY_PREFIX`] are auxiliary (indexes a module keeps for its RPC):
//! they go through the same overlay, checkpoints and atomic commit, but live in the `Aux`
//! column and never enter the commitment, so they cost no hashing and are not part of the root.
//!
//! Committed values are read through a [`ReadCache`] that every commit writes through; one
//! [`StateDb`] (cloned as needed) must own a store: a second one's cache would go stale, and its
//! commits would not take the commit lock that keeps the accumulator's read-update-write whole.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod cache;
mod commitment;
mod db;
mod error;
pub mod snapshot;
mod txn;

pub use cache::ReadCache;
pub use commitment::{ACCUMULATOR_BYTES, Accumulator, empty_state_root};
pub use db::{AUX_KEY_PREFIX, DEFAULT_STATE_CACHE_ENTRIES, Head, Prepared, STATE_FORMAT, StateDb};
pub use error::StateError;
pub use txn::{StateTxn, Writes};
