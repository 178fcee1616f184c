//! PhantomCoin consensus: a leaderless DAG with asynchronous BFT finality, as a pure state
//! machine. No I/O, no clock, no async runtime, no global randomness: the same accepted events
//! in any order give the same anchors on every node. The protocol is specified in
//! `docs/spec/consensus.md`; section numbers below refer to it.
//!
//! Inputs are signed events whose payload the caller already holds (pull-then-vote, §3).
//! Outputs are finalized anchors with their ordered event batches (§6) and equivocation
//! evidence (§8).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod dag;
mod election;
mod engine;
mod event;
mod fetch;

pub use engine::{AnchorBatch, Config, ConfigError, Engine, InsertError, MAX_EVENTS_PER_FRAME, Output, Stats};
pub use event::{EVENT_DOMAIN, Equivocation, Event, MAX_EVENT_BYTES, SignatureVerifier, SignedEvent};
pub use fetch::{Fetch, MIN_SEAT_SHARE, Origin, PENDING_CAP, Pull};
