//! What a module learns about the anchor it runs in: DAG-logical facts only.

use crate::ChainConstants;
use pc_codec::{AnchorIndex, ConsensusTime, Encode, Hash32, ShardId};

/// The finalized anchor being applied.
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
