//! What a bond is: its terms, its record in state, the calls and the events.

use pc_crypto::bls::{BlsPublic, BlsSignature};
use pc_crypto::vrf::VrfPublic;
use pc_runtime_api::ModuleEvent;
use pc_runtime_api::codec::{Decode, Domain, Encode, Hash32, hash_encoded};
use pc_utxo_tx::{OutPoint, Witness};

const BOND_ID: Domain = Domain::new("phantomcoin/v1/bonding/bond");
const GENESIS_BOND_ID: Domain = Domain::new("phantomcoin/v1/bonding/genesis-bond");
const SEAT_CONSENT: Domain = Domain::new("phantomcoin/v1/bonding/seat-consent");
const OPERATOR_CONSENT: Domain = Domain::new("phantomcoin/v1/bonding/operator-consent");
const UNBOND: Domain = Domain::new("phantomcoin/v1/bonding/unbond");
const WITHDRAW: Domain = Domain::new("phantomcoin/v1/bonding/withdraw");
const TAG: Domain = Domain::new("phantomcoin/v1/bonding/tag");

/// The keys and identity a bond registers (docs/spec/modules/bonding.md §2).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct BondTerms {
    /// Who runs the validator: a BIP-340 x-only key that signs the bond ([`operator_consent`]),
    /// so nobody can claim another operator's id. Two bonds of one operator never sit in one
    /// shard's committee.
    pub operator: [u8; 32],
    /// BIP-340 x-only key that signs DAG events and heartbeats.
    pub seat_key: [u8; 32],
    /// BIP-340 x-only key that signs `Unbond` and `Withdraw`.
    pub bond_key: [u8; 32],
    /// Address bytes that payouts go to.
    pub payout: [u8; 33],
    /// sr25519 key that proves committee candidacies.
    pub vrf_key: VrfPublic,
    /// BLS12-381 key for attestations.
    pub bls_key: BlsPublic,
    /// Its proof of possession.
    pub bls_pop: BlsSignature,
}

/// Where a bond is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub enum BondState {
    /// Bonded; Active from `active_at`.
    Pending {
        /// First anchor in which it is Active.
        active_at: u64,
    },
    /// A committee candidate.
    Active {
        /// The anchor it became Active in.
        since: u64,
    },
    /// Leaving: withdrawable from `release_at` (and once the seat's slash window closed).
    Unbonding {
        /// The anchor of the `Unbond`.
        requested_at: u64,
        /// First anchor a `Withdraw` may be in.
        release_at: u64,
    },
    /// Gone: the outputs are back in the spendable set.
    Withdrawn {
        /// The anchor of the `Withdraw`.
        at: u64,
    },
}

impl BondState {
    /// Its name in RPC replies.
    pub fn name(&self) -> &'static str {
        match self {
            BondState::Pending { .. } => "pending",
            BondState::Active { .. } => "active",
            BondState::Unbonding { .. } => "unbonding",
            BondState::Withdrawn { .. } => "withdrawn",
        }
    }
}

/// A bond as stored.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct BondRecord {
    /// Its keys.
    pub terms: BondTerms,
    /// The locked outputs (the lock id is the bond id).
    pub outpoints: Vec<OutPoint>,
    /// Σ their values.
    pub value: u64,
    /// The latest `spendable_from` of the outputs: nothing leaves the bond spendable earlier.
    pub mature_from: u64,
    /// The anchor of the `Bond` (0: a genesis bond).
    pub bonded_at: u64,
    /// The last anchor of the last epoch whose committee held the bond's seat key (0: never).
    pub served_until: u64,
    /// Units slashed from it so far (`value` is what is left).
    pub slashed: u64,
    /// Where it is.
    pub state: BondState,
}

impl BondRecord {
    /// Whether it is a committee candidate.
    pub fn is_active(&self) -> bool {
        matches!(self.state, BondState::Active { .. })
    }
}

