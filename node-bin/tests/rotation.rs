//! A committee that is chain state, on real processes (docs/runtime-api.md §13, consensus.md
//! §14): six validators, of whom four sit at a time, on a chain whose toy provider `rotate`
//! (tests/src/rotate.rs, linked into `pc-test-rotation-node` only) moves the committee one
//! key on every 6-anchor epoch. Every key changes seat index at every switch, two keys that
//! start outside the committee are seated later, and one validator is killed across a switch
//! and restarted. Finality goes on through every switch, every node holds the same anchors
//! and the same committee for every epoch, and nobody ever sees an equivocation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::node_out;
use common::testnet::{Node, agree, all_reach, keep_busy, lowest_best};
use jsonrpsee_core::client::ClientT;
use jsonrpsee_core::rpc_params;
use serde_json::Value;

const R: u64 = 6;
const KEYS: usize = 6;
const SEATS: usize = 4;

async fn committee_at(n: &Node, anchor: u64) -> Vec<String> {
    let c: Value = n.client().request("chain_getCommittee", rpc_params![anchor]).await.unwrap();
    assert_eq!(c["epoch"].as_u64(), Some((anchor - 1) / R * R + 1), "{c}");
    c["seats"].as_array().unwrap().iter().map(|s| s["key"].as_str().unwrap().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn six_validators_rotate_through_four_seats_and_finality_goes_on_through_every_switch() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut spec: Value = serde_json::from_str(&node_out(&["build-spec", "--chain", "testnet-0"])).unwrap();
    spec["id"] = "rotation-net".into();
    spec["network_id"] = "rotation-net".into();
    spec["constants"]["windows"]["epoch_anchors"] = R.into();
    // Well-known validator keys 0..6 of this chain id; the first four are the genesis committee.
    let plain = pc_chainspec::ChainSpec::from_json(&spec.to_string()).unwrap();
    let keys: Vec<String> = (0..KEYS as u8)
        .map(|n| {
            let kp = pc_crypto::keypair_from_seed(plain.dev_seat_secret(n).unwrap()).unwrap();
            hex::encode(pc_crypto::XOnly::of(&kp).0)
        })
        .collect();
    // `rotate` is this chain's committee provider: one provider per chain.
    spec["modules"].as_object_mut().unwrap().remove("committee-vrf");
    spec["modules"]["rotate"] = serde_json::json!({ "candidates": keys });
    let path = d.join("rotation-net.json");
    std::fs::write(&path, spec.to_string()).unwrap();
    let chain = path.to_str().unwrap().to_string();

    let mut v: Vec<Node> = (0..KEYS as u8).map(|s| Node::new(d, &format!("v{s}"), Some(s), s)).collect();
    let mut boot = Vec::new();
    for n in v.iter_mut() {
        n.chain = chain.clone();
        n.bin = env!("CARGO_BIN_EXE_pc-test-rotation-node").into();
        n.start(&boot);
        boot.push(n.addr());
    }
    let _load = keep_busy(v.iter().map(|n| n.url.clone()).collect());
    // Five switches: every key has been seated and unseated by anchor 31.
    all_reach(&v.iter().collect::<Vec<_>>(), 5 * R + 2, 300).await;

    // Every node holds the rule's committee for every epoch.
    for e in 0..=5u64 {
        let expect: Vec<String> = (0..SEATS).map(|i| keys[(e as usize + i) % KEYS].clone()).collect();
        for (i, n) in v.iter().enumerate() {
            assert_eq!(committee_at(n, e * R + 1).await, expect, "node {i}, epoch {}", e * R + 1);
        }
    }
    // Key 4 sat first in the epoch starting at 7, key 5 at 13: both learned their own newest
    // events from peers before signing, and signed.
    for (k, from) in [(4usize, 7u64), (5, 13)] {
        let seated = v[k].log_lines("the committee changed this node's seat");
        assert!(seated.iter().any(|l| l.contains(&format!("epoch={from} "))), "key {k}: {seated:?}");
        assert!(!v[k].log_lines("own events learned from peers; signing").is_empty(), "key {k} never signed");
    }

    // Key 1 down while the others cross an epoch end; back, it catches up through the switch.
    v[1].kill();
    let before = lowest_best(&[&v[0], &v[2], &v[3], &v[4], &v[5]]).await;
    all_reach(&[&v[0], &v[2], &v[3], &v[4], &v[5]], before + R + 2, 180).await;
    v[1].start(&[boot[0].clone(), boot[2].clone()]);
    let now = v[0].best().await;
    let all: Vec<&Node> = v.iter().collect();
    all_reach(&all, now + 2, 180).await;

    let top = lowest_best(&all).await;
    agree(&all, top).await;
    for (i, n) in v.iter().enumerate() {
        let seen = n.log_lines("equivocation");
        assert!(seen.is_empty(), "validator {i} saw an equivocation: {seen:?}");
    }
}
