//! Real processes for the signer's end-to-end tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use jsonrpsee_core::client::ClientT;
use jsonrpsee_core::rpc_params;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process killed (SIGKILL) and reaped on drop.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A workspace binary next to this package's, built if a lone `cargo test -p phantom-signer`
/// did not build it.
pub fn sibling(name: &str, package: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_BIN_EXE_phantom-signer")).with_file_name(name);
    if !path.exists() {
        let ok = Command::new(env!("CARGO")).args(["build", "-p", package]).status().unwrap().success();
        assert!(ok, "cannot build {package}");
    }
    path
}

/// Starts `phantom-node run --chain dev` on a free RPC port with `extra` arguments; returns
/// the process and its HTTP URL once it logged "node ready".
pub fn start_node(base: &Path, extra: &[&str]) -> (Proc, String) {
    let mut child = Command::new(sibling("phantom-node", "phantom-node"))
        .args(["run", "--chain", "dev", "--rpc-port", "0", "--event-interval-ms", "100", "--base-path"])
        .arg(base)
        .args(extra)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut url = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(a) = line.split("addr=").nth(1).filter(|_| line.contains("JSON-RPC listening")) {
            url = Some(format!("http://{}", a.split_whitespace().next().unwrap()));
        }
        if line.contains("node ready") {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    (Proc(child), url.expect("the node did not start"))
}

/// An HTTP JSON-RPC client.
pub fn client(url: &str) -> jsonrpsee_http_client::HttpClient {
    jsonrpsee_http_client::HttpClientBuilder::default().build(url).unwrap()
}

/// The best finalized anchor index.
pub async fn best_anchor(url: &str) -> u64 {
    let info: Value = client(url).request("chain_getInfo", rpc_params![]).await.unwrap();
    info["best_finalized_anchor"].as_u64().unwrap()
}

/// Waits until transaction `id` is finalized.
pub async fn wait_finalized(url: &str, id: &str, secs: u64) {
    let c = client(url);
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let s: Value = c.request("tx_status", rpc_params![id]).await.unwrap();
        if s["status"] == "finalized" {
            return;
        }
        assert!(s["status"] == "pending", "{s}");
        assert!(Instant::now() < deadline, "not finalized in {secs} s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Keeps a resting dev chain busy (it finalizes nothing without traffic): `phantom-node
/// loadgen` against `url` from development account 1, killed on drop.
pub fn load(url: &str) -> Proc {
    let child = Command::new(sibling("phantom-node", "phantom-node"))
        .args(["loadgen", "--rpc-url", url, "--rate", "5", "--duration", "600"])
        .args(["--accounts", "2", "--dev-account", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Proc(child)
}
