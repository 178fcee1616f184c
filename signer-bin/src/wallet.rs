//! Wallet commands over a node's JSON-RPC: balance and send from a keystore's spend keys.

use crate::pspt::{Input, Pspt};
use crate::{Keystore, Purpose, Request, SignerError};
use jsonrpsee_core::client::ClientT;
use jsonrpsee_core::rpc_params;
use jsonrpsee_http_client::{HttpClient, HttpClientBuilder};
use parity_scale_codec::Encode;
use pc_codec::Hash32;
use pc_utxo_tx::{Address, OutPoint, Predicate, Transaction, TxIn, TxOut, Witness, predicate_hash};
use serde_json::Value;

fn rpc_err(e: impl std::fmt::Display) -> SignerError {
    SignerError::Node(e.to_string())
}

/// A node connection.
#[derive(Debug)]
pub struct Node(HttpClient);

impl Node {
    /// Connects to `url` (no request is made yet).
    pub fn connect(url: &str) -> Result<Node, SignerError> {
        HttpClientBuilder::default().build(url).map(Node).map_err(rpc_err)
    }

    async fn call(&self, method: &str, params: jsonrpsee_core::params::ArrayParams) -> Result<Value, SignerError> {
        self.0.request(method, params).await.map_err(rpc_err)
    }

    /// Calls `method` with positional `params`.
    pub async fn raw(&self, method: &str, params: Vec<Value>) -> Result<Value, SignerError> {
        let mut p = jsonrpsee_core::params::ArrayParams::new();
        for v in params {
            p.insert(v).map_err(rpc_err)?;
        }
        self.call(method, p).await
    }

    /// Total and spendable units of `address`.
    pub async fn balance(&self, address: &Address) -> Result<(u64, u64), SignerError> {
        let v = self.call("utxo_getBalance", rpc_params![address.to_string()]).await?;
        Ok((v["total"].as_u64().unwrap_or(0), v["spendable"].as_u64().unwrap_or(0)))
    }
}

impl Node {
    /// The genesis hash of the node's chain.
    pub async fn genesis(&self) -> Result<Hash32, SignerError> {
        let info = self.call("chain_getInfo", rpc_params![]).await?;
        info["genesis_hash"]
            .as_str()
            .and_then(|h| Hash32::from_hex(h).ok())
            .ok_or_else(|| rpc_err("chain_getInfo lacks a genesis hash"))
    }

    /// Every unspent output of `address`, as the node lists it (`utxo_listUnspent`).
    pub async fn unspent(&self, address: &Address) -> Result<Value, SignerError> {
        self.call("utxo_listUnspent", rpc_params![address.to_string()]).await
    }

    /// The mature unspent outputs of `address`, largest first.
    pub async fn spendable(&self, address: &Address) -> Result<Vec<(OutPoint, u64)>, SignerError> {
        self.coins(address, true).await
    }

    /// The unspent outputs of `address` (only the mature ones with `mature_only`), largest first.
    pub(crate) async fn coins(
        &self,
        address: &Address,
        mature_only: bool,
    ) -> Result<Vec<(OutPoint, u64)>, SignerError> {
        let list = self.unspent(address).await?;
        let mut coins: Vec<(OutPoint, u64)> = list
            .as_array()
            .map(|a| a.as_slice())
            .unwrap_or_default()
            .iter()
            .filter(|u| !mature_only || u["mature"] == true)
            .filter_map(|u| {
                let tx = Hash32::from_hex(u["txid"].as_str()?).ok()?;
                Some((OutPoint { tx, index: u32::try_from(u["index"].as_u64()?).ok()? }, u["value"].as_u64()?))
            })
            .collect();
        coins.sort_by_key(|c| std::cmp::Reverse(c.1));
        Ok(coins)
    }

    /// Submits a signed transaction; returns its id.
    pub async fn submit(&self, tx: &Transaction) -> Result<String, SignerError> {
        let id = self.call("tx_submit", rpc_params![hex::encode(tx.encode())]).await?;
        id.as_str().map(String::from).ok_or_else(|| rpc_err("tx_submit returned no id"))
    }
}

