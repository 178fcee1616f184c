//! Validators for the bonding and committee-vrf tests: one key per purpose (seat, bond,
//! payout, VRF, BLS), and the signed calls an operator's signer would make. Included with
//! `#[path]` by the tests that need it: linking the modules into every test binary would
//! change their module catalogue.

#![allow(dead_code)] // each including test uses a part

use pc_codec::{Domain, Encode, Hash32};
use pc_crypto::bls::BlsSecret;
use pc_crypto::vrf::{COMMITTEE, VrfKeypair};
use pc_module_bonding::{
    BondTerms, BondingCall, bond_id, operator_consent, seat_consent, unbond_digest, withdraw_digest,
};
use pc_module_committee_vrf::{CommitteeCall, heartbeat_digest, vrf_input};
use pc_runtime_api::Call;
use pc_utxo_tx::{Address, Keypair, OutPoint, Witness, XOnly, sign_sighash};

const KEYS: Domain = Domain::new("phantomcoin/v1/test/validator");

/// One validator's keys.
pub struct Validator {
    /// Signs events and heartbeats.
    pub seat: Keypair,
    /// Signs unbond and withdraw.
    pub bond: Keypair,
    /// Receives payouts.
    pub payout: Keypair,
    /// Proves candidacies.
    pub vrf: VrfKeypair,
    /// Attests.
    pub bls: BlsSecret,
    /// The operator's key (its x-only key is the operator id).
    pub operator: Keypair,
}

impl Validator {
    /// Validator `i` of operator `operator` (test keys, distinct per `i` and purpose).
    pub fn new(i: u32, operator: u8) -> Validator {
        let secret = |purpose: &str| KEYS.hash(&(i, purpose).encode()).0;
        Validator {
            seat: pc_utxo_tx::keypair_from_seed(secret("seat")).unwrap(),
            bond: pc_utxo_tx::keypair_from_seed(secret("bond")).unwrap(),
            payout: pc_utxo_tx::keypair_from_seed(secret("payout")).unwrap(),
            vrf: VrfKeypair::from_seed(secret("vrf")).unwrap(),
            bls: BlsSecret::from_seed(secret("bls")).unwrap(),
            operator: pc_utxo_tx::keypair_from_seed(KEYS.hash(&(u32::from(operator), "operator").encode()).0).unwrap(),
        }
    }

    /// The seat key.
    pub fn seat_key(&self) -> [u8; 32] {
        XOnly::of(&self.seat).0
    }

    /// What its bonds register.
    pub fn terms(&self) -> BondTerms {
        BondTerms {
            operator: XOnly::of(&self.operator).0,
            seat_key: self.seat_key(),
            bond_key: XOnly::of(&self.bond).0,
            payout: Address::Key(XOnly::of(&self.payout)).to_bytes(),
            vrf_key: self.vrf.public(),
            bls_key: self.bls.public(),
            bls_pop: self.bls.prove_possession(),
        }
    }

    /// A `Bond` of `inputs`, each signed by its owner's key, with these terms; and its id.
    pub fn bond_call(&self, genesis: &Hash32, terms: BondTerms, inputs: &[(OutPoint, &Keypair)]) -> (Hash32, Call) {
        let ops: Vec<OutPoint> = inputs.iter().map(|(op, _)| *op).collect();
        let id = bond_id(genesis, &terms, &ops);
        let digest = pc_module_utxo::authorization_digest(genesis, "bonding", &id, &ops, &id.0);
        let inputs = inputs.iter().map(|(op, kp)| (*op, Witness::Sig(sign_sighash(kp, &digest)))).collect();
        let seat_sig = sign_sighash(&self.seat, &seat_consent(genesis, &id));
        let operator_sig = sign_sighash(&self.operator, &operator_consent(genesis, &id));
        (id, bonding(&BondingCall::Bond { terms: Box::new(terms), inputs, seat_sig, operator_sig }))
    }

    /// An `Unbond` of `bond`.
    pub fn unbond_call(&self, genesis: &Hash32, bond: &Hash32) -> Call {
        bonding(&BondingCall::Unbond { bond: *bond, sig: sign_sighash(&self.bond, &unbond_digest(genesis, bond)) })
    }

    /// A `Withdraw` of `bond`.
    pub fn withdraw_call(&self, genesis: &Hash32, bond: &Hash32) -> Call {
        bonding(&BondingCall::Withdraw { bond: *bond, sig: sign_sighash(&self.bond, &withdraw_digest(genesis, bond)) })
    }

    /// A `Candidacy` of `bond` for the epoch starting at `epoch`, over `seed`.
    pub fn candidacy_call(&self, genesis: &Hash32, bond: &Hash32, epoch: u64, seed: &Hash32) -> Call {
        let (proof, _) = self.vrf.prove(COMMITTEE, &vrf_input(genesis, epoch, seed, bond));
        committee(&CommitteeCall::Candidacy { bond: *bond, epoch, proof })
    }

    /// A `Heartbeat` of `bond` bound to `anchor`.
    pub fn heartbeat_call(&self, genesis: &Hash32, bond: &Hash32, anchor: u64) -> Call {
        let sig = sign_sighash(&self.seat, &heartbeat_digest(genesis, bond, anchor));
        committee(&CommitteeCall::Heartbeat { bond: *bond, anchor, sig })
    }

    /// Its entry in `modules.bonding.genesis_bonds`, bonding `value` units owned by `owner`.
    pub fn genesis_entry(&self, owner: &Keypair, value: u64) -> serde_json::Value {
        let entry = pc_module_bonding::GenesisBond::of(&self.terms(), &Address::Key(XOnly::of(owner)), value);
        serde_json::to_value(entry).unwrap()
    }
}

/// A call to `bonding`.
pub fn bonding(c: &BondingCall) -> Call {
    Call { module: "bonding".into(), data: c.encode() }
}

/// A call to `committee-vrf`.
pub fn committee(c: &CommitteeCall) -> Call {
    Call { module: "committee-vrf".into(), data: c.encode() }
}
