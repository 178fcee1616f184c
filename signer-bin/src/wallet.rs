//! Wallet commands over a node's JSON-RPC: balance and send from a keystore's spend keys.

use crate::{Keystore, Purpose, Request, SignerError};
use jsonrpsee_core::client::ClientT;
use jsonrpsee_core::rpc_params;
use jsonrpsee_http_client::{HttpClient, HttpClientBuilder};
use parity_scale_codec::Encode;
use pc_codec::Hash32;
use pc_utxo_tx::{Address, OutPoint, Transaction, TxIn, TxOut, Witness, sighash};
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

    /// Total and spendable units of `address`.
    pub async fn balance(&self, address: &Address) -> Result<(u64, u64), SignerError> {
        let v = self.call("utxo_getBalance", rpc_params![address.to_string()]).await?;
        Ok((v["total"].as_u64().unwrap_or(0), v["spendable"].as_u64().unwrap_or(0)))
    }
}

/// Sends `amount` units from spend key `index` to `to`, paying `fee_per_byte`: picks mature
/// outputs largest first, returns the change to the same key, orders canonically, signs,
/// submits, and returns the transaction id.
pub async fn send(
    node: &Node,
    ks: &Keystore,
    index: u32,
    to: &Address,
    amount: u64,
    fee_per_byte: u64,
) -> Result<String, SignerError> {
    let from = Address::Key(ks.public_key(Purpose::Spend, index)?);
    let info = node.call("chain_getInfo", rpc_params![]).await?;
    let genesis = info["genesis_hash"]
        .as_str()
        .and_then(|h| Hash32::from_hex(h).ok())
        .ok_or_else(|| rpc_err("chain_getInfo lacks a genesis hash"))?;
    let list = node.call("utxo_listUnspent", rpc_params![from.to_string()]).await?;
    let mut coins: Vec<(OutPoint, u64)> = list
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default()
        .iter()
        .filter(|u| u["mature"] == true)
        .filter_map(|u| {
            let tx = Hash32::from_hex(u["txid"].as_str()?).ok()?;
            Some((OutPoint { tx, index: u32::try_from(u["index"].as_u64()?).ok()? }, u["value"].as_u64()?))
        })
        .collect();
    coins.sort_by_key(|c| std::cmp::Reverse(c.1));
    // Size grows with each input; recompute the fee as coins are added.
    let mut picked: Vec<(OutPoint, u64)> = Vec::new();
    let mut total = 0u64;
    let build = |picked: &[(OutPoint, u64)], fee: u64, total: u64| -> Option<Transaction> {
        let change = total.checked_sub(amount)?.checked_sub(fee)?;
        let mut outputs = vec![TxOut { value: amount, predicate: to.predicate() }];
        if change >= pc_utxo_tx::DEFAULT_DUST {
            outputs.push(TxOut { value: change, predicate: from.predicate() });
        }
        let inputs = picked.iter().map(|(p, _)| TxIn { prev: *p, witness: Witness::Sig([0; 64]) }).collect();
        let mut tx = Transaction { version: 0, inputs, outputs };
        tx.sort_canonical();
        Some(tx)
    };
    for coin in coins {
        picked.push(coin);
        total = total.saturating_add(coin.1);
        // A signature is the same size as the placeholder, so this size is final.
        let Some(probe) = build(&picked, 0, total) else { continue };
        let fee = fee_per_byte.saturating_mul(probe.encoded_size() as u64 + 40);
        if let Some(mut tx) = build(&picked, fee, total) {
            let sig = ks.sign(Purpose::Spend, index, &Request::Transaction(sighash(&genesis, &tx.txid())))?;
            for input in &mut tx.inputs {
                input.witness = Witness::Sig(sig);
            }
            let id = node.call("tx_submit", rpc_params![hex::encode(tx.encode())]).await?;
            return id.as_str().map(String::from).ok_or_else(|| rpc_err("tx_submit returned no id"));
        }
    }
    Err(SignerError::InsufficientFunds { have: total, need: amount.saturating_add(fee_per_byte) })
}
