//! An idle chain rests (docs/spec/consensus.md §12): four validators with nothing to order but
//! their candidacies for the next epoch finalize those and then sign no event and finalize no
//! anchor; a transaction wakes them, finalizes, and they fall quiet again: event counters,
//! anchor index and the DAG stand still.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::testnet::{Node, all_reach, keep_busy, start_validators};
use common::wait_for;
use jsonrpsee_core::client::ClientT;
use jsonrpsee_core::rpc_params;
use serde_json::Value;
use std::time::Duration;

/// (best anchor, events accepted) of every node.
async fn snapshot(nodes: &[Node]) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    for n in nodes {
        let info: Value = n.client().request("chain_getInfo", rpc_params![]).await.unwrap();
        out.push((
            info["best_finalized_anchor"].as_u64().unwrap(),
            info["consensus"]["events_accepted"].as_u64().unwrap(),
        ));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_network_rests_and_a_transaction_wakes_it() {
    let dir = tempfile::tempdir().unwrap();
    let (v, _) = start_validators(dir.path(), 4);

    // Nothing to order but each validator's candidacy for the next epoch (committee-vrf, once
    // per epoch): once those are final, no event and no anchor.
    let first = wait_for("the new network to rest", 60, async || {
        let a = snapshot(&v).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let b = snapshot(&v).await;
        (a == b).then_some(b)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(snapshot(&v).await, first, "an idle chain signed events");
    assert!(first.iter().all(|(best, _)| *best <= 8), "more than the candidacies' anchors: {first:?}");
    for n in &v {
        assert!(!n.log_lines("candidacy submitted").is_empty(), "{} sent no candidacy", n.url);
    }

    // Traffic wakes it; anchors follow.
    let load = keep_busy(v.iter().map(|n| n.url.clone()).collect());
    let base = first.iter().map(|(b, _)| *b).max().unwrap();
    all_reach(&v.iter().collect::<Vec<_>>(), base + 3, 60).await;
    drop(load);

    // Once the last transaction is final everywhere, everything stands still.
    let rested = wait_for("the network to rest", 60, async || {
        let a = snapshot(&v).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let b = snapshot(&v).await;
        (a == b).then_some(b)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(snapshot(&v).await, rested, "a resting network went on");
    assert!(rested.iter().all(|(best, _)| *best >= base + 3));
}
