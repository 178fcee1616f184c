//! What the runtime stores per anchor: the anchor record and its events.

use pc_codec::{ConsensusTime, Decode, Domain, Encode, Hash32, Identified, ShardId, merkle};
use pc_runtime_api::{AnchorCtx, Call, ModuleEvent};

/// Module name under which the host emits its own events.
pub const SYSTEM_EVENTS: &str = "system";

/// A finalized anchor handed to the runtime: its context and its calls in total order.
#[derive(Debug, Clone)]
pub struct AnchorInput {
    /// DAG-logical facts of the anchor.
    pub ctx: AnchorCtx,
    /// The calls of the anchor's batch, already in consensus order.
    pub calls: Vec<Call>,
}

/// The stored summary of an applied anchor, keyed by its global index.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct AnchorRecord {
    /// Global anchor index.
    pub index: u64,
    /// Anchor id.
    pub anchor_id: Hash32,
    /// Shard.
    pub shard: ShardId,
    /// Consensus time of the anchor.
    pub consensus_time: ConsensusTime,
    /// State root after the anchor.
    pub state_root: Hash32,
    /// Merkle root over the ids of the anchor's events, in emission order.
    pub events_root: Hash32,
    /// Calls in the anchor.
    pub calls: u32,
    /// Calls dropped (invalid in finalized order).
    pub dropped: u32,
}

impl Identified for AnchorRecord {
    const DOMAIN: Domain = Domain::new("phantomcoin/v1/runtime/anchor-record");
}

impl AnchorRecord {
    /// Storage key: the index big-endian, so anchors iterate in order.
    pub fn key(index: u64) -> [u8; 8] {
        index.to_be_bytes()
    }
}

/// One stored event: (anchor, index) locate it; `module` and `name` type it.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct EventRecord {
    /// Global anchor index.
    pub anchor: u64,
    /// Position among the anchor's events (emission order across the hook chain).
    pub index: u32,
    /// Emitting module (or [`SYSTEM_EVENTS`]).
    pub module: String,
    /// Event type name.
    pub name: String,
    /// SCALE-encoded body.
    pub data: Vec<u8>,
}

impl Identified for EventRecord {
    const DOMAIN: Domain = Domain::new("phantomcoin/v1/runtime/event");
}

impl EventRecord {
    /// Storage key: anchor and index big-endian.
    pub fn key(anchor: u64, index: u32) -> [u8; 12] {
        let mut k = [0u8; 12];
        k[..8].copy_from_slice(&anchor.to_be_bytes());
        k[8..].copy_from_slice(&index.to_be_bytes());
        k
    }
}

/// The events root of an anchor.
pub(crate) fn events_root(events: &[EventRecord]) -> Hash32 {
    let leaves: Vec<Hash32> = events.iter().map(|e| merkle::leaf_hash(&e.id().0)).collect();
    merkle::root(&leaves)
}

/// System event: a finalized call was invalid in its place in the total order and was dropped.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct CallDropped {
    /// Key of the dropped call (its module's call key, e.g. a transaction id).
    pub call_id: Hash32,
    /// Its target module.
    pub module: String,
    /// Stable error code (`<module>.<what>`). The human-readable reason is logged and kept in
    /// the node's call index ([`CallRecord`]), but not hashed into the chain: rewording a
    /// message must not change a root.
    pub code: String,
}

impl ModuleEvent for CallDropped {
    const NAME: &'static str = "CallDropped";
}

/// Where a finalized call landed, kept by call key in the node's call index (not part of the
/// state root: it serves `tx_status` / `tx_get`).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct CallRecord {
    /// Global index of the anchor that finalized it.
    pub anchor: u64,
    /// Position among the anchor's calls.
    pub position: u32,
    /// Applied, or dropped with its code and reason.
    pub outcome: CallOutcome,
    /// The call itself.
    pub call: Call,
}

/// How a finalized call ended.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum CallOutcome {
    /// Its effects are in the state.
    Applied,
    /// It was invalid in its place in the total order.
    Dropped {
        /// Stable code.
        code: String,
        /// Human-readable reason.
        reason: String,
    },
}

/// The result of applying an anchor.
#[derive(Debug, Clone)]
pub struct AnchorOutcome {
    /// The stored record.
    pub record: AnchorRecord,
    /// The anchor's events.
    pub events: Vec<EventRecord>,
    /// The key of every call, in the anchor's order (applied or dropped).
    pub keys: Vec<Hash32>,
    /// The keys of the calls that applied.
    pub applied: Vec<Hash32>,
    /// (key, call id) of every dropped call. A dropped call ends only a pending call with the
    /// same bytes: an invalid copy under a valid call's key (a transaction with a broken
    /// witness, a forged proof of a real fault) must not push the valid one out of the pools.
    pub dropped: Vec<(Hash32, Hash32)>,
    /// (tag, key of the applied call that consumed it): what the mempool must drop pending
    /// calls for (see `pc_runtime_api::Prechecked::consuming`). Empty on the sequential path.
    pub consumed: Vec<(Hash32, Hash32)>,
    /// The committee of the next epoch, stored by this anchor if it ended its epoch.
    pub committee: Option<pc_runtime_api::Committee>,
}
