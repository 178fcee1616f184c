//! Observability end to end on a dev node: `/metrics` lists every documented series, spans
//! reach an OTLP/HTTP collector (a fake one here) and are flushed at shutdown, `cache-bench`
//! reads the stopped node's store as documented, `loadgen` finalizes what it sends, and a bad
//! config file is refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::Proc;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const SERIES: [&str; 22] = [
    "pc_node_events_total",
    "pc_node_own_events_total",
    "pc_node_finalized_anchors_total",
    "pc_node_best_anchor",
    "pc_node_finality_latency_seconds_bucket",
    "pc_node_mempool_pending",
    "pc_node_mempool_bytes",
    "pc_node_queue_pending_events",
    "pc_node_queue_pulls",
    "pc_node_queue_net_dropped",
    "pc_node_peers",
    "pc_consensus_halted",
    "pc_consensus_epoch",
    "pc_consensus_events_in_memory",
    "pc_consensus_engine_bytes",
    "pc_consensus_equivocations_total",
    "pc_node_sig_verify_seconds_bucket",
    "pc_node_tx_admission_seconds_bucket",
    "pc_node_cache_hits_total{cache=\"header\"}",
    "pc_node_cache_misses_total{cache=\"payload\"}",
    "pc_node_store_header_read_seconds_bucket",
    "pc_node_store_payload_read_seconds_bucket",
];

/// A one-shot HTTP server that records each request's head and answers 200.
fn fake_collector() -> (String, mpsc::Receiver<String>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut head = String::new();
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                head.push_str(&line);
            }
            let mut body = vec![0; len];
            let _ = r.read_exact(&mut body);
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
            let _ = tx.send(head);
        }
    });
    (url, rx)
}

fn node(base: &Path, extra: &[&str]) -> (Proc, String, Option<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_phantom-node"))
        .args(["run", "--chain", "dev", "--rpc-port", "0", "--event-interval-ms", "50", "--base-path"])
        .arg(base)
        .args(extra)
        .env("OTEL_BSP_SCHEDULE_DELAY", "200")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let (mut rpc, mut metrics) = (None, None);
    for line in lines.by_ref() {
        let line = line.unwrap();
        let addr = || line.split("addr=").nth(1).map(|a| a.split_whitespace().next().unwrap().to_string());
        if line.contains("JSON-RPC listening") {
            rpc = addr();
        }
        if line.contains("Prometheus metrics") {
            metrics = addr();
        }
        if line.contains("node ready") {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    (Proc(child), format!("http://{}", rpc.unwrap()), metrics)
}

fn get(addr: &str, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn metrics_spans_cache_bench_and_loadgen_work_as_documented() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("node");
    let (collector, heads) = fake_collector();
    let (mut n, url, metrics) = node(&base, &["--prometheus-port", "0", "--otlp-endpoint", &collector]);
    let metrics = metrics.expect("the metrics address is logged");

    // loadgen, as docs/operators.md runs it (short).
    let out = Command::new(env!("CARGO_BIN_EXE_phantom-node"))
        .args(["loadgen", "--rpc-url", &url, "--rate", "10", "--duration", "2", "--accounts", "5"])
        .output()
        .unwrap();
    let report = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(report.contains(" rejected=0 ") && report.contains(" unfinalized=0 "), "{report}");
    assert!(report.contains("p50_ms=") && report.contains("p95_ms=") && report.contains("tps="), "{report}");

    let page = get(&metrics, "/metrics");
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    for s in SERIES {
        assert!(page.contains(s), "/metrics lacks {s}");
    }
    let admitted = page.lines().find(|l| l.starts_with("pc_node_tx_admission_seconds_count")).unwrap();
    assert_ne!(admitted, "pc_node_tx_admission_seconds_count 0", "loadgen's transactions were admitted");
    assert!(get(&metrics, "/other").starts_with("HTTP/1.1 404"));

    // Spans went to the collector; SIGINT flushes what is left.
    let pid = n.0.id().to_string();
    assert!(Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    assert!(n.0.wait().unwrap().success(), "a clean shutdown");
    let head = heads.recv_timeout(Duration::from_secs(10)).expect("no span export reached the collector");
    assert!(head.starts_with("POST /v1/traces "), "{head}");
    assert!(head.to_ascii_lowercase().contains("content-type: application/x-protobuf"), "{head}");

    // cache-bench on the stopped node's store.
    let bench = |cap: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_phantom-node"))
            .args(["cache-bench", "--store-dir", base.to_str().unwrap(), "--mode", "payloads"])
            .args(["--sample", "10", "--iterations", "500", "--cache-pl-cap", cap])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    assert!(bench("0").contains("hits=0 misses=500 hit_rate=0.000"), "a cache of 0 is off");
    let warm = bench("64");
    assert!(warm.contains("hit_rate=0.9") || warm.contains("hit_rate=1.000"), "{warm}");
    assert!(warm.contains("p50_us=") && warm.contains("p99_us="), "{warm}");

    // A config file with an unknown key is refused, naming the file; so is a state cache the
    // node could not hold.
    let cfg = dir.path().join("node.toml");
    let refused = |text: &str| {
        std::fs::write(&cfg, text).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_phantom-node"))
            .args(["run", "--chain", "dev", "--rpc-port", "0", "--base-path"])
            .arg(dir.path().join("other"))
            .arg("--config")
            .arg(&cfg)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{text}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = refused("[node.cache]\nheader_cap = 10\npayload_kap = 5\n");
    assert!(err.contains("node.toml"), "{err}");
    let err = refused("[node.cache]\nstate_cap = 99999999999\n");
    assert!(err.contains("limited to"), "{err}");
    n.0 = Command::new("true").spawn().unwrap(); // already reaped
}
