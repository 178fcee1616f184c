//! A committee that lists its seat keys: seat 0's key is held by a `phantom-signer serve`
//! process, seats 1–3 use their well-known keys (named in the list too). The four validators
//! finalize together; the well-known key of seat 0 is refused because the list names another.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::testnet::{Node, agree, all_reach, keep_busy};
use common::{Proc, node_out, signer};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signer_held_seat_validates_beside_well_known_seats() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ks = d.join("seat.json");
    assert!(signer(&ks, &["--kdf-memory-kib", "64", "init"]).stdout(Stdio::null()).status().unwrap().success());
    let key0 = String::from_utf8(signer(&ks, &["seat-key"]).output().unwrap().stdout).unwrap().trim().to_string();

    // The chainspec: testnet-0 renamed (so its well-known keys are its own) with a committee.
    let mut spec: serde_json::Value = serde_json::from_str(&node_out(&["build-spec", "--chain", "testnet-0"])).unwrap();
    spec["id"] = "signer-net".into();
    spec["network_id"] = "signer-net".into();
    let path = d.join("signer-net.json");
    std::fs::write(&path, spec.to_string()).unwrap();
    let path_s = path.to_str().unwrap().to_string();
    let mut committee: Vec<String> = node_out(&["dev-seats", "--chain", &path_s])
        .lines()
        .map(|l| l.split(' ').nth(1).unwrap().to_string())
        .collect();
    committee[0] = key0;
    spec["committee"] = committee.into();
    std::fs::write(&path, spec.to_string()).unwrap();

    let (socket, token) = (d.join("s.sock"), d.join("s.token"));
    let serve = signer(&ks, &["serve", "--socket", socket.to_str().unwrap(), "--token-file", token.to_str().unwrap()])
        .arg("--protection")
        .arg(d.join("protection.log"))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _serve = Proc(serve);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !socket.exists() {
        assert!(Instant::now() < deadline, "the signer did not bind its socket");
        std::thread::sleep(Duration::from_millis(20));
    }

    // Seat 0's well-known key is not the listed one: refused with a clear error.
    let refused = Command::new(env!("CARGO_BIN_EXE_phantom-node"))
        .args(["run", "--chain", &path_s, "--seat", "0", "--rpc-port", "0", "--base-path"])
        .arg(d.join("wrong"))
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("use phantom-signer"));

    let mut v: Vec<Node> = (0..4).map(|s| Node::new(d, &format!("v{s}"), (s > 0).then_some(s), s)).collect();
    let mut boot = Vec::new();
    for n in v.iter_mut() {
        n.chain = path_s.clone();
        if n.extra.is_empty() && boot.is_empty() {
            n.extra = vec![
                "--signer-socket".into(),
                socket.to_str().unwrap().into(),
                "--signer-token-file".into(),
                token.to_str().unwrap().into(),
            ];
        }
        n.start(&boot);
        boot.push(n.addr());
    }
    let _load = keep_busy(v.iter().map(|n| n.url.clone()).collect());
    let all: Vec<&Node> = v.iter().collect();
    all_reach(&all, 5, 60).await;
    agree(&all, 5).await;
    let log = std::fs::read_to_string(d.join("protection.log")).unwrap();
    assert!(
        log.lines().count() >= 3 && log.lines().all(|l| l.starts_with("0 1 0 ")),
        "seat 0 signed through the signer: {log}"
    );
}
