//! Calls, events, seat metadata and the hashes the module's rules are built on.

use pc_crypto::bls::BlsPublic;
use pc_crypto::vrf::VrfProof;
use pc_runtime_api::ModuleEvent;
use pc_runtime_api::codec::{Decode, Domain, Encode, Hash32, hash_encoded};

const SEED: Domain = Domain::new("phantomcoin/v1/committee-vrf/seed");
const INPUT: Domain = Domain::new("phantomcoin/v1/committee-vrf/input");
const RANK: Domain = Domain::new("phantomcoin/v1/committee-vrf/rank");
const HEARTBEAT: Domain = Domain::new("phantomcoin/v1/committee-vrf/heartbeat");
const TAG: Domain = Domain::new("phantomcoin/v1/committee-vrf/tag");

/// A call to the module (docs/spec/modules/committee-vrf.md §3).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum CommitteeCall {
    /// A bond's VRF proof for the epoch that starts at anchor `epoch`.
    Candidacy {
        /// The bond.
        bond: Hash32,
        /// First anchor of the epoch it is for.
        epoch: u64,
        /// Output and proof over [`vrf_input`].
        proof: VrfProof,
    },
    /// "Still here", from a bond's seat key.
    Heartbeat {
        /// The bond.
        bond: Hash32,
        /// A recent finalized anchor the signature is bound to.
        anchor: u64,
        /// The seat key's signature over [`heartbeat_digest`].
        sig: [u8; 64],
    },
}

/// What a committee seat's `meta` carries for later modules (fees, attestor-pool, slashing).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct SeatMeta {
    /// The bond behind the seat.
    pub bond: Hash32,
    /// Its operator.
    pub operator: [u8; 32],
    /// Its payout address bytes.
    pub payout: [u8; 33],
    /// Its BLS key (proof of possession checked at bonding).
    pub bls_key: BlsPublic,
}

/// The seed of epoch 0 (anchors 1..=R).
pub fn first_seed(genesis: &Hash32) -> Hash32 {
    hash_encoded(SEED, &(genesis, 0u64))
}

/// The seed after `prev`, fixed by anchor id `anchor_id` (or the genesis hash for epoch 1).
pub fn next_seed(prev: &Hash32, anchor_id: &Hash32) -> Hash32 {
    hash_encoded(SEED, &(prev, anchor_id))
}

/// What a candidacy's VRF proves over: the chain, the epoch (its first anchor), its seed and
/// the bond. The bond is fixed before the seed (no grinding), and binding it means a proof
/// stands for one bond only: relaying someone's proof for another bond fails.
pub fn vrf_input(genesis: &Hash32, epoch: u64, seed: &Hash32, bond: &Hash32) -> [u8; 32] {
    hash_encoded(INPUT, &(genesis, epoch, seed, bond)).0
}

/// A candidate's place in shard `shard`'s ranking (lower goes first).
pub fn rank(score: u128, shard: u16) -> Hash32 {
    hash_encoded(RANK, &(score, shard))
}

/// What a seat key signs in a heartbeat.
pub fn heartbeat_digest(genesis: &Hash32, bond: &Hash32, anchor: u64) -> [u8; 32] {
    hash_encoded(HEARTBEAT, &(genesis, bond, anchor)).0
}

/// Mempool tag: kind 0 a candidacy of (bond, epoch), kind 1 a heartbeat of bond.
pub(crate) fn tag(kind: u8, bond: &Hash32, epoch: u64) -> Hash32 {
    hash_encoded(TAG, &(kind, bond, epoch))
}

/// A candidacy was recorded.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Candidate {
    /// The bond.
    pub bond: Hash32,
    /// First anchor of the epoch it is for.
    pub epoch: u64,
}
impl ModuleEvent for Candidate {
    const NAME: &'static str = "Candidate";
}

/// A seat was absent (no events, no heartbeat within the window): it cools down.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct SeatAbsent {
    /// The bond.
    pub bond: Hash32,
    /// It is not selected again before this anchor has passed.
    pub cooldown_until: u64,
}
impl ModuleEvent for SeatAbsent {
    const NAME: &'static str = "SeatAbsent";
}

/// Too few eligible candidates: the committee stays.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct CommitteeKept {
    /// First anchor of the epoch that keeps it.
    pub epoch: u64,
    /// Eligible candidates found (fewer than the seats).
    pub eligible: u32,
}
impl ModuleEvent for CommitteeKept {
    const NAME: &'static str = "CommitteeKept";
}

/// The selection for an epoch.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Selected {
    /// First anchor of the epoch.
    pub epoch: u64,
    /// Bonds that got a seat.
    pub entered: Vec<Hash32>,
    /// Seat keys that lost theirs.
    pub left: Vec<[u8; 32]>,
}
impl ModuleEvent for Selected {
    const NAME: &'static str = "Selected";
}