/// Builds an unsigned PSPT paying `amount` to `to` from the mature outputs of `from`: largest
/// first until the amount and the fee are covered, change above the dust limit back to `from`,
/// canonical order. Needs no key: a watch-only wallet creates, an offline one signs. A
/// predicate-hash address needs the predicate it hides (`reveal`).
pub async fn create(
    node: &Node,
    from: &Address,
    reveal: Option<&Predicate>,
    to: &Address,
    amount: u64,
    fee_per_byte: u64,
) -> Result<Pspt, SignerError> {
    if let Address::PredicateHash(h) = from
        && reveal.is_none_or(|p| predicate_hash(p) != *h)
    {
        return Err(SignerError::Pspt(format!("{from} pays to a predicate hash: pass the predicate it hides")));
    }
    let genesis = node.genesis().await?;
    let input_of = |(prev, value): (OutPoint, u64)| Input {
        prev,
        value,
        predicate: from.predicate(),
        reveal: reveal.cloned(),
        preimage: None,
    };
    let build = |picked: &[(OutPoint, u64)], fee: u64, total: u64| -> Option<Pspt> {
        let change = total.checked_sub(amount)?.checked_sub(fee)?;
        let mut outputs = vec![TxOut { value: amount, predicate: to.predicate() }];
        if change >= pc_utxo_tx::DEFAULT_DUST {
            outputs.push(TxOut { value: change, predicate: from.predicate() });
        }
        let mut inputs: Vec<Input> = picked.iter().copied().map(input_of).collect();
        inputs.sort_by_key(|i| i.prev);
        let tx_in = inputs.iter().map(|i| TxIn { prev: i.prev, witness: Witness::Empty }).collect();
        let mut tx = Transaction { version: 0, inputs: tx_in, outputs };
        tx.sort_canonical();
        Some(Pspt::new(&genesis, tx, &inputs))
    };
    let (mut picked, mut total) = (Vec::new(), 0u64);
    for coin in node.spendable(from).await? {
        picked.push(coin);
        total = total.saturating_add(coin.1);
        let Some(probe) = build(&picked, 0, total) else { continue };
        let fee = fee_per_byte.saturating_mul(signed_size(&probe)? + 40);
        if let Some(p) = build(&picked, fee, total) {
            return Ok(p);
        }
    }
    Err(SignerError::InsufficientFunds { have: total, need: amount.saturating_add(fee_per_byte) })
}

/// The size of the transaction once signed: witnesses built with a placeholder signature for
/// every key, which has the final signature's size.
fn signed_size(p: &Pspt) -> Result<u64, SignerError> {
    let dummy = [0u8; 64];
    let sigs: std::collections::BTreeMap<[u8; 32], [u8; 64]> = p.keys()?.iter().map(|k| (k.0, dummy)).collect();
    let mut tx = p.transaction()?;
    for (input, spec) in tx.inputs.iter_mut().zip(p.parsed_inputs()?) {
        input.witness = crate::pspt::witness(&spec.predicate, &spec, &sigs)
            .ok_or_else(|| SignerError::Pspt("an input whose witness size cannot be estimated".into()))?;
    }
    Ok(tx.encoded_size() as u64)
}

/// Signs every input of `pspt` that needs one of spend keys `0..scan`; returns how many keys
/// signed. None needed is an error: a signer that signs nothing should say so.
pub fn sign(pspt: &mut Pspt, ks: &Keystore, scan: u32) -> Result<usize, SignerError> {
    let needed = pspt.keys()?;
    let msg = pspt.sighash()?;
    let mut signed = 0;
    for i in 0..scan {
        let key = ks.public_key(Purpose::Spend, i)?;
        if needed.contains(&key) {
            let sig = ks.sign(Purpose::Spend, i, &Request::Transaction(msg))?;
            pspt.add_signature(&key, &sig)?;
            signed += 1;
        }
    }
    if signed == 0 {
        return Err(SignerError::Pspt(format!("none of this keystore's spend keys 0..{scan} is needed")));
    }
    Ok(signed)
}

/// Finalizes and submits `pspt` after checking it is for the node's network; returns the id.
pub async fn broadcast(node: &Node, pspt: &Pspt) -> Result<String, SignerError> {
    let genesis = node.genesis().await?;
    if pspt.genesis()? != genesis {
        return Err(SignerError::Pspt(format!(
            "a PSPT for another network: genesis {} but the node runs {}",
            pspt.genesis,
            genesis.to_hex()
        )));
    }
    node.submit(&pspt.finalize()?).await
}

/// Sends `amount` units from spend key `index` to `to`, paying `fee_per_byte`: create, sign
/// and broadcast in one step. Returns the transaction id.
pub async fn send(
    node: &Node,
    ks: &Keystore,
    index: u32,
    to: &Address,
    amount: u64,
    fee_per_byte: u64,
) -> Result<String, SignerError> {
    let from = Address::Key(ks.public_key(Purpose::Spend, index)?);
    let mut pspt = create(node, &from, None, to, amount, fee_per_byte).await?;
    sign(&mut pspt, ks, index + 1)?;
    broadcast(node, &pspt).await
}
