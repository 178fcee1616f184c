//! Mint → mature → spend on the dev chain with real processes: `phantom-node` and
//! `phantom-miner`. The mint appears, spending it early fails with `utxo.immature`, after its
//! tier a transaction signed for the minted key moves it, and balances over RPC match.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use jsonrpsee_core::client::ClientT;
use jsonrpsee_core::rpc_params;
use jsonrpsee_http_client::{HttpClient, HttpClientBuilder};
use parity_scale_codec::Encode;
use pc_codec::Hash32;
use pc_utxo_tx::{
    Address, Keypair, OutPoint, Predicate, Transaction, TxIn, TxOut, Witness, XOnly, keypair_from_seed, sign_single_key,
};
use serde_json::Value;
mod common;

use common::{Proc, start_dev_node, wait_for};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The miner binary next to this package's `phantom-node`, built if a lone `cargo test -p
/// phantom-node` did not build it.
fn miner_binary() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_BIN_EXE_phantom-node")).with_file_name("phantom-miner");
    if !path.exists() {
        let status = Command::new(env!("CARGO")).args(["build", "-p", "phantom-miner"]).status().unwrap();
        assert!(status.success(), "cannot build phantom-miner");
    }
    path
}

fn start_node(dir: &std::path::Path) -> (Proc, String) {
    start_node_on(dir, 0)
}

fn start_node_on(dir: &std::path::Path, port: u16) -> (Proc, String) {
    start_dev_node(dir, port, 100)
}

async fn unspent(c: &HttpClient, addr: &str) -> Vec<Value> {
    let v: Value = c.request("utxo_listUnspent", rpc_params![addr]).await.unwrap();
    v.as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mined_coin_is_immature_then_spendable_end_to_end() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let (_node, url) = start_node(dir.path());
    let c = HttpClientBuilder::default().build(&url).unwrap();
    let info: Value = c.request("chain_getInfo", rpc_params![]).await.unwrap();
    let genesis = Hash32::from_hex(info["genesis_hash"].as_str().unwrap()).unwrap();
    let miner_key: Keypair = keypair_from_seed([42; 32]).unwrap();
    let payout = Address::Key(XOnly::of(&miner_key)).to_string();

    // The longest tier (20 anchors on dev, 2 s at this pace) leaves time to try an early spend.
    let miner = Proc(
        Command::new(miner_binary())
            .args(["--rpc-url", &url, "--payout", &payout, "--threads", "1", "--tier", "2", "--refresh-ms", "100"])
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mint = wait_for("a finalized mint", 30, async || unspent(&c, &payout).await.into_iter().next()).await;
    // The miner keeps running: maturity counts finalized anchors, and a resting chain
    // (consensus.md §12) finalizes none; its mints are what wakes this one.
    let op = OutPoint {
        tx: Hash32::from_hex(mint["txid"].as_str().unwrap()).unwrap(),
        index: u32::try_from(mint["index"].as_u64().unwrap()).unwrap(),
    };
    // The mint's id is in its `Minted` event; its status names the output the wallet sees.
    let anchor = mint["created_at_anchor"].as_u64().unwrap();
    let events: Value = c.request("chain_getEvents", rpc_params![anchor]).await.unwrap();
    let minted =
        events.as_array().unwrap().iter().find(|e| e["module"] == "mint-pow" && e["name"] == "Minted").unwrap();
    let data = hex::decode(minted["data"].as_str().unwrap()).unwrap();
    let minted: pc_module_mint_pow::Minted = pc_codec::decode_canonical(&data, 1024).unwrap();
    let status: Value = c.request("mint_status", rpc_params![minted.id.to_hex()]).await.unwrap();
    assert_eq!(status["status"], "finalized", "{status}");
    assert_eq!(status["outpoint"]["txid"].as_str(), Some(op.tx.to_hex().as_str()), "{status}");
    assert_eq!(status["outpoint"]["index"].as_u64(), Some(u64::from(op.index)), "{status}");
    let value = mint["value"].as_u64().unwrap();
    assert!(value > 0);
    let friend = keypair_from_seed([43; 32]).unwrap();
    let friend_addr = Address::Key(XOnly::of(&friend)).to_string();
    let mut tx = Transaction {
        version: 0,
        inputs: vec![TxIn { prev: op, witness: Witness::Empty }],
        outputs: vec![TxOut { value: value - 10_000, predicate: Predicate::Key(XOnly::of(&friend)) }],
    };
    sign_single_key(&mut tx, &genesis, &miner_key);
    let hex_tx = hex::encode(tx.encode());

    // Before maturity.
    let now: Value = c.request("chain_getInfo", rpc_params![]).await.unwrap();
    let spendable_from = mint["spendable_from_anchor"].as_u64().unwrap();
    if now["best_finalized_anchor"].as_u64().unwrap() + 2 < spendable_from {
        let e = c.request::<String, _>("tx_submit", rpc_params![hex_tx.clone()]).await.unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("utxo.immature"), "{msg}");
    } else {
        panic!("the mint matured before the test could try an early spend: {now} vs {spendable_from}");
    }

    // After maturity.
    let id =
        wait_for("maturity", 30, async || c.request::<String, _>("tx_submit", rpc_params![hex_tx.clone()]).await.ok())
            .await;
    drop(miner);
    wait_for("the spend to finalize", 30, async || {
        let s: Value = c.request("tx_status", rpc_params![id.clone()]).await.unwrap();
        (s["status"] == "finalized").then_some(())
    })
    .await;
    let b: Value = c.request("utxo_getBalance", rpc_params![friend_addr]).await.unwrap();
    assert_eq!(b["total"].as_u64().unwrap(), value - 10_000);
    let left: Vec<Value> = unspent(&c, &payout).await;
    assert!(left.iter().all(|u| u["txid"] != mint["txid"]), "the mint is spent");
    assert!(started.elapsed() < Duration::from_secs(60), "took {:?}", started.elapsed());
}

async fn mint_height(c: &HttpClient) -> Option<u64> {
    let payout = Address::Key(XOnly::of(&keypair_from_seed([42; 32]).unwrap())).to_string();
    let v: Value = c.request("get_mint_template", rpc_params![payout]).await.ok()?;
    v["height"].as_u64().map(|h| h - 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_miner_reconnects_when_the_node_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (node, url) = start_node_on(dir.path(), port);
    let c = HttpClientBuilder::default().build(&url).unwrap();
    let payout = Address::Key(XOnly::of(&keypair_from_seed([44; 32]).unwrap())).to_string();
    let _miner = Proc(
        Command::new(miner_binary())
            .args(["--rpc-url", &url, "--payout", &payout, "--threads", "1", "--refresh-ms", "100"])
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let before = wait_for("a first mint", 30, async || mint_height(&c).await.filter(|h| *h >= 1)).await;
    drop(node); // SIGKILL
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_node, url2) = start_node_on(dir.path(), port);
    assert_eq!(url2, url);
    let c2 = HttpClientBuilder::default().build(&url2).unwrap();
    wait_for("a mint after the restart", 30, async || mint_height(&c2).await.filter(|h| *h > before)).await;
}
