//! The wallet end to end on a dev chain with real processes: phantom-miner mines to a
//! keystore's spend address, the coins mature, and the wallet sends some of them away.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use jsonrpsee_core::client::ClientT;
use jsonrpsee_core::rpc_params;
use pc_utxo_tx::{Address, XOnly, keypair_from_seed};
use phantom_signer::wallet::{Node, send};
use phantom_signer::{KdfParams, Keystore, Purpose};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A workspace binary next to this package's, built if a lone `cargo test -p phantom-signer`
/// did not build it.
fn sibling(name: &str, package: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_BIN_EXE_phantom-signer")).with_file_name(name);
    if !path.exists() {
        let ok = Command::new(env!("CARGO")).args(["build", "-p", package]).status().unwrap().success();
        assert!(ok, "cannot build {package}");
    }
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mined_coins_in_a_keystore_are_sent_by_the_wallet() {
    let dir = tempfile::tempdir().unwrap();
    let (ks, _) = Keystore::create(&dir.path().join("k.json"), "pw", KdfParams { m_kib: 64, t: 1, p: 1 }).unwrap();
    let mine_to = Address::Key(ks.public_key(Purpose::Spend, 0).unwrap());

    let mut child = Command::new(sibling("phantom-node", "phantom-node"))
        .args(["run", "--chain", "dev", "--rpc-port", "0", "--event-interval-ms", "100", "--base-path"])
        .arg(dir.path().join("node"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut url = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(a) = line.split("addr=").nth(1).filter(|_| line.contains("JSON-RPC listening")) {
            url = Some(format!("http://{}", a.split_whitespace().next().unwrap()));
        }
        if line.contains("node ready") {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    let _node = Proc(child);
    let url = url.unwrap();
    let miner = Proc(
        Command::new(sibling("phantom-miner", "phantom-miner"))
            .args(["--rpc-url", &url, "--payout", &mine_to.to_string(), "--threads", "1", "--tier", "0"])
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let node = Node::connect(&url).unwrap();
    let deadline = Instant::now() + Duration::from_secs(40);
    let spendable = loop {
        let (_, spendable) = node.balance(&mine_to).await.unwrap();
        if spendable > 0 {
            break spendable;
        }
        assert!(Instant::now() < deadline, "no mature mint in 40 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    drop(miner);

    let friend = Address::Key(XOnly::of(&keypair_from_seed([77; 32]).unwrap()));
    let amount = spendable / 2;
    let id = send(&node, &ks, 0, &friend, amount, 2).await.unwrap();
    let c = jsonrpsee_http_client::HttpClientBuilder::default().build(&url).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let s: Value = c.request("tx_status", rpc_params![id.clone()]).await.unwrap();
        if s["status"] == "finalized" {
            break;
        }
        assert!(s["status"] == "pending", "{s}");
        assert!(Instant::now() < deadline, "not finalized in 20 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(node.balance(&friend).await.unwrap().0, amount);
    // More than the wallet holds is a clear error, and nothing is sent.
    let too_much = send(&node, &ks, 0, &friend, u64::MAX / 4, 2).await.unwrap_err();
    assert!(too_much.to_string().contains("insufficient funds"), "{too_much}");
}
