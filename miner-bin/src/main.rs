//! `phantom-miner`: fetches a mint template from a node, grinds BLAKE3 on N threads, submits
//! solutions, shows its hash rate, refreshes stale templates and reconnects when the node
//! restarts. Protocol: `docs/spec/mint.md`.
#![forbid(unsafe_code)]

mod grind;

use clap::Parser;
use grind::{Job, Pool};
use jsonrpsee_core::client::ClientT;
use jsonrpsee_core::rpc_params;
use jsonrpsee_http_client::{HttpClient, HttpClientBuilder};
use serde_json::Value;
use std::time::{Duration, Instant};

/// PhantomCoin PoW worker.
#[derive(Debug, Parser)]
#[command(name = "phantom-miner", version, about)]
struct Cli {
    /// The node's JSON-RPC URL.
    #[arg(long, default_value = "http://127.0.0.1:9944")]
    rpc_url: String,
    /// Bech32m address (`pc1…`) that receives the mints.
    #[arg(long, required_unless_present = "bench")]
    payout: Option<String>,
    /// Hashing threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Maturity tier (index into the chain's tiers; default: the longest, full reward).
    #[arg(long)]
    tier: Option<u8>,
    /// How often to ask for a fresh template, in milliseconds.
    #[arg(long, default_value_t = 500)]
    refresh_ms: u64,
    /// Measure the hash rate against raw BLAKE3 for this many seconds, offline, and exit.
    #[arg(long)]
    bench: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
enum MinerError {
    #[error("{0}")]
    Usage(String),
    #[error("cannot start the async runtime: {0}")]
    Tokio(std::io::Error),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let threads = cli.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1);
    let result = match cli.bench {
        Some(secs) => grind::bench(threads, Duration::from_secs(secs.max(1))),
        None => run(&cli, threads),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli, threads: usize) -> Result<(), MinerError> {
    let payout = cli.payout.clone().ok_or_else(|| MinerError::Usage("--payout is required".into()))?;
    payout.parse::<pc_utxo_tx::Address>().map_err(|e| MinerError::Usage(format!("--payout: {e}")))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(MinerError::Tokio)?;
    rt.block_on(mine(cli, payout, threads))
}

/// Counters shown while mining.
#[derive(Debug, Default)]
struct Tally {
    found: u64,
    accepted: u64,
    rejected: u64,
}

async fn template(c: &HttpClient, payout: &str, tier: Option<u8>) -> Result<Job, String> {
    let v: Value = c.request("get_mint_template", rpc_params![payout, tier]).await.map_err(|e| e.to_string())?;
    Job::from_template(&v)
}

/// True while the node still holds our submitted mint as pending.
async fn still_pending(c: &HttpClient, id: &str) -> bool {
    let s: Result<Value, _> = c.request("tx_status", rpc_params![id]).await;
    s.is_ok_and(|v| v["status"] == "pending")
}

async fn mine(cli: &Cli, payout: String, threads: usize) -> Result<(), MinerError> {
    let client = HttpClientBuilder::default()
        .request_timeout(Duration::from_secs(5))
        .build(&cli.rpc_url)
        .map_err(|e| MinerError::Usage(format!("--rpc-url: {e}")))?;
    let pool = Pool::start(threads);
    let mut tally = Tally::default();
    let mut connected = false;
    let mut last_report = Instant::now();
    let mut last_hashes = 0u64;
    let mut current: Option<(u64, [u8; 32], [u8; 32])> = None; // height, prev_mint, target
    // The solution we submitted last: (height, mint id). While it is pending there is no point
    // in mining the same height; if the node forgets it (a restart empties the mempool) or
    // refuses it, mining resumes.
    let mut submitted: Option<(u64, String)> = None;
    tracing::info!(target: "pc::miner", threads, url = %cli.rpc_url, "mining");
    loop {
        match template(&client, &payout, cli.tier).await {
            Ok(job) => {
                if !connected {
                    tracing::info!(target: "pc::miner", height = job.height, "connected to the node");
                    connected = true;
                }
                let key = (job.height, job.prev_mint, job.target);
                if let Some((h, id)) = &submitted
                    && (*h != job.height || !still_pending(&client, id).await)
                {
                    submitted = None;
                    current = None;
                }
                if submitted.is_some() {
                    pool.idle(); // our solution for this height is on its way to finality
                } else if current != Some(key) {
                    tracing::info!(target: "pc::miner", height = job.height, target = %hex::encode(job.target), "new template");
                    current = Some(key);
                    pool.set(job);
                }
            }
            Err(e) => {
                if connected {
                    tracing::warn!(target: "pc::miner", error = %e, "node unreachable; retrying");
                }
                connected = false;
                current = None;
                submitted = None;
                pool.idle();
            }
        }
        let deadline = Instant::now() + Duration::from_millis(cli.refresh_ms.max(50));
        while Instant::now() < deadline {
            if let Some(solution) = pool.take_solution() {
                tally.found += 1;
                let height = solution.height;
                let res: Result<String, _> =
                    client.request("submit_mint_solution", rpc_params![hex::encode(&solution.header)]).await;
                match res {
                    Ok(id) => {
                        tally.accepted += 1;
                        submitted = Some((height, id.clone()));
                        pool.idle();
                        tracing::info!(target: "pc::miner", height, %id, "solution accepted");
                    }
                    Err(e) => {
                        tally.rejected += 1;
                        current = None; // the thread that found it stopped: hand the job out again
                        tracing::warn!(target: "pc::miner", height, error = %e, "solution rejected");
                    }
                }
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if last_report.elapsed() >= Duration::from_secs(2) {
            let hashes = pool.hashes();
            let rate = (hashes - last_hashes) as f64 / last_report.elapsed().as_secs_f64();
            last_hashes = hashes;
            last_report = Instant::now();
            tracing::info!(
                target: "pc::miner",
                hashrate = format!("{:.0} H/s", rate),
                found = tally.found,
                accepted = tally.accepted,
                rejected = tally.rejected,
                "status"
            );
        }
    }
}
