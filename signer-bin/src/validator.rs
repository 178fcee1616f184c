//! A validator's calls, signed with the keystore's purpose-separated keys (docs/operators.md,
//! "Becoming a validator"): key set `i` is seat key `i`, bond key `i` (which is also the
//! operator id), payout key `i`, VRF key `i` and BLS key `i`. Spend keys sign the consent to
//! bond their outputs.

use crate::wallet::Node;
use crate::{Keystore, Purpose, Request, SignerError};
use parity_scale_codec::Encode;
use pc_codec::Hash32;
use pc_crypto::vrf::COMMITTEE;
use pc_module_bonding::{
    BondTerms, BondingCall, bond_id, operator_consent, seat_consent, unbond_digest, withdraw_digest,
};
use pc_module_committee_vrf::{CommitteeCall, heartbeat_digest, vrf_input};
use pc_utxo_tx::{Address, OutPoint, Witness};
use serde_json::{Value, json};

/// The terms a bond of key set `index` registers, under the operator id of key set
/// `operator` (its bond key; usually `index` itself, another set's for a second bond of one
/// operator).
pub fn terms(ks: &Keystore, index: u32, operator: u32) -> Result<BondTerms, SignerError> {
    let bls = ks.bls_secret(index)?;
    let bond_key = ks.public_key(Purpose::Bond, index)?.0;
    Ok(BondTerms {
        operator: ks.public_key(Purpose::Bond, operator)?.0,
        seat_key: ks.public_key(Purpose::Seat, index)?.0,
        bond_key,
        payout: Address::Key(ks.public_key(Purpose::Payout, index)?).to_bytes(),
        vrf_key: ks.vrf_keypair(index)?.public(),
        bls_key: bls.public(),
        bls_pop: bls.prove_possession(),
    })
}

/// The public side of key set `index`, as JSON (what an operator publishes or a chainspec's
/// genesis bond lists).
pub fn keys_json(ks: &Keystore, index: u32) -> Result<Value, SignerError> {
    let t = terms(ks, index, index)?;
    Ok(json!({
        "operator": hex::encode(t.operator),
        "seat_key": hex::encode(t.seat_key),
        "bond_key": hex::encode(t.bond_key),
        "payout": Address::from_bytes(&t.payout).map(|a| a.to_string()).map_err(|e| SignerError::Crypto(e.to_string()))?,
        "vrf_key": hex::encode(t.vrf_key.0),
        "bls_key": hex::encode(t.bls_key.0),
        "bls_pop": hex::encode(t.bls_pop.0),
    }))
}

/// A `Bond` of `inputs` (each with the spend key index that owns it) under key set `index`
/// for the operator of key set `operator`; returns the bond id and the encoded call.
pub fn bond_call(
    ks: &Keystore,
    index: u32,
    operator: u32,
    genesis: &Hash32,
    inputs: &[(OutPoint, u32)],
) -> Result<(Hash32, Vec<u8>), SignerError> {
    let terms = terms(ks, index, operator)?;
    let ops: Vec<OutPoint> = inputs.iter().map(|(op, _)| *op).collect();
    let id = bond_id(genesis, &terms, &ops);
    let digest = pc_module_utxo::authorization_digest(genesis, pc_module_bonding::NAME, &id, &ops, &id.0);
    let mut signed = Vec::with_capacity(inputs.len());
    for (op, spend) in inputs {
        signed.push((*op, Witness::Sig(ks.sign(Purpose::Spend, *spend, &Request::Lock(digest))?)));
    }
    let seat_sig = ks.sign(Purpose::Seat, index, &Request::SeatMessage(seat_consent(genesis, &id)))?;
    let operator_sig = ks.sign(Purpose::Bond, operator, &Request::Bond(operator_consent(genesis, &id)))?;
    let call = BondingCall::Bond { terms: Box::new(terms), inputs: signed, seat_sig, operator_sig };
    Ok((id, call.encode()))
}

/// An `Unbond` (or, with `withdraw`, a `Withdraw`) of `bond` signed by bond key `index`.
pub fn exit_call(
    ks: &Keystore,
    index: u32,
    genesis: &Hash32,
    bond: &Hash32,
    withdraw: bool,
) -> Result<Vec<u8>, SignerError> {
    Ok(if withdraw {
        let sig = ks.sign(Purpose::Bond, index, &Request::Bond(withdraw_digest(genesis, bond)))?;
        BondingCall::Withdraw { bond: *bond, sig }.encode()
    } else {
        let sig = ks.sign(Purpose::Bond, index, &Request::Bond(unbond_digest(genesis, bond)))?;
        BondingCall::Unbond { bond: *bond, sig }.encode()
    })
}

