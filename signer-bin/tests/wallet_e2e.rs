//! The wallet end to end on a dev chain with real processes: phantom-miner mines to a
//! keystore's spend address, the coins mature, and the wallet sends some of them away.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pc_utxo_tx::{Address, XOnly, keypair_from_seed};
use phantom_signer::wallet::{Node, send};
use phantom_signer::{KdfParams, Keystore, Purpose};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{Proc, sibling, start_node, wait_finalized};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mined_coins_in_a_keystore_are_sent_by_the_wallet() {
    let dir = tempfile::tempdir().unwrap();
    let (ks, _) = Keystore::create(&dir.path().join("k.json"), "pw", KdfParams { m_kib: 64, t: 1, p: 1 }).unwrap();
    let mine_to = Address::Key(ks.public_key(Purpose::Spend, 0).unwrap());

    let (_node, url) = start_node(&dir.path().join("node"), &[]);
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
    // The CLI lists the same outputs the wallet spends from.
    let out = Command::new(env!("CARGO_BIN_EXE_phantom-signer"))
        .arg("--keystore")
        .arg(dir.path().join("k.json"))
        .args(["unspent", "--rpc-url", &url])
        .env("PHANTOM_SIGNER_PASSWORD", "pw")
        .output()
        .unwrap();
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(listed.as_array().unwrap().iter().any(|u| u["mature"] == true), "{listed}");

    let friend = Address::Key(XOnly::of(&keypair_from_seed([77; 32]).unwrap()));
    let amount = spendable / 2;
    let id = send(&node, &ks, 0, &friend, amount, 2).await.unwrap();
    wait_finalized(&url, &id, 20).await;
    assert_eq!(node.balance(&friend).await.unwrap().0, amount);
    // More than the wallet holds is a clear error, and nothing is sent.
    let too_much = send(&node, &ks, 0, &friend, u64::MAX / 4, 2).await.unwrap_err();
    assert!(too_much.to_string().contains("insufficient funds"), "{too_much}");
}
