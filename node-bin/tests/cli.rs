//! The operator's view of `phantom-node`: build-spec, refusals with named fields, run and
//! restart on a RocksDB base path, snapshot export and import.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};

fn node(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_phantom-node")).args(args).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn dev_spec() -> serde_json::Value {
    let o = node(&["build-spec", "--chain", "dev"]);
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn build_spec_lists_modules_and_raw_is_stable() {
    let spec = dev_spec();
    assert!(spec["modules"].get("genesis").is_some());
    assert_eq!(spec["constants"]["committee_size"], 1);
    let a = node(&["build-spec", "--chain", "dev", "--raw"]);
    let b = node(&["build-spec", "--chain", "dev", "--raw"]);
    assert!(a.status.success());
    assert_eq!(a.stdout, b.stdout);
    let raw: serde_json::Value = serde_json::from_slice(&a.stdout).unwrap();
    assert_eq!(raw["genesis_hash"].as_str().unwrap().len(), 64);
    // A raw spec written to a file is accepted back and prints the same raw form.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("raw.json");
    std::fs::write(&path, &a.stdout).unwrap();
    let again = node(&["build-spec", "--chain", path.to_str().unwrap(), "--raw"]);
    assert_eq!(again.stdout, a.stdout, "{}", stderr(&again));
}

fn refused(spec: &serde_json::Value) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spec.json");
    std::fs::write(&path, spec.to_string()).unwrap();
    let o = node(&["build-spec", "--chain", path.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(o.stdout.is_empty(), "a refused spec prints nothing on stdout");
    stderr(&o)
}

#[test]
fn unknown_module_and_removed_field_are_named() {
    let mut spec = dev_spec();
    spec["modules"]["attestor-pool"] = serde_json::json!({});
    let e = refused(&spec);
    assert!(e.contains("`attestor-pool`") && e.contains("module-attestor-pool"), "{e}");

    let mut spec = dev_spec();
    spec["constants"]["windows"].as_object_mut().unwrap().remove("slash_window");
    let e = refused(&spec);
    assert!(e.contains("constants.windows") && e.contains("slash_window"), "{e}");

    // A module's own constant, checked by the module, named with its path.
    let mut spec = dev_spec();
    spec["modules"]["mint-pow"]["maturity_tiers"] = serde_json::json!([10, 5]);
    let e = refused(&spec);
    assert!(e.contains("modules.mint-pow.maturity_tiers"), "{e}");
    let mut spec = dev_spec();
    spec["modules"]["mint-pow"]["halving_mints"] = serde_json::json!(u64::MAX / 4);
    let e = refused(&spec);
    assert!(e.contains("modules.mint-pow.halving_mints") && e.contains("supply_cap"), "{e}");

    let mut spec = dev_spec();
    spec["modules"]["genesis"].as_object_mut().unwrap().remove("genesis_note");
    let e = refused(&spec);
    assert!(e.contains("modules.genesis") && e.contains("genesis_note"), "{e}");

    let e = node(&["build-spec", "--chain", "/nonexistent/spec.json"]);
    assert!(stderr(&e).contains("/nonexistent/spec.json"));
}

/// Starts `run`, waits for its start-up log, stops it with SIGINT, returns its log.
fn run_once(base: &std::path::Path) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_phantom-node"))
        .args(["run", "--chain", "dev", "--base-path", base.to_str().unwrap(), "--rpc-port", "0"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = String::new();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        log.push_str(&line);
        log.push('\n');
        if line.contains("node ready") {
            break;
        }
    }
    assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
    for line in lines {
        log.push_str(&line.unwrap());
        log.push('\n');
    }
    assert!(child.wait().unwrap().success(), "{log}");
    log
}

#[test]
fn run_commits_genesis_logs_its_hash_and_restarts_cleanly() {
    let raw: serde_json::Value =
        serde_json::from_slice(&node(&["build-spec", "--chain", "dev", "--raw"]).stdout).unwrap();
    let genesis = raw["genesis_hash"].as_str().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let first = run_once(dir.path());
    assert!(first.contains(&genesis), "genesis hash not logged:\n{first}");
    assert!(first.contains("genesis committed"));
    assert!(first.contains("anchor=0"));
    let second = run_once(dir.path());
    assert!(!second.contains("genesis committed"), "genesis must not be applied twice:\n{second}");
    assert!(second.contains("anchor=0"));

    // Snapshot export, then import into an empty base path; a second import is refused.
    let snap = dir.path().join("state.snapshot");
    let base = dir.path().to_str().unwrap();
    let o = node(&["export-snapshot", "--chain", "dev", "--base-path", base, "--file", snap.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let other = tempfile::tempdir().unwrap();
    let ob = other.path().to_str().unwrap();
    let o = node(&["import-snapshot", "--chain", "dev", "--base-path", ob, "--file", snap.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("imported anchor 0"));
    let o = node(&["import-snapshot", "--chain", "dev", "--base-path", ob, "--file", snap.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("already holds state"), "{}", stderr(&o));
}
