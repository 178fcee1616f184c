//! Small DAG-logical quantities shared by every crate. None of them is a wall-clock time.

use parity_scale_codec::{Decode, Encode};

/// Position of a finalized anchor on the global anchor index (genesis A0 is 0).
pub type AnchorIndex = u64;
/// A shard number, `0..S`.
pub type ShardId = u16;
/// A committee seat, `0..k` with `k <= 64` so that a seat set fits one `u64` mask.
pub type SeatIndex = u8;

/// Consensus time: derived only from the DAG, never from a clock.
///
/// Ordered first by the global index of the anchor that finalized an event, then by the event's
/// Lamport number; ties beyond that are broken by a hash the creator cannot grind (see
/// `docs/spec/consensus.md`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    Encode,
    Decode,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct ConsensusTime {
    /// Global index of the finalizing anchor.
    pub anchor: AnchorIndex,
    /// Lamport number of the event: 1 + the highest Lamport number among its parents.
    pub lamport: u64,
}
