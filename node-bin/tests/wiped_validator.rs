//! A validator whose data directory is wiped and which is restarted with the same seat must
//! not sign any slot it signed before (that would be an equivocation, slashed at 100 %): it
//! learns its own newest events from its peers first (docs/spec/consensus.md §10). Before this
//! rule, Testnet-0 validators restarted this way were reported as equivocators within seconds.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::testnet::{Node, agree, all_reach, keep_busy, start_validators};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wiped_validator_relearns_its_events_and_never_equivocates() {
    let dir = tempfile::tempdir().unwrap();
    let (mut v, boot) = start_validators(dir.path(), 4);
    let _load = keep_busy(v.iter().map(|n| n.url.clone()).collect());
    // Long enough that seat 3's chain outgrows one anti-entropy answer (256 events of all
    // seats): a restarted node then learns its chain over several rounds, and signing before
    // the last one is what equivocated on Testnet-0.
    all_reach(&v.iter().collect::<Vec<_>>(), 40, 120).await;

    // Wipe seat 3 while the others go on, and bring it back with the same key.
    v[3].kill();
    v[3].wipe();
    let before = v[0].best().await;
    all_reach(&[&v[0], &v[1], &v[2]], before + 3, 60).await;
    let mark = v[3].log_mark();
    v[3].start(&boot[..3]);

    // It waited for its own events, resumed above them, caught up, and finality went on.
    let resumed = common::wait_for("seat 3 to resume signing", 60, async || {
        v[3].log_lines_since(mark, "own events learned from peers; signing").into_iter().next()
    })
    .await;
    let next_seq: u64 = resumed
        .split("next_seq=")
        .nth(1)
        .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no next_seq in `{resumed}`"));
    assert!(next_seq > 1, "a wiped seat must continue its chain, not restart it: {resumed}");
    let now = v[0].best().await;
    let all: Vec<&Node> = v.iter().collect();
    all_reach(&all, now + 5, 90).await;
    agree(&all, now + 5).await;

    // Nobody ever saw two events of one seat for one slot.
    for (i, n) in v.iter().enumerate() {
        let seen = n.log_lines("equivocation");
        assert!(seen.is_empty(), "validator {i} saw an equivocation: {seen:?}");
    }
}
