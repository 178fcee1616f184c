//! Evidence of consensus faults as host-owned calls (docs/runtime-api.md §12).
//!
//! What one node observes, an equivocation it saw, is a local fact. The node turns it into a
//! call to [`EVIDENCE_TARGET`], which every node checks the same way before the call enters
//! the mempool and again when it is applied. The host keeps each fault once and hands it to
//! the enabled module that declares itself the evidence receiver.

use pc_codec::{Decode, Domain, Encode, Hash32, SeatIndex, ShardId, hash_encoded};
pub use pc_consensus::{Event, SignedEvent};

/// The call target of evidence. It is not a valid module name, so no module can take it.
pub const EVIDENCE_TARGET: &str = "host.evidence";

/// Largest evidence call: two events at their cap, with framing.
pub const MAX_EVIDENCE_BYTES: usize = 2 * pc_consensus::MAX_EVENT_BYTES + 64;

const FAULT_KEY: Domain = Domain::new("phantomcoin/v1/evidence/fault");

/// Proof of a fault, as submitted.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum Evidence {
    /// Two different events signed by one seat for one slot (shard, epoch, seat, seq).
    Equivocation {
        /// One of the events.
        first: SignedEvent,
        /// The other.
        second: SignedEvent,
    },
}

/// What was done wrong, and by whom. Evidence is deduplicated on its [`key`](Fault::key), not
/// on its bytes: one equivocation proves a seat a cheater for the whole epoch, so every proof
/// against a seat in one epoch is one fault (`seq` only says which slot the first proof used).
/// The host records faults under the grid epoch that holds the events' epoch (consensus.md
/// §11), so a forking seat yields at most one free evidence call per grid epoch, however many
/// slots or epoch numbers it signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Encode, Decode)]
pub struct Fault {
    /// The kind: [`Fault::EQUIVOCATION`].
    pub kind: u8,
    /// The shard of the offence.
    pub shard: ShardId,
    /// The consensus epoch of the offence (global index of its first anchor): as the events
    /// say in [`Evidence::fault`], the grid epoch that holds it once the host checked it.
    pub epoch: u64,
    /// The offending seat in that epoch's committee.
    pub seat: SeatIndex,
    /// The slot's event number.
    pub seq: u64,
}

impl Fault {
    /// Two events for one slot.
    pub const EQUIVOCATION: u8 = 0;

    /// The fault's key, over (kind, shard, epoch, seat): the evidence call's key in the mempool
    /// and in the call index.
    pub fn key(&self) -> Hash32 {
        hash_encoded(FAULT_KEY, &(self.kind, self.shard, self.epoch, self.seat))
    }
}

/// Why evidence was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvidenceError {
    /// Not the canonical encoding of an [`Evidence`], or too large.
    #[error("malformed evidence: {0}")]
    Malformed(String),
    /// The two events are not of one slot, or are the same event.
    #[error("the events do not conflict: {0}")]
    NoConflict(&'static str),
    /// The seat is not in the committee of the offence's epoch.
    #[error("seat {0} is not in the committee")]
    UnknownSeat(SeatIndex),
    /// A signature does not verify under the seat's key.
    #[error("a signature does not verify under seat {0}'s key")]
    BadSignature(SeatIndex),
    /// Of a shard or epoch this chain has not reached, or too old to act on: evidence is taken
    /// until `windows.slash_window` anchors after the end of the offence's epoch.
    #[error("evidence out of its window: {0}")]
    OutOfWindow(String),
}

impl EvidenceError {
    /// The stable code a refusal or a dropped call carries (docs/rpc.md).
    pub fn code(&self) -> &'static str {
        match self {
            EvidenceError::Malformed(_) => "evidence.malformed",
            EvidenceError::NoConflict(_) => "evidence.no-conflict",
            EvidenceError::UnknownSeat(_) => "evidence.unknown-seat",
            EvidenceError::BadSignature(_) => "evidence.bad-signature",
            EvidenceError::OutOfWindow(_) => "evidence.out-of-window",
        }
    }
}

impl Evidence {
    /// Decodes call bytes (canonical, size-capped).
    pub fn decode_call(bytes: &[u8]) -> Result<Evidence, EvidenceError> {
        pc_codec::decode_canonical(bytes, MAX_EVIDENCE_BYTES).map_err(|e| EvidenceError::Malformed(e.to_string()))
    }

    /// The fault this evidence claims, if its events share a slot and differ. Signatures are
    /// checked by [`verify`](Self::verify).
    pub fn fault(&self) -> Result<Fault, EvidenceError> {
        let Evidence::Equivocation { first, second } = self;
        let (a, b) = (&first.event, &second.event);
        if (a.shard, a.epoch, a.creator, a.seq) != (b.shard, b.epoch, b.creator, b.seq) {
            return Err(EvidenceError::NoConflict("different slots"));
        }
        if pc_codec::Identified::id(a) == pc_codec::Identified::id(b) {
            return Err(EvidenceError::NoConflict("the same event twice"));
        }
        Ok(Fault { kind: Fault::EQUIVOCATION, shard: a.shard, epoch: a.epoch, seat: a.creator, seq: a.seq })
    }

    /// Checks the evidence against the seat keys of the offence's committee (`keys[seat]`),
    /// with `verify(key, message, signature)` for BIP-340: two signature checks.
    pub fn verify(
        &self,
        keys: &[[u8; 32]],
        verify: impl Fn(&[u8; 32], &[u8; 32], &[u8; 64]) -> bool,
    ) -> Result<Fault, EvidenceError> {
        let fault = self.fault()?;
        let key = keys.get(usize::from(fault.seat)).ok_or(EvidenceError::UnknownSeat(fault.seat))?;
        let Evidence::Equivocation { first, second } = self;
        for e in [first, second] {
            if !verify(key, &pc_codec::Identified::id(&e.event).0, &e.sig) {
                return Err(EvidenceError::BadSignature(fault.seat));
            }
        }
        Ok(fault)
    }
}
