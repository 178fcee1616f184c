//! The event layout (§2) and its stateless checks.

use parity_scale_codec::{Decode, Encode};
use pc_codec::{Domain, Hash32, Identified, ShardId};

/// Domain of event ids.
pub const EVENT_DOMAIN: Domain = Domain::new("phantomcoin/v1/consensus/event");
/// Largest encoded signed event accepted.
pub const MAX_EVENT_BYTES: usize = 1024;

/// A DAG event: what a seat signs.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Event {
    /// Shard of the DAG.
    pub shard: ShardId,
    /// The DAG epoch, named by the global index of the first anchor this DAG finalizes. It
    /// makes (shard, epoch, creator, seq) a unique slot: a new DAG never reuses a signed one.
    pub epoch: u64,
    /// Seat index of the creator.
    pub creator: u8,
    /// 1 for the creator's first event, +1 for each next one.
    pub seq: u64,
    /// Parent ids; the self-parent first iff `seq > 1`.
    pub parents: Vec<Hash32>,
    /// 1 + the highest parent Lamport number (1 without parents).
    pub lamport: u64,
    /// The frame, recomputed and compared on receipt.
    pub frame: u64,
    /// Merkle root of the payload's call ids.
    pub payload_root: Hash32,
    /// Payload size in bytes.
    pub payload_len: u32,
}

impl Identified for Event {
    const DOMAIN: Domain = EVENT_DOMAIN;
}

/// An event with its creator's signature over the event id.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct SignedEvent {
    /// The event.
    pub event: Event,
    /// BIP-340 (node) or the simulator's signature over `event.id()`.
    pub sig: [u8; 64],
}

/// Two signed events of one seat with the same seq: proof of a safety fault (§8).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Equivocation {
    /// The event accepted first.
    pub first: SignedEvent,
    /// The conflicting one.
    pub second: SignedEvent,
}

/// Checks event signatures; the node plugs in seat keys, the simulator its own scheme.
pub trait SignatureVerifier {
    /// True iff `sig` is `creator`'s valid signature over `id`.
    fn verify(&self, creator: u8, id: &Hash32, sig: &[u8; 64]) -> bool;
}
