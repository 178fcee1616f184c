//! A wallet's view of the dev chain over JSON-RPC, against a real `phantom-node` process:
//! submit, follow to finality, balances, the finalized-anchor subscription, a distinct error for
//! each kind of bad transaction, malformed calls, and a node that keeps serving throughout.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use jsonrpsee_core::client::{ClientT, SubscriptionClientT};
use jsonrpsee_core::rpc_params;
use jsonrpsee_http_client::{HttpClient, HttpClientBuilder};
use parity_scale_codec::Encode;
use pc_codec::Hash32;
use pc_module_utxo::genesis_outpoint;
use pc_service::keys::dev_account_key;
use pc_utxo_tx::{Address, Keypair, OutPoint, Predicate, Transaction, TxIn, TxOut, Witness, XOnly};
use serde_json::{Value, json};
mod common;

use common::{Proc, start_dev_node};
use std::time::{Duration, Instant};

const PC: u64 = 100_000_000;
const ALLOCATION: u64 = 1_000_000 * PC;

struct Node {
    proc: Proc,
    url: String,
    dir: std::path::PathBuf,
    _tmp: Option<tempfile::TempDir>,
}

fn start_node() -> Node {
    let tmp = tempfile::tempdir().unwrap();
    let mut node = start_node_at(tmp.path());
    node._tmp = Some(tmp);
    node
}

fn start_node_at(dir: &std::path::Path) -> Node {
    let (proc, url) = start_dev_node(dir, 0, 50);
    Node { proc, url, dir: dir.to_path_buf(), _tmp: None }
}

fn addr_of(kp: &Keypair) -> String {
    Address::Key(XOnly::of(kp)).to_string()
}

fn pay(kp: &Keypair, value: u64) -> TxOut {
    TxOut { value, predicate: Predicate::Key(XOnly::of(kp)) }
}

use pc_utxo_tx::signed_transfer as signed;

async fn submit(c: &HttpClient, tx: &Transaction) -> Result<String, (i32, String, Option<String>)> {
    c.request::<String, _>("tx_submit", rpc_params![hex::encode(tx.encode())]).await.map_err(error_of)
}

fn error_of(e: jsonrpsee_core::ClientError) -> (i32, String, Option<String>) {
    match e {
        jsonrpsee_core::ClientError::Call(o) => {
            let code = o
                .data()
                .and_then(|d| serde_json::from_str::<Value>(d.get()).ok())
                .and_then(|d| d["code"].as_str().map(String::from));
            (o.code(), o.message().to_string(), code)
        }
        other => panic!("transport error: {other}"),
    }
}

