//! A local multi-node network of `phantom-node` processes on testnet-0.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::{Proc, wait_for};
use jsonrpsee_core::client::ClientT;
use jsonrpsee_core::rpc_params;
use jsonrpsee_http_client::{HttpClient, HttpClientBuilder};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

/// One node: a validator of `seat`, or a full node.
pub struct Node {
    base: PathBuf,
    seat: Option<u8>,
    key: String,
    port: u16,
    /// Its libp2p peer id.
    pub peer_id: String,
    /// Its JSON-RPC URL.
    pub url: String,
    proc: Option<Proc>,
    /// The chain (`testnet-0` unless set).
    pub chain: String,
    /// More arguments for `run`.
    pub extra: Vec<String>,
    /// The node binary (`phantom-node` unless set).
    pub bin: String,
    /// Every log line since start.
    pub log: Arc<Mutex<Vec<String>>>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Node {
    pub fn new(dir: &Path, name: &str, seat: Option<u8>, n: u8) -> Node {
        Node {
            base: dir.join(name),
            seat,
            key: format!("{:064x}", u64::from(n) + 1),
            port: free_port(),
            peer_id: String::new(),
            url: String::new(),
            proc: None,
            chain: "testnet-0".into(),
            extra: Vec::new(),
            bin: env!("CARGO_BIN_EXE_phantom-node").into(),
            log: Arc::new(Mutex::new(Vec::new())),
        }
    }

    pub fn addr(&self) -> String {
        format!("/ip4/127.0.0.1/tcp/{}/p2p/{}", self.port, self.peer_id)
    }

    pub fn start(&mut self, boot: &[String]) {
        let mut cmd = Command::new(&self.bin);
        cmd.args(["run", "--chain", &self.chain, "--rpc-port", "0", "--event-interval-ms", "100"])
            .args(["--log", "info,pc::net=debug"])
            .arg("--base-path")
            .arg(&self.base)
            .args(["--listen", &format!("/ip4/127.0.0.1/tcp/{}", self.port), "--node-key", &self.key]);
        if let Some(s) = self.seat {
            cmd.args(["--seat", &s.to_string()]);
        }
        if !boot.is_empty() {
            cmd.args(["--bootnodes", &boot.join(",")]);
        }
        cmd.args(&self.extra);
        let mut child = cmd.stderr(Stdio::piped()).spawn().unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        for line in lines.by_ref() {
            let line = line.unwrap();
            let field = |k: &str| line.split(k).nth(1).map(|a| a.split_whitespace().next().unwrap().to_string());
            if line.contains("JSON-RPC listening") {
                self.url = format!("http://{}", field("addr=").unwrap());
            }
            if line.contains("network identity") {
                self.peer_id = field("peer_id=").unwrap();
            }
            if line.contains("node ready") {
                break;
            }
        }
        let log = self.log.clone();
        std::thread::spawn(move || {
            for l in lines.map_while(Result::ok) {
                if let Ok(mut v) = log.lock() {
                    v.push(l);
                }
            }
        });
        self.proc = Some(Proc(child));
    }

    pub fn kill(&mut self) {
        self.proc = None; // SIGKILL
    }

    /// Deletes the node's data directory (it must be stopped): a wiped or lost disk.
    pub fn wipe(&self) {
        assert!(self.proc.is_none(), "stop the node before wiping it");
        std::fs::remove_dir_all(&self.base).unwrap();
    }

    /// Log lines (of every start so far) that contain `text`.
    pub fn log_lines(&self, text: &str) -> Vec<String> {
        self.log_lines_since(0, text)
    }

    /// How many log lines there are so far (a mark for [`log_lines_since`](Self::log_lines_since)).
    pub fn log_mark(&self) -> usize {
        self.log.lock().unwrap().len()
    }

    /// Log lines after `mark` that contain `text`.
    pub fn log_lines_since(&self, mark: usize, text: &str) -> Vec<String> {
        self.log.lock().unwrap().iter().skip(mark).filter(|l| l.contains(text)).cloned().collect()
    }

    pub fn client(&self) -> HttpClient {
        HttpClientBuilder::default().build(&self.url).unwrap()
    }

    pub async fn best(&self) -> u64 {
        let info: Value = self.client().request("chain_getInfo", rpc_params![]).await.unwrap();
        info["best_finalized_anchor"].as_u64().unwrap()
    }

    pub async fn anchor(&self, i: u64) -> Value {
        self.client().request("chain_getAnchor", rpc_params![i]).await.unwrap()
    }

    pub async fn status(&self, id: &str) -> Value {
        self.client().request("tx_status", rpc_params![id]).await.unwrap()
    }
}

/// Starts `n` validators (seats 0..n) under `dir`, each booting from the ones before it;
/// returns them with their multiaddresses.
pub fn start_validators(dir: &Path, n: u8) -> (Vec<Node>, Vec<String>) {
    let mut v: Vec<Node> = (0..n).map(|s| Node::new(dir, &format!("v{s}"), Some(s), s)).collect();
    let mut boot = Vec::new();
    for node in v.iter_mut() {
        node.start(&boot);
        boot.push(node.addr());
    }
    (v, boot)
}

/// The lowest best finalized anchor among `nodes`.
pub async fn lowest_best(nodes: &[&Node]) -> u64 {
    let mut m = u64::MAX;
    for n in nodes {
        m = m.min(n.best().await);
    }
    m
}

pub async fn all_reach(nodes: &[&Node], anchor: u64, secs: u64) {
    for n in nodes {
        wait_for(&format!("anchor {anchor} at {}", n.url), secs, async || (n.best().await >= anchor).then_some(()))
            .await;
    }
}

/// Every node holds the same record for every anchor up to `upto`.
pub async fn agree(nodes: &[&Node], upto: u64) {
    for i in 1..=upto {
        let first = nodes[0].anchor(i).await;
        for n in &nodes[1..] {
            assert_eq!(n.anchor(i).await, first, "anchor {i} differs at {}", n.url);
        }
    }
}

/// Traffic that keeps a quiet chain finalizing (consensus.md §12: an idle chain rests). Dropped,
/// it stops.
pub struct Load(tokio::task::JoinHandle<()>);

impl Drop for Load {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Submits a self-transfer of development account 2 (funded on testnet-0 for this) every
/// 200 ms, to `urls` in turn; errors (a node down, the coin already spent by a pending
/// transfer) are ignored: the next finalized transfer brings a new coin.
pub fn keep_busy(urls: Vec<String>) -> Load {
    use parity_scale_codec::Encode;
    use pc_utxo_tx::{Address, OutPoint, TxOut, XOnly, signed_transfer};
    let kp = pc_service::keys::dev_account_key(2).unwrap();
    let me = Address::Key(XOnly::of(&kp));
    Load(tokio::spawn(async move {
        for turn in 0usize.. {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            let Ok(c) = HttpClientBuilder::default()
                .request_timeout(std::time::Duration::from_secs(2))
                .build(&urls[turn % urls.len()])
            else {
                continue;
            };
            let Ok(info) = c.request::<Value, _>("chain_getInfo", rpc_params![]).await else { continue };
            let Some(genesis) = info["genesis_hash"].as_str().and_then(|h| pc_codec::Hash32::from_hex(h).ok()) else {
                continue;
            };
            let Ok(utxos) = c.request::<Value, _>("utxo_listUnspent", rpc_params![me.to_string()]).await else {
                continue;
            };
            let u = &utxos[0];
            let (Some(txid), Some(index), Some(value)) = (
                u["txid"].as_str().and_then(|t| pc_codec::Hash32::from_hex(t).ok()),
                u["index"].as_u64().and_then(|i| u32::try_from(i).ok()),
                u["value"].as_u64(),
            ) else {
                continue;
            };
            let out = vec![TxOut { value: value - 10_000, predicate: me.predicate() }];
            let tx = signed_transfer(&genesis, &kp, &[OutPoint { tx: txid, index }], out);
            let _ = c.request::<String, _>("tx_submit", rpc_params![hex::encode(tx.encode())]).await;
        }
    }))
}