/// A `Candidacy` call: VRF key `index`'s proof for `bond`'s candidacy for the epoch starting at
/// `epoch` over `seed`.
pub fn candidacy_call(
    ks: &Keystore,
    index: u32,
    genesis: &Hash32,
    bond: &Hash32,
    epoch: u64,
    seed: &Hash32,
) -> Result<Vec<u8>, SignerError> {
    let (proof, _) = ks.vrf_keypair(index)?.prove(COMMITTEE, &vrf_input(genesis, epoch, seed, bond));
    Ok(CommitteeCall::Candidacy { bond: *bond, epoch, proof }.encode())
}

/// A `Heartbeat` call of `bond` bound to finalized anchor `anchor`, signed by seat key `index`.
pub fn heartbeat_call(
    ks: &Keystore,
    index: u32,
    genesis: &Hash32,
    bond: &Hash32,
    anchor: u64,
) -> Result<Vec<u8>, SignerError> {
    let sig = ks.sign(Purpose::Seat, index, &Request::SeatMessage(heartbeat_digest(genesis, bond, anchor)))?;
    Ok(CommitteeCall::Heartbeat { bond: *bond, anchor, sig }.encode())
}

fn field<'a>(v: &'a Value, name: &str, method: &str) -> Result<&'a Value, SignerError> {
    v.get(name).filter(|x| !x.is_null()).ok_or_else(|| SignerError::Node(format!("{method} lacks `{name}`")))
}

fn hash_field(v: &Value, name: &str, method: &str) -> Result<Hash32, SignerError> {
    field(v, name, method)?
        .as_str()
        .and_then(|s| Hash32::from_hex(s).ok())
        .ok_or_else(|| SignerError::Node(format!("{method}: `{name}` is not a hash")))
}

impl Node {
    /// Submits an encoded call through `method` (`bonding_submit`, `committee_submit`);
    /// returns the key the node tracks it by.
    pub async fn submit_call(&self, method: &str, call: &[u8]) -> Result<String, SignerError> {
        let id = self.raw(method, vec![json!(hex::encode(call))]).await?;
        Ok(id.as_str().map(String::from).unwrap_or_else(|| id.to_string()))
    }

    /// The next epoch's first anchor and seed (`committee_next`).
    pub async fn next_epoch(&self) -> Result<(u64, Hash32), SignerError> {
        let v = self.raw("committee_next", vec![]).await?;
        let epoch = field(&v, "epoch", "committee_next")?.as_u64().unwrap_or(0);
        Ok((epoch, hash_field(&v, "seed", "committee_next")?))
    }

    /// The last finalized anchor (`chain_getInfo`).
    pub async fn best_anchor(&self) -> Result<u64, SignerError> {
        let v = self.raw("chain_getInfo", vec![]).await?;
        field(&v, "best_finalized_anchor", "chain_getInfo")?
            .as_u64()
            .ok_or_else(|| SignerError::Node("chain_getInfo: no anchor".into()))
    }

    /// The outputs of `address` that a bond may lock (immature ones too), largest first.
    pub async fn bondable(&self, address: &Address) -> Result<Vec<(OutPoint, u64)>, SignerError> {
        self.coins(address, false).await
    }
}

/// Picks outputs of spend key `spend`, largest first, until at least `amount` is covered (a
/// bond locks whole outputs: the bond's value is their sum).
pub async fn pick_inputs(
    node: &Node,
    ks: &Keystore,
    spend: u32,
    amount: u64,
) -> Result<Vec<(OutPoint, u32)>, SignerError> {
    let from = Address::Key(ks.public_key(Purpose::Spend, spend)?);
    let (mut picked, mut total) = (Vec::new(), 0u64);
    for (op, value) in node.bondable(&from).await? {
        if total >= amount {
            break;
        }
        picked.push((op, spend));
        total = total.saturating_add(value);
    }
    if total < amount {
        return Err(SignerError::InsufficientFunds { have: total, need: amount });
    }
    Ok(picked)
}
