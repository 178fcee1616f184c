//! What a module learns about the anchor it runs in: DAG-logical facts only.

use crate::ChainConstants;
use pc_codec::{AnchorIndex, ConsensusTime, Encode, Hash32, SeatIndex, ShardId};

/// The finalized anchor being applied, with the consensus facts every node derives alike
/// from the finalized DAG (docs/spec/consensus.md §13).
#[derive(Debug, Clone, PartialEq, Eq, Encode)]
pub struct AnchorCtx {
    /// The shard this anchor finalizes.
    pub shard: ShardId,
    /// Position on the global anchor index (A0 = 0). Every protocol window counts these.
    pub index: AnchorIndex,
    /// The anchor's id (a finalized, unpredictable-before-finality value: usable as a seed).
    pub anchor_id: Hash32,
    /// The anchor's consensus time.
    pub consensus_time: ConsensusTime,
    /// The consensus epoch: the global index of its first anchor (0 at genesis).
    pub epoch: AnchorIndex,
    /// The seat whose event is the anchor (the proposer share goes to it).
    pub creator: SeatIndex,
    /// Bit s set: seat s created at least one event of this anchor's batch.
    pub creators: u64,
    /// Each seat's ack of the previous anchor, counted once per seat, sorted by seat.
    pub acks: Vec<Ack>,
}

/// A seat's first acknowledgement of the previous anchor (consensus.md §13).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode)]
pub struct Ack {
    /// The seat.
    pub seat: SeatIndex,
    /// 1 + the frames between the previous anchor and the seat's first event in this batch that
    /// descends from it: 1 is an ack within the anchor's own frame.
    pub distance: u64,
}

impl AnchorCtx {
    /// A context with no consensus facts (genesis, tools, tests): epoch 0, creator 0, no
    /// creators, no acks.
    pub fn bare(shard: ShardId, index: AnchorIndex, anchor_id: Hash32, consensus_time: ConsensusTime) -> AnchorCtx {
        AnchorCtx { shard, index, anchor_id, consensus_time, epoch: 0, creator: 0, creators: 0, acks: Vec::new() }
    }
}

/// What genesis (anchor A0) knows.
#[derive(Debug, Clone)]
pub struct GenesisCtx<'a> {
    /// Hash of the frozen (raw) chainspec.
    pub genesis_hash: Hash32,
    /// Network id from the chainspec, e.g. `phantom-dev`.
    pub network_id: &'a str,
    /// The chain's constants sheet.
    pub constants: &'a ChainConstants,
}