/// A call to the module (docs/spec/modules/bonding.md §3).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum BondingCall {
    /// Locks `inputs` into a new bond with `terms`.
    Bond {
        /// Keys and identity (boxed: the other calls are small).
        terms: Box<BondTerms>,
        /// Outputs with their owners' witnesses over the ledger's authorization digest
        /// (`pc_module_utxo::authorization_digest(genesis, "bonding", id, outpoints, id)`).
        inputs: Vec<(OutPoint, Witness)>,
        /// The seat key's signature over [`seat_consent`].
        seat_sig: [u8; 64],
        /// The operator key's signature over [`operator_consent`].
        operator_sig: [u8; 64],
    },
    /// Starts unbonding the whole bond.
    Unbond {
        /// The bond.
        bond: Hash32,
        /// The bond key's signature over [`unbond_digest`].
        sig: [u8; 64],
    },
    /// Returns the outputs once the bond is released.
    Withdraw {
        /// The bond.
        bond: Hash32,
        /// The bond key's signature over [`withdraw_digest`].
        sig: [u8; 64],
    },
}

/// A bond's id: its lock id in the ledger and the message its owners sign.
pub fn bond_id(genesis: &Hash32, terms: &BondTerms, outpoints: &[OutPoint]) -> Hash32 {
    hash_encoded(BOND_ID, &(genesis, terms, outpoints))
}

/// The id of genesis bond number `i` (its single output sits at
/// `module_outpoint("bonding", id, 0)`).
pub fn genesis_bond_id(genesis: &Hash32, i: u32, terms: &BondTerms) -> Hash32 {
    hash_encoded(GENESIS_BOND_ID, &(genesis, i, terms))
}

/// What the seat key signs to consent to being bonded.
pub fn seat_consent(genesis: &Hash32, bond: &Hash32) -> [u8; 32] {
    hash_encoded(SEAT_CONSENT, &(genesis, bond)).0
}

/// What the operator key signs to own a bond.
pub fn operator_consent(genesis: &Hash32, bond: &Hash32) -> [u8; 32] {
    hash_encoded(OPERATOR_CONSENT, &(genesis, bond)).0
}

/// What the bond key signs to unbond.
pub fn unbond_digest(genesis: &Hash32, bond: &Hash32) -> [u8; 32] {
    hash_encoded(UNBOND, &(genesis, bond)).0
}

/// What the bond key signs to withdraw.
pub fn withdraw_digest(genesis: &Hash32, bond: &Hash32) -> [u8; 32] {
    hash_encoded(WITHDRAW, &(genesis, bond)).0
}

/// The mempool tag of an `Unbond` (kind 0) or `Withdraw` (kind 1) of `bond`.
pub(crate) fn call_tag(kind: u8, bond: &Hash32) -> Hash32 {
    hash_encoded(TAG, &(kind, bond))
}

/// A bond was made.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Bonded {
    /// Its id.
    pub bond: Hash32,
    /// Its operator.
    pub operator: [u8; 32],
    /// Its seat key.
    pub seat_key: [u8; 32],
    /// Units locked.
    pub value: u64,
    /// First anchor in which it is Active.
    pub active_at: u64,
}
impl ModuleEvent for Bonded {
    const NAME: &'static str = "Bonded";
}

/// A bond became Active.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Activated {
    /// Its id.
    pub bond: Hash32,
}
impl ModuleEvent for Activated {
    const NAME: &'static str = "Activated";
}

/// A bond started unbonding.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Unbonding {
    /// Its id.
    pub bond: Hash32,
    /// First anchor a `Withdraw` may be in.
    pub release_at: u64,
}
impl ModuleEvent for Unbonding {
    const NAME: &'static str = "Unbonding";
}

/// A bond was withdrawn: its outputs are spendable again (at their own maturity).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Withdrawn {
    /// Its id.
    pub bond: Hash32,
    /// Units returned.
    pub value: u64,
}
impl ModuleEvent for Withdrawn {
    const NAME: &'static str = "Withdrawn";
}
