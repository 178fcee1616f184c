//! Twins (one seat key run by two nodes) make the seat equivocate; the honest validators turn
//! what they saw into evidence calls, and the fault lands on chain once, the same on every
//! node, while finality goes on (docs/runtime-api.md §12, consensus.md §8). The node binary
//! enables no evidence receiver, so the host keeps the fault and serves it over RPC.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::testnet::{Node, all_reach, keep_busy, start_validators};
use common::wait_for;
use jsonrpsee_core::client::ClientT;
use jsonrpsee_core::rpc_params;
use serde_json::Value;

async fn evidence(n: &Node) -> Vec<Value> {
    let v: Value = n.client().request("chain_getEvidence", rpc_params![]).await.unwrap();
    v.as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_twinned_seat_equivocates_and_the_evidence_lands_on_chain_once_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let (mut v, boot) = start_validators(dir.path(), 4);
    let mut twin = Node::new(dir.path(), "twin", Some(3), 9);
    twin.start(&boot);
    let load = keep_busy(v.iter().map(|n| n.url.clone()).collect());

    let found = wait_for("evidence of seat 3 on chain", 120, async || {
        let e = evidence(&v[0]).await;
        (!e.is_empty()).then_some(e)
    })
    .await;
    assert!(found.iter().all(|f| f["seat"] == 3 && f["kind"] == "equivocation"), "{found:?}");
    let at = found.iter().map(|f| f["anchor"].as_u64().unwrap()).max().unwrap();

    // Finality goes on with one Byzantine seat of four, and every node holds the same record.
    let honest: Vec<&Node> = v[..3].iter().collect();
    all_reach(&honest, at + 3, 90).await;
    drop(load);
    let first = evidence(&v[0]).await;
    let first_of = |e: &[Value]| e.iter().filter(|f| f["anchor"].as_u64().unwrap() <= at).cloned().collect::<Vec<_>>();
    for n in &honest[1..] {
        assert_eq!(first_of(&evidence(n).await), first_of(&first), "evidence differs at {}", n.url);
    }
    let keys: Vec<&Value> = first.iter().map(|f| &f["key"]).collect();
    let mut dedup = keys.clone();
    dedup.dedup();
    assert_eq!(keys, dedup, "one record per fault");
    // Some node said what it saw (whichever first holds both events: the twins see each other's
    // too).
    let said: usize = v.iter().chain([&twin]).map(|n| n.log_lines("equivocation evidence submitted").len()).sum();
    assert!(said > 0, "no node submitted evidence");
    drop(twin);
    v.clear();
}