async fn wait_final(c: &HttpClient, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s: Value = c.request("tx_status", rpc_params![id]).await.unwrap();
        if s["status"] != "pending" {
            return s;
        }
        assert!(Instant::now() < deadline, "transaction {id} not final in 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn balance(c: &HttpClient, kp: &Keypair) -> u64 {
    let b: Value = c.request("utxo_getBalance", rpc_params![addr_of(kp)]).await.unwrap();
    b["total"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wallet_sends_follows_and_gets_a_distinct_error_for_each_bad_transaction() {
    let node = start_node();
    let c = HttpClientBuilder::default().build(&node.url).unwrap();
    let ws = jsonrpsee_ws_client::WsClientBuilder::default().build(node.url.replace("http", "ws")).await.unwrap();
    let mut finalized = ws
        .subscribe::<Value, _>("chain_subscribeFinalized", rpc_params![], "chain_unsubscribeFinalized")
        .await
        .unwrap();
    let mut applied = ws
        .subscribe::<Value, _>(
            "chain_subscribeEvents",
            rpc_params![json!({ "module": "utxo", "name": "TxApplied" })],
            "chain_unsubscribeEvents",
        )
        .await
        .unwrap();
    // The filter may also come as the params object itself.
    let mut by_name = jsonrpsee_core::params::ObjectParams::new();
    by_name.insert("name", "TxApplied").unwrap();
    let mut applied_too =
        ws.subscribe::<Value, _>("chain_subscribeEvents", by_name, "chain_unsubscribeEvents").await.unwrap();
    // A filter with a field nobody knows is refused, not silently widened.
    assert!(
        ws.subscribe::<Value, _>(
            "chain_subscribeEvents",
            rpc_params![json!({ "modul": "utxo" })],
            "chain_unsubscribeEvents"
        )
        .await
        .is_err()
    );

    let info: Value = c.request("chain_getInfo", rpc_params![]).await.unwrap();
    let genesis = Hash32::from_hex(info["genesis_hash"].as_str().unwrap()).unwrap();
    assert_eq!(info["network_id"], "phantom-dev");
    let (a, b) = (dev_account_key(0).unwrap(), dev_account_key(1).unwrap());
    assert_eq!(balance(&c, &a).await, ALLOCATION);

    // A good spend: finalized at an anchor, balances follow, the subscription sees anchors.
    let fee = 10_000;
    let tx = signed(&genesis, &a, &[genesis_outpoint(0)], vec![pay(&b, 5 * PC), pay(&a, ALLOCATION - 5 * PC - fee)]);
    let id = submit(&c, &tx).await.unwrap();
    assert_eq!(id, tx.txid().to_hex());
    // While it is pending, a conflicting spend of the same output is refused.
    let rival = signed(&genesis, &a, &[genesis_outpoint(0)], vec![pay(&a, ALLOCATION - 2 * fee)]);
    let pending_conflict = submit(&c, &rival).await;
    let status = wait_final(&c, &id).await;
    assert_eq!(status["status"], "finalized", "{status}");
    assert!(status["anchor"].as_u64().unwrap() >= 1);
    if let Err((code, _, data)) = &pending_conflict {
        // Submitted while the first was pending (the usual case at this pace).
        assert_eq!((*code, data.as_deref()), (1011, Some("mempool.conflict")));
    }
    assert_eq!(balance(&c, &b).await, ALLOCATION + 5 * PC);
    assert_eq!(balance(&c, &a).await, ALLOCATION - 5 * PC - fee);
    let got: Value = c.request("tx_get", rpc_params![id.clone()]).await.unwrap();
    assert_eq!(got["hex"], hex::encode(tx.encode()));
    let notice = tokio::time::timeout(Duration::from_secs(10), finalized.next()).await.unwrap().unwrap().unwrap();
    assert!(notice["anchor"].as_u64().unwrap() >= 1);
    // The module event reaches the subscriber, and reads back by anchor.
    let event = tokio::time::timeout(Duration::from_secs(10), applied.next()).await.unwrap().unwrap().unwrap();
    assert_eq!((event["module"].as_str(), event["name"].as_str()), (Some("utxo"), Some("TxApplied")));
    assert_eq!(event["anchor"], status["anchor"]);
    let same = tokio::time::timeout(Duration::from_secs(10), applied_too.next()).await.unwrap().unwrap().unwrap();
    assert_eq!(same, event);
    let stored: Value = c.request("chain_getEvents", rpc_params![status["anchor"].clone()]).await.unwrap();
    assert!(stored.as_array().unwrap().contains(&event), "{stored}");

    // Spending it again (now finalized) names the spend.
    let again = signed(&genesis, &a, &[genesis_outpoint(0)], vec![pay(&a, ALLOCATION - 3 * fee)]);
    let (code, msg, data) = submit(&c, &again).await.unwrap_err();
    assert_eq!((code, data.as_deref()), (1010, Some("utxo.spent")), "{msg}");
    assert!(msg.contains(&id), "{msg}");
    // An output that never existed.
    let ghost = signed(&genesis, &a, &[OutPoint { tx: Hash32([3; 32]), index: 0 }], vec![pay(&b, PC)]);
    assert_eq!(submit(&c, &ghost).await.unwrap_err().2.as_deref(), Some("utxo.unknown-input"));
    // A signature by the wrong key.
    let forged = signed(&genesis, &a, &[genesis_outpoint(1)], vec![pay(&a, ALLOCATION - fee)]);
    let (code, msg, data) = submit(&c, &forged).await.unwrap_err();
    assert_eq!((code, data.as_deref()), (1010, Some("utxo.bad-signature")), "{msg}");
    // A locked output: fund it, then try to spend before its anchor.
    let change = OutPoint { tx: tx.txid(), index: tx.outputs.iter().position(|o| o.value > 5 * PC).unwrap() as u32 };
    let lock = TxOut { value: PC, predicate: Predicate::After(1_000_000) };
    let fund = signed(&genesis, &a, &[change], vec![lock, pay(&a, ALLOCATION - 6 * PC - 2 * fee)]);
    let fund_id = submit(&c, &fund).await.unwrap();
    assert_eq!(wait_final(&c, &fund_id).await["status"], "finalized");
    let locked = OutPoint { tx: fund.txid(), index: fund.outputs.iter().position(|o| o.value == PC).unwrap() as u32 };
    let mut early = Transaction {
        version: 0,
        inputs: vec![TxIn { prev: locked, witness: Witness::Empty }],
        outputs: vec![pay(&b, PC - fee)],
    };
    early.sort_canonical();
    let (code, msg, data) = submit(&c, &early).await.unwrap_err();
    assert_eq!((code, data.as_deref()), (1010, Some("utxo.locked")), "{msg}");
    // A bad address.
    let e =
        c.request::<Value, _>("utxo_getBalance", rpc_params!["pc1notanaddress"]).await.map_err(error_of).unwrap_err();
    assert_eq!(e.0, 1001, "{}", e.1);
    let bech32_not_m = "pc1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqz";
    assert_eq!(
        c.request::<Value, _>("utxo_getBalance", rpc_params![bech32_not_m]).await.map_err(error_of).unwrap_err().0,
        1001
    );
    // Malformed calls: wrong types, garbage hex, a transaction that does not decode, an unknown
    // id, an unknown method.
    for (method, params) in [
        ("tx_submit", rpc_params![42]),
        ("tx_submit", rpc_params!["zz"]),
        ("tx_submit", rpc_params!["00ff"]),
        ("tx_status", rpc_params!["abc"]),
        ("utxo_listUnspent", rpc_params![]),
    ] {
        let (code, msg, _) = c.request::<Value, _>(method, params).await.map_err(error_of).unwrap_err();
        assert_eq!(code, -32602, "{method}: {msg}");
    }
    let unknown: Value = c.request("tx_status", rpc_params![Hash32([5; 32]).to_hex()]).await.unwrap();
    assert_eq!(unknown["status"], "unknown");
    let (code, _, _) = c.request::<Value, _>("no_suchMethod", rpc_params![]).await.map_err(error_of).unwrap_err();
    assert_eq!(code, -32601);
    // Raw garbage over HTTP gets a parse error and the node keeps serving.
    let raw = std::process::Command::new("curl")
        .args(["-s", "-H", "content-type: application/json", "-d", "{not json", &node.url])
        .output();
    if let Ok(out) = raw {
        let body = String::from_utf8_lossy(&out.stdout);
        assert!(body.is_empty() || body.contains("-32700"), "{body}");
    }
    let info2: Value = c.request("chain_getInfo", rpc_params![]).await.unwrap();
    assert!(info2["best_finalized_anchor"].as_u64() > info["best_finalized_anchor"].as_u64());
    let unspent: Value = c.request("utxo_listUnspent", rpc_params![addr_of(&b)]).await.unwrap();
    assert_eq!(unspent.as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_with_sigkill_restarts_at_its_last_anchor_with_nothing_lost() {
    let mut node = start_node();
    let c = HttpClientBuilder::default().build(&node.url).unwrap();
    let info: Value = c.request("chain_getInfo", rpc_params![]).await.unwrap();
    let genesis = Hash32::from_hex(info["genesis_hash"].as_str().unwrap()).unwrap();
    let (a, b) = (dev_account_key(0).unwrap(), dev_account_key(1).unwrap());
    let tx = signed(&genesis, &a, &[genesis_outpoint(0)], vec![pay(&b, 7 * PC), pay(&a, ALLOCATION - 7 * PC - 10_000)]);
    let id = submit(&c, &tx).await.unwrap();
    let status = wait_final(&c, &id).await;
    assert_eq!(status["status"], "finalized");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before: Value = c.request("chain_getInfo", rpc_params![]).await.unwrap();
    // SIGKILL: no shutdown path runs.
    node.proc.0.kill().unwrap();
    node.proc.0.wait().unwrap();
    let tmp = node._tmp.take();
    let again = start_node_at(&node.dir);
    let c2 = HttpClientBuilder::default().build(&again.url).unwrap();
    let after: Value = c2.request("chain_getInfo", rpc_params![]).await.unwrap();
    assert!(after["best_finalized_anchor"].as_u64() >= before["best_finalized_anchor"].as_u64(), "{before} {after}");
    assert_eq!(after["genesis_hash"], before["genesis_hash"]);
    assert_eq!(c2.request::<Value, _>("tx_status", rpc_params![id.clone()]).await.unwrap(), status);
    assert_eq!(balance(&c2, &b).await, ALLOCATION + 7 * PC);
    // And it goes on finalizing: a new transaction wakes the resting chain.
    let change = OutPoint { tx: tx.txid(), index: tx.outputs.iter().position(|o| o.value > 7 * PC).unwrap() as u32 };
    let next = signed(&genesis, &a, &[change], vec![pay(&b, PC), pay(&a, ALLOCATION - 8 * PC - 20_000)]);
    let next_id = submit(&c2, &next).await.unwrap();
    assert_eq!(wait_final(&c2, &next_id).await["status"], "finalized", "no anchor after the restart");
    let now: Value = c2.request("chain_getInfo", rpc_params![]).await.unwrap();
    assert!(now["best_finalized_anchor"].as_u64() > after["best_finalized_anchor"].as_u64());
    drop(again);
    drop(tmp);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_restored_from_a_snapshot_goes_on_finalizing_transactions() {
    let node = start_node();
    let c = HttpClientBuilder::default().build(&node.url).unwrap();
    let info: Value = c.request("chain_getInfo", rpc_params![]).await.unwrap();
    let genesis = Hash32::from_hex(info["genesis_hash"].as_str().unwrap()).unwrap();
    let (a, b) = (dev_account_key(0).unwrap(), dev_account_key(1).unwrap());
    let tx = signed(&genesis, &a, &[genesis_outpoint(0)], vec![pay(&b, 2 * PC), pay(&a, ALLOCATION - 2 * PC - 10_000)]);
    let id = submit(&c, &tx).await.unwrap();
    assert_eq!(wait_final(&c, &id).await["status"], "finalized");
    let from = node.dir.clone();
    drop(c);
    let Node { proc: p, _tmp: tmp, .. } = node;
    drop(p);
    let snap = from.join("state.snapshot");
    let run = |args: &[&str]| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_phantom-node")).args(args).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    run(&[
        "export-snapshot",
        "--chain",
        "dev",
        "--base-path",
        from.to_str().unwrap(),
        "--file",
        snap.to_str().unwrap(),
    ]);
    let to = tempfile::tempdir().unwrap();
    run(&[
        "import-snapshot",
        "--chain",
        "dev",
        "--base-path",
        to.path().to_str().unwrap(),
        "--file",
        snap.to_str().unwrap(),
    ]);
    let restored = start_node_at(to.path());
    let c = HttpClientBuilder::default().build(&restored.url).unwrap();
    assert_eq!(balance(&c, &b).await, ALLOCATION + 2 * PC, "the restored state has the transfer");
    let change = OutPoint { tx: tx.txid(), index: tx.outputs.iter().position(|o| o.value > 2 * PC).unwrap() as u32 };
    let next = signed(&genesis, &a, &[change], vec![pay(&b, PC), pay(&a, ALLOCATION - 3 * PC - 20_000)]);
    let id = submit(&c, &next).await.unwrap();
    assert_eq!(wait_final(&c, &id).await["status"], "finalized", "the restored node finalizes new transactions");
    assert_eq!(balance(&c, &b).await, ALLOCATION + 3 * PC);
    drop(tmp);
}
