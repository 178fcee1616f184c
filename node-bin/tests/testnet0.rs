//! Testnet-0 on one machine with real processes: four validators (k = 4) and a full node on
//! 127.0.0.1, talking libp2p.
//!
//! Transactions submitted to different nodes finalize at the same anchor everywhere with the
//! same state roots; a validator killed with SIGKILL does not stop finality and catches up when
//! restarted; with two of four stopped nothing is finalized (and nothing conflicting), and
//! progress resumes when they return; no finalized transaction is lost.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::testnet::{Node, agree, all_reach, keep_busy};
use common::wait_for;
use jsonrpsee_core::client::ClientT;
use jsonrpsee_core::rpc_params;
use parity_scale_codec::Encode;
use pc_utxo_tx::{Address, OutPoint, TxOut, XOnly, keypair_from_seed, signed_transfer};
use serde_json::Value;
use std::process::Command;
use std::time::Duration;

/// A transfer from development account `account` to a fresh key, as SCALE hex.
async fn transfer(node: &Node, account: u32, to_seed: u8) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_phantom-node")).args(["dev-accounts"]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let line = text.lines().nth(account as usize).unwrap().to_string();
    let mut parts = line.split(' ').skip(1);
    let from: Address = parts.next().unwrap().parse().unwrap();
    let kp = keypair_from_seed(hex::decode(parts.next().unwrap()).unwrap().try_into().unwrap()).unwrap();
    let c = node.client();
    let info: Value = c.request("chain_getInfo", rpc_params![]).await.unwrap();
    let genesis = pc_codec::Hash32::from_hex(info["genesis_hash"].as_str().unwrap()).unwrap();
    let utxos: Value = c.request("utxo_listUnspent", rpc_params![from.to_string()]).await.unwrap();
    let u = &utxos[0];
    let index = u32::try_from(u["index"].as_u64().unwrap()).unwrap();
    let coin = OutPoint { tx: pc_codec::Hash32::from_hex(u["txid"].as_str().unwrap()).unwrap(), index };
    let value = u["value"].as_u64().unwrap();
    let to = Address::Key(XOnly::of(&keypair_from_seed([to_seed; 32]).unwrap()));
    let outputs = vec![
        TxOut { value: 1_000_000, predicate: to.predicate() },
        TxOut { value: value - 1_010_000, predicate: from.predicate() },
    ];
    let mut tx = signed_transfer(&genesis, &kp, &[coin], outputs);
    tx.sort_canonical();
    let tx = signed_transfer(&genesis, &kp, &[coin], tx.outputs);
    c.request("tx_submit", rpc_params![hex::encode(tx.encode())]).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_validators_and_a_full_node_agree_survive_kills_and_stall_without_quorum() {
    let dir = tempfile::tempdir().unwrap();
    let mut v: Vec<Node> = (0..4).map(|s| Node::new(dir.path(), &format!("v{s}"), Some(s), s)).collect();
    let mut full = Node::new(dir.path(), "full", None, 9);
    let mut boot = Vec::new();
    for n in v.iter_mut() {
        n.start(&boot);
        boot.push(n.addr());
    }
    full.start(&boot);
    let _load = keep_busy(v.iter().chain([&full]).map(|n| n.url.clone()).collect());
    {
        let all: Vec<&Node> = v.iter().chain([&full]).collect();
        all_reach(&all, 3, 60).await;
    }

    // Transactions through a validator and through the full node finalize at one anchor each,
    // the same on every node.
    let a = transfer(&v[1], 0, 11).await;
    let b = transfer(&full, 1, 12).await;
    let mut at = Vec::new();
    for id in [&a, &b] {
        let n = &v[0];
        let s = wait_for("finality", 60, async || {
            let s = n.status(id).await;
            (s["status"] == "finalized").then_some(s)
        })
        .await;
        at.push(s["anchor"].as_u64().unwrap());
    }
    let top = *at.iter().max().unwrap();
    {
        let all: Vec<&Node> = v.iter().chain([&full]).collect();
        all_reach(&all, top, 60).await;
        for n in &all {
            for (id, anchor) in [&a, &b].iter().zip(&at) {
                let s = n.status(id).await;
                assert_eq!(
                    (s["status"].as_str(), s["anchor"].as_u64()),
                    (Some("finalized"), Some(*anchor)),
                    "{}",
                    n.url
                );
            }
        }
        agree(&all, top).await;
    }

    // SIGKILL a validator: the other three keep finalizing; restarted, it catches up.
    v[3].kill();
    let before = v[0].best().await;
    all_reach(&[&v[0], &v[1], &v[2], &full], before + 5, 60).await;
    v[3].start(&boot[..3]);
    let now = v[0].best().await;
    all_reach(&[&v[3]], now, 60).await;

    // Two of four down: no quorum, so no new anchor anywhere; back up, progress resumes.
    v[2].kill();
    v[3].kill();
    tokio::time::sleep(Duration::from_millis(1500)).await; // anchors already in flight land
    let highest = async || v[0].best().await.max(v[1].best().await).max(full.best().await);
    let stalled = highest().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(highest().await, stalled, "no finality without a quorum");
    v[2].start(&boot[..2]);
    v[3].start(&boot[..2]);
    let all: Vec<&Node> = v.iter().chain([&full]).collect();
    all_reach(&all, stalled + 5, 90).await;

    // Everything agrees from genesis on, and no finalized transaction was lost.
    let common_top = {
        let mut m = u64::MAX;
        for n in &all {
            m = m.min(n.best().await);
        }
        m
    };
    agree(&all, common_top).await;
    for n in &all {
        for (id, anchor) in [&a, &b].iter().zip(&at) {
            let s = n.status(id).await;
            assert_eq!((s["status"].as_str(), s["anchor"].as_u64()), (Some("finalized"), Some(*anchor)), "{}", n.url);
        }
    }
}
