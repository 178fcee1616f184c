//! Applies synthetic anchors to a RocksDB directory, printing each commit; used by the SIGKILL
//! test, which kills it mid-run and starts it again on the same directory.
//!
//! Usage: `pc-anchor-driver <dir> <last anchor>`. Prints `resume <anchor> <root>` once, then
//! `committed <anchor> <root>` after each durable commit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use pc_integration_tests::{churn_spec, synthetic_anchor};
use pc_runtime::Runtime;
use pc_state::StateDb;
use std::io::Write;
use std::sync::Arc;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = std::path::PathBuf::from(&args[1]);
    let last: u64 = args[2].parse().unwrap();
    let rt = Runtime::new(churn_spec()).unwrap();
    let db = StateDb::new(Arc::new(pc_store::RocksStore::open(&dir).unwrap()));
    let head = rt.init_genesis(&db).unwrap();
    let mut out = std::io::stdout().lock();
    writeln!(out, "resume {} {}", head.anchor, head.state_root).unwrap();
    out.flush().unwrap();
    for i in head.anchor + 1..=last {
        let outcome = rt.apply_anchor(&db, &synthetic_anchor(i)).unwrap();
        writeln!(out, "committed {} {}", i, outcome.record.state_root).unwrap();
        out.flush().unwrap();
    }
}
