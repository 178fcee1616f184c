//! The committee as chain state (docs/runtime-api.md §13).
//!
//! Each grid epoch (consensus.md §11) has one committee of `committee_size` seats. The
//! chainspec's list is the committee of the first epoch. At the last anchor of every epoch the
//! host asks the enabled committee provider, if any, for the next one, checks it, and stores it
//! in its own namespace ([`COMMITTEE_TARGET`]) in the same commit, so every node switches its
//! engine at the same anchor. Modules read committees through
//! [`ModuleView::committee`](crate::ModuleView::committee); only the host writes them.

use pc_codec::{Decode, Encode};

/// The host's namespace for committees. Not a valid module name, so no module can write it.
pub const COMMITTEE_TARGET: &str = "host.committee";

/// Largest `meta` of one seat, in bytes.
pub const MAX_SEAT_META: usize = 1024;

/// One seat of a committee.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct CommitteeSeat {
    /// The BIP-340 x-only key that signs the seat's events.
    pub key: [u8; 32],
    /// What the provider wants later modules to know about the seat (operator id, payout and
    /// BLS keys...), in the provider's own encoding; at most [`MAX_SEAT_META`] bytes. Empty
    /// for the chainspec's committee.
    pub meta: Vec<u8>,
}

/// The committee of one grid epoch: seat `i` is `seats[i]`.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Committee {
    /// The first anchor of the grid epoch it serves.
    pub epoch: u64,
    /// The anchor whose commit stored it (0: genesis).
    pub decided_at: u64,
    /// The seats, in seat order.
    pub seats: Vec<CommitteeSeat>,
}

impl Committee {
    /// The seat keys, in seat order.
    pub fn keys(&self) -> Vec<[u8; 32]> {
        self.seats.iter().map(|s| s.key).collect()
    }

    /// The seat that `key` holds, if any.
    pub fn seat_of(&self, key: &[u8; 32]) -> Option<u8> {
        self.seats.iter().position(|s| s.key == *key).and_then(|i| u8::try_from(i).ok())
    }
}

/// Emitted by the host (module `host.committee`) when the committee of the next epoch differs
/// from the current one.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct CommitteeChanged {
    /// The first anchor of the epoch it serves.
    pub epoch: u64,
    /// Its seat keys, in seat order.
    pub keys: Vec<[u8; 32]>,
}

impl crate::ModuleEvent for CommitteeChanged {
    const NAME: &'static str = "CommitteeChanged";
}

/// Emitted by the host when the provider's answer breaks the rules (wrong size, a repeated or
/// invalid key, oversized meta): the committee stays, and the chain goes on.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct CommitteeRefused {
    /// The epoch it would have served.
    pub epoch: u64,
    /// Why, in words.
    pub reason: String,
}

impl crate::ModuleEvent for CommitteeRefused {
    const NAME: &'static str = "CommitteeRefused";
}

/// The stored committees by the big-endian first anchor of their epoch (so scans run in epoch
/// order). The host keeps those whose offences can still be proven (the slash window).
pub const COMMITTEES: crate::StorageMap<[u8; 8], Committee> = crate::StorageMap::new("committees");
