//! Consensus epochs on real processes (docs/spec/consensus.md §11): four validators on a
//! chain whose epochs last 10 anchors switch DAGs at the same anchors without a stop in
//! finality; a validator killed across a switch catches up through its peers' previous
//! epoch; a validator restored from a snapshot joins the running epoch and signs again above
//! its own events. Nobody ever sees an equivocation, and every node holds the same anchors. A
//! validator down for longer than its peers keep epochs is told so.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::node_out;
use common::testnet::{Node, agree, all_reach, keep_busy, lowest_best};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validators_switch_epochs_together_and_a_killed_or_restored_one_rejoins() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Testnet-0 renamed (its own network and well-known keys) with 10-anchor epochs.
    let mut spec: serde_json::Value = serde_json::from_str(&node_out(&["build-spec", "--chain", "testnet-0"])).unwrap();
    spec["id"] = "epoch-net".into();
    spec["network_id"] = "epoch-net".into();
    spec["constants"]["windows"]["epoch_anchors"] = 10.into();
    spec["modules"]["committee-vrf"]["heartbeat"] = 5.into(); // below the epoch length
    let path = d.join("epoch-net.json");
    std::fs::write(&path, spec.to_string()).unwrap();
    let chain = path.to_str().unwrap().to_string();

    let mut v: Vec<Node> = (0..4).map(|s| Node::new(d, &format!("v{s}"), Some(s), s)).collect();
    let mut boot = Vec::new();
    for n in v.iter_mut() {
        n.chain = chain.clone();
        n.start(&boot);
        boot.push(n.addr());
    }
    let _load = keep_busy(v.iter().map(|n| n.url.clone()).collect());
    all_reach(&v.iter().collect::<Vec<_>>(), 25, 120).await;
    for (i, n) in v.iter().enumerate() {
        for epoch in ["epoch=11 ", "epoch=21 "] {
            assert!(
                n.log_lines("new consensus epoch").iter().any(|l| l.contains(epoch)),
                "validator {i} never switched to {epoch}"
            );
        }
    }

    // Seat 3 down while the others cross at least one epoch end; back, it catches up.
    v[3].kill();
    let before = v[0].best().await;
    all_reach(&[&v[0], &v[1], &v[2]], before + 12, 90).await;
    v[3].start(&boot[..3]);
    let now = v[0].best().await;
    all_reach(&v.iter().collect::<Vec<_>>(), now + 3, 120).await;

    // Seat 2 restored from a snapshot of its own state: it joins the epoch the others are in.
    v[2].kill();
    let base = d.join("v2");
    let snap = d.join("v2.snapshot");
    let (b, s) = (base.to_str().unwrap(), snap.to_str().unwrap());
    node_out(&["export-snapshot", "--chain", &chain, "--base-path", b, "--file", s]);
    v[2].wipe();
    let imported = node_out(&["import-snapshot", "--chain", &chain, "--base-path", b, "--file", s]);
    let restored_at: u64 = imported
        .split("imported anchor ")
        .nth(1)
        .and_then(|t| t.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("no anchor in `{imported}`"));
    let before = v[0].best().await;
    all_reach(&[&v[0], &v[1], &v[3]], before + 3, 90).await;
    let mark = v[2].log_mark();
    v[2].start(&[boot[0].clone(), boot[1].clone(), boot[3].clone()]);
    common::wait_for("seat 2 to resume signing", 90, async || {
        v[2].log_lines_since(mark, "own events learned from peers; signing").into_iter().next()
    })
    .await;
    let now = v[0].best().await;
    let all: Vec<&Node> = v.iter().collect();
    all_reach(&all, now + 12, 120).await;
    let top = lowest_best(&all).await;
    agree(&[&v[0], &v[1], &v[3]], top).await;
    // The restored node holds the records of the anchors after its snapshot.
    for i in restored_at + 1..=top {
        assert_eq!(v[2].anchor(i).await, v[0].anchor(i).await, "anchor {i}");
    }

    for (i, n) in v.iter().enumerate() {
        let seen = n.log_lines("equivocation");
        assert!(seen.is_empty(), "validator {i} saw an equivocation: {seen:?}");
    }

    // Down for more than the eight epochs peers keep: they answer that its epoch is gone,
    // and it tells its operator to restore a snapshot instead of waiting forever.
    v[1].kill();
    let before = v[0].best().await;
    all_reach(&[&v[0], &v[2], &v[3]], before + 100, 240).await;
    let mark = v[1].log_mark();
    v[1].start(&[boot[0].clone()]);
    common::wait_for("the pruned-epoch warning", 60, async || {
        v[1].log_lines_since(mark, "no longer keeps this node's consensus epoch").into_iter().next()
    })
    .await;
}
