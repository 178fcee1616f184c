//! What the process-level tests share: a `phantom-node` child on a dev chain and polling.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod testnet;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process killed (SIGKILL) and reaped when dropped.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `phantom-node run --chain dev` on `dir` (RPC on `port`, 0 = any) with one event every
/// `interval_ms`; returns once it logged "node ready", with its RPC URL. Its log keeps being
/// drained so it never blocks on a full pipe.
pub fn start_dev_node(dir: &Path, port: u16, interval_ms: u64) -> (Proc, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_phantom-node"))
        .args(["run", "--chain", "dev", "--rpc-port", &port.to_string()])
        .args(["--event-interval-ms", &interval_ms.to_string(), "--base-path"])
        .arg(dir)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut addr = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if line.contains("JSON-RPC listening") {
            addr = line.split("addr=").nth(1).map(|a| a.split_whitespace().next().unwrap().to_string());
        }
        if line.contains("node ready") {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    (Proc(child), format!("http://{}", addr.expect("the node logs its RPC address")))
}

/// Runs `phantom-node ARGS` to completion and returns its stdout; fails on a non-zero exit.
pub fn node_out(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_phantom-node")).args(args).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Polls `f` every 50 ms until it yields, failing after `secs`.
pub async fn wait_for<T>(what: &str, secs: u64, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// phantom-signer, built if a lone `cargo test -p phantom-node` did not build it.
pub fn signer_bin() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_BIN_EXE_phantom-node")).with_file_name("phantom-signer");
    if !path.exists() {
        let ok = Command::new(env!("CARGO")).args(["build", "-p", "phantom-signer"]).status().unwrap().success();
        assert!(ok, "cannot build phantom-signer");
    }
    path
}

/// `phantom-signer --keystore KS ARGS` with the test password.
pub fn signer(ks: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(signer_bin());
    c.arg("--keystore").arg(ks).args(args).env("PHANTOM_SIGNER_PASSWORD", "pw");
    c
}

/// Starts `phantom-signer serve` for `ks` with socket, token and protection files named after
/// it; returns once the socket exists.
pub fn serve_signer(ks: &Path) -> (Proc, PathBuf, PathBuf) {
    let (socket, token) = (ks.with_extension("sock"), ks.with_extension("token"));
    let child = signer(ks, &["serve", "--socket", socket.to_str().unwrap(), "--token-file", token.to_str().unwrap()])
        .arg("--protection")
        .arg(ks.with_extension("protection"))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let proc = Proc(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !socket.exists() {
        assert!(Instant::now() < deadline, "the signer did not bind its socket");
        std::thread::sleep(Duration::from_millis(20));
    }
    (proc, socket, token)
}
