//! Never lose data: a process applying anchors to RocksDB is killed with SIGKILL mid-run,
//! restarted on the same directory, and must resume exactly at its last committed anchor —
//! nothing lost, nothing applied twice, every state root identical to an uninterrupted run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use pc_codec::Hash32;
use pc_integration_tests::{churn_spec, reference_roots};
use pc_runtime::Runtime;
use pc_state::StateDb;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;

const LAST: u64 = 240;

fn parse(line: &str) -> (String, u64, Hash32) {
    let mut it = line.split_whitespace();
    let tag = it.next().unwrap().to_string();
    let n = it.next().unwrap().parse().unwrap();
    let root = Hash32::from_hex(it.next().unwrap()).unwrap();
    (tag, n, root)
}

/// Runs the driver; kills it with SIGKILL once it has printed `kill_after` commits (if given).
/// Returns the resume point and the last commit it reported.
fn run_driver(dir: &std::path::Path, kill_after: Option<u64>) -> ((u64, Hash32), Option<u64>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pc-anchor-driver"))
        .arg(dir)
        .arg(LAST.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (tag, resume, root) = parse(&lines.next().unwrap().unwrap());
    assert_eq!(tag, "resume");
    let mut last = None;
    let mut seen = 0;
    for line in lines {
        let (tag, n, _) = parse(&line.unwrap());
        assert_eq!(tag, "committed");
        // Nothing is applied twice: the first anchor after a restart follows the resume point.
        assert_eq!(n, last.unwrap_or(resume) + 1);
        last = Some(n);
        seen += 1;
        if kill_after == Some(seen) {
            child.kill().unwrap(); // SIGKILL on Unix
            break;
        }
    }
    child.wait().unwrap();
    ((resume, root), last)
}

#[test]
fn sigkill_mid_run_resumes_at_last_committed_anchor_with_identical_roots() {
    let reference = reference_roots(LAST);
    let dir = tempfile::tempdir().unwrap();
    let mut durable = 0; // highest anchor the driver reported as committed
    for kill_after in [17, 41, 5] {
        let ((resume, root), last) = run_driver(dir.path(), Some(kill_after));
        assert!(resume >= durable, "resumed at {resume}, but {durable} was reported committed");
        assert_eq!(root, reference[resume as usize], "state root at resume point {resume}");
        durable = last.unwrap();
    }
    let ((resume, root), last) = run_driver(dir.path(), None);
    assert!(resume >= durable);
    assert_eq!(root, reference[resume as usize]);
    assert_eq!(last, Some(LAST));

    // Every anchor record is present exactly once, with the reference root.
    let rt = Runtime::new(churn_spec()).unwrap();
    let db = StateDb::new(Arc::new(pc_store::RocksStore::open(dir.path()).unwrap()));
    assert_eq!(rt.init_genesis(&db).unwrap().anchor, LAST);
    for i in 0..=LAST {
        let rec = Runtime::anchor_record(&db, i).unwrap().unwrap();
        assert_eq!(rec.state_root, reference[i as usize], "anchor {i}");
    }
    assert_eq!(db.state_root().unwrap(), reference[LAST as usize]);
}
