//! `phantom-node loadgen`: signed transfers at a fixed rate, with submit-to-finality latency.
//!
//! It funds `accounts` fresh keys from a development account with one transaction, waits for
//! it to finalize, then submits one transfer every 1/rate seconds (as concurrent tasks),
//! round-robin over the RPC URLs given, each spending a finalized coin of the next account
//! that has one and paying the account itself (two outputs, so coins multiply). Latency is
//! measured from the submit call to the first `tx_status` poll that reports it finalized; each
//! transaction is polled every 100 ms from 100 ms after its submission, so that is the
//! resolution. Nothing here is consensus: wall-clock time is the point.

use crate::cli::LoadgenArgs;
use crate::error::NodeError;
use jsonrpsee_core::client::ClientT;
use jsonrpsee_core::rpc_params;
use jsonrpsee_http_client::{HttpClient, HttpClientBuilder};
use parity_scale_codec::Encode;
use pc_codec::{Domain, Hash32};
use pc_utxo_tx::{Address, Keypair, OutPoint, TxOut, XOnly, keypair_from_seed, signed_transfer};
use serde_json::Value;
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

const ACCOUNT: Domain = Domain::new("phantomcoin/v1/loadgen/account");
const POLL: Duration = Duration::from_millis(50);

fn fail(e: impl std::fmt::Display) -> NodeError {
    NodeError::Usage(format!("loadgen: {e}"))
}

struct Account {
    key: Keypair,
    addr: Address,
    coins: VecDeque<(OutPoint, u64)>,
}

struct InFlight {
    account: usize,
    /// The node it was submitted to (asked for its status).
    node: usize,
    sent: Instant,
    /// The transaction's outputs (index, value): the account's coins once it is final.
    outs: Vec<(u32, u64)>,
    /// When its status was last asked.
    polled: Option<Instant>,
}

async fn call(c: &HttpClient, method: &str, params: jsonrpsee_core::params::ArrayParams) -> Result<Value, NodeError> {
    c.request(method, params).await.map_err(fail)
}

async fn wait_finalized(c: &HttpClient, id: &str, secs: u64) -> Result<(), NodeError> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let s = call(c, "tx_status", rpc_params![id]).await?;
        match s["status"].as_str() {
            Some("finalized") => return Ok(()),
            Some("pending") if Instant::now() < deadline => tokio::time::sleep(POLL).await,
            _ => return Err(fail(format!("transaction {id}: {s}"))),
        }
    }
}

fn percentile(sorted: &[Duration], p: usize) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = (sorted.len() * p).div_ceil(100).saturating_sub(1).min(sorted.len() - 1);
    sorted[i].as_secs_f64() * 1000.0
}

pub fn run(a: LoadgenArgs) -> Result<(), NodeError> {
    let tokio = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(NodeError::Tokio)?;
    tokio.block_on(go(a))
}

async fn go(a: LoadgenArgs) -> Result<(), NodeError> {
    // Bounded, so the generator never asks more of a node than its RPC server admits at once.
    let clients: Vec<HttpClient> = a
        .rpc_url
        .iter()
        .map(|u| HttpClientBuilder::default().max_concurrent_requests(64).build(u).map_err(fail))
        .collect::<Result<_, _>>()?;
    let first = clients.first().ok_or_else(|| fail("no --rpc-url"))?;
    if a.accounts == 0 || a.accounts > 250 || a.rate == 0 {
        return Err(fail("--accounts must be 1..=250 and --rate at least 1"));
    }
    let info = call(first, "chain_getInfo", rpc_params![]).await?;
    let genesis =
        info["genesis_hash"].as_str().and_then(|h| Hash32::from_hex(h).ok()).ok_or_else(|| fail("no genesis"))?;

    // Fund the accounts from the development account.
    let funder = pc_service::keys::dev_account_key(a.dev_account)?;
    let from = Address::Key(XOnly::of(&funder));
    let list = call(first, "utxo_listUnspent", rpc_params![from.to_string()]).await?;
    let coin = list
        .as_array()
        .and_then(|l| l.iter().filter(|u| u["mature"] == true).max_by_key(|u| u["value"].as_u64()))
        .ok_or_else(|| fail(format!("development account {} has no spendable coin", a.dev_account)))?;
    let total = coin["value"].as_u64().unwrap_or(0);
    let prev = OutPoint {
        tx: coin["txid"].as_str().and_then(|h| Hash32::from_hex(h).ok()).ok_or_else(|| fail("bad txid"))?,
        index: coin["index"].as_u64().and_then(|i| u32::try_from(i).ok()).ok_or_else(|| fail("bad index"))?,
    };
    let per = a.fund_per_account;
    let needed = per.saturating_mul(u64::from(a.accounts)).saturating_add(1_000_000);
    if total < needed {
        return Err(fail(format!("the funding coin holds {total} units; {needed} needed")));
    }
    let mut accounts: Vec<Account> = (0..a.accounts)
        .map(|i| {
            let key = keypair_from_seed(ACCOUNT.hash(&[&genesis.0[..], &i.to_le_bytes()].concat()).0).map_err(fail)?;
            let addr = Address::Key(XOnly::of(&key));
            Ok(Account { key, addr, coins: VecDeque::new() })
        })
        .collect::<Result<_, NodeError>>()?;
    let mut outputs: Vec<TxOut> =
        accounts.iter().map(|acc| TxOut { value: per, predicate: acc.addr.predicate() }).collect();
    outputs.push(TxOut { value: total - needed + 500_000, predicate: from.predicate() });
    let mut fund = signed_transfer(&genesis, &funder, &[prev], outputs);
    fund.sort_canonical();
    let fund = signed_transfer(&genesis, &funder, &[prev], fund.outputs);
    let fund_id = call(first, "tx_submit", rpc_params![hex::encode(fund.encode())]).await?;
    let fund_id = fund_id.as_str().ok_or_else(|| fail("tx_submit returned no id"))?.to_string();
    wait_finalized(first, &fund_id, 60).await?;
    let fund_txid = fund.txid();
    for (i, out) in fund.outputs.iter().enumerate() {
        if let Some(acc) = accounts.iter_mut().find(|acc| acc.addr.predicate() == out.predicate) {
            acc.coins.push_back((OutPoint { tx: fund_txid, index: u32::try_from(i).map_err(fail)? }, out.value));
        }
    }
    eprintln!(
        "loadgen: funded {} accounts with {per} units each; sending {} tx/s for {} s",
        a.accounts, a.rate, a.duration
    );

    // Send at the rate, poll for finality, report.
    let interval = Duration::from_secs_f64(1.0 / f64::from(a.rate));
    let start = Instant::now();
    let end = start + Duration::from_secs(a.duration);
    let mut next_send = start;
    let mut next_poll = start;
    let mut next_report = start + Duration::from_secs(1);
    let mut inflight: BTreeMap<String, InFlight> = BTreeMap::new();
    let mut latencies = Vec::new();
    let (mut submitted, mut rejected, mut starved, mut turn) = (0u64, 0u64, 0u64, 0usize);
    let mut reasons: BTreeMap<String, u64> = BTreeMap::new();
    let mut poll_errors = 0u64;
    let mut last_final = start;
    let drain_until = end + Duration::from_secs(30);
    // Submits and status polls run as concurrent tasks, so the generator is not bound by one
    // round trip at a time.
    type Submitted = (usize, usize, Instant, Vec<(u32, u64)>, (OutPoint, u64), Result<Value, String>);
    let mut submits: tokio::task::JoinSet<Submitted> = tokio::task::JoinSet::new();
    let mut polls: tokio::task::JoinSet<(String, Result<Value, String>)> = tokio::task::JoinSet::new();
    loop {
        let now = Instant::now();
        let idle = inflight.is_empty() && submits.is_empty() && polls.is_empty();
        if now >= end && (idle || now >= drain_until) {
            break;
        }
        let mut burst = 0;
        while now < end && now >= next_send && burst < 256 {
            next_send += interval;
            burst += 1;
            let n = accounts.len();
            let Some(i) = (0..n).map(|k| (turn + k) % n).find(|&i| !accounts[i].coins.is_empty()) else {
                starved += 1;
                continue;
            };
            turn = i + 1;
            let acc = &mut accounts[i];
            let Some((coin, value)) = acc.coins.pop_front() else { continue };
            let fee = 1_000;
            if value <= 2 * fee + 2 * pc_utxo_tx::DEFAULT_DUST {
                continue; // too small to split again: dropped from the pool
            }
            let half = value.saturating_sub(fee) / 2;
            let outs = vec![
                TxOut { value: half, predicate: acc.addr.predicate() },
                TxOut { value: value - fee - half, predicate: acc.addr.predicate() },
            ];
            let mut tx = signed_transfer(&genesis, &acc.key, &[coin], outs);
            tx.sort_canonical();
            let tx = signed_transfer(&genesis, &acc.key, &[coin], tx.outputs);
            let outs: Vec<(u32, u64)> = (0u32..).zip(tx.outputs.iter().map(|o| o.value)).collect();
            let node = (submitted as usize) % clients.len();
            let client = clients[node].clone();
            submitted += 1;
            let hex_tx = hex::encode(tx.encode());
            submits.spawn(async move {
                let r = client.request::<Value, _>("tx_submit", rpc_params![hex_tx]).await.map_err(|e| e.to_string());
                (i, node, now, outs, (coin, value), r)
            });
        }
        while let Some(done) = submits.try_join_next() {
            let Ok((account, node, sent, outs, coin, r)) = done else { continue };
            match r {
                Ok(id) => {
                    let id = id.as_str().unwrap_or_default().to_string();
                    inflight.insert(id, InFlight { account, node, sent, outs, polled: None });
                }
                Err(e) => {
                    rejected += 1;
                    *reasons.entry(format!("submit: {e}")).or_default() += 1;
                    accounts[account].coins.push_back(coin); // not spent: usable again
                }
            }
        }
        if polls.is_empty() && now >= next_poll {
            next_poll = now + POLL;
            // Each transaction is asked about at most every 100 ms, and not in its first
            // 100 ms: polling must not become the node's main load.
            let due = |f: &InFlight| {
                now.duration_since(f.sent) >= 2 * POLL && f.polled.is_none_or(|t| now.duration_since(t) >= 2 * POLL)
            };
            for (id, f) in inflight.iter_mut().filter(|(_, f)| due(f)).take(512) {
                f.polled = Some(now);
                let (client, id) = (clients[f.node].clone(), id.clone());
                polls.spawn(async move {
                    let r = client.request::<Value, _>("tx_status", rpc_params![id.clone()]).await;
                    (id, r.map_err(|e| e.to_string()))
                });
            }
        }
        while let Some(done) = polls.try_join_next() {
            let Ok((id, r)) = done else { continue };
            let Ok(s) = r else {
                poll_errors += 1; // asked again next round
                continue;
            };
            let status = s["status"].as_str().unwrap_or("unknown");
            if status == "pending" {
                continue;
            }
            if let Some(f) = inflight.remove(&id) {
                if status == "finalized" {
                    latencies.push(f.sent.elapsed());
                    last_final = Instant::now();
                    if let Ok(txid) = Hash32::from_hex(&id) {
                        for (index, v) in f.outs {
                            accounts[f.account].coins.push_back((OutPoint { tx: txid, index }, v));
                        }
                    }
                } else {
                    rejected += 1;
                    let why = s["code"].as_str().unwrap_or(status).to_string();
                    *reasons.entry(format!("{status}: {why}")).or_default() += 1;
                }
            }
        }
        if now >= next_report {
            next_report += Duration::from_secs(1);
            eprintln!(
                "loadgen: t={:>3}s submitted={submitted} finalized={} pending={} rejected={rejected}",
                start.elapsed().as_secs(),
                latencies.len(),
                inflight.len() + submits.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    for (why, n) in &reasons {
        eprintln!("loadgen: {n} × {why}");
    }
    if poll_errors > 0 {
        eprintln!("loadgen: {poll_errors} status polls failed and were retried");
    }
    // Up to the last finalization: a drain with nothing left to finalize does not count.
    let elapsed = last_final.duration_since(start).as_secs_f64().max(f64::MIN_POSITIVE);
    latencies.sort();
    crate::commands::print(&format!(
        "rate={} duration_s={} accounts={} nodes={} submitted={submitted} finalized={} rejected={rejected} \
         unfinalized={} starved={starved} tps={:.1} p50_ms={:.0} p95_ms={:.0}",
        a.rate,
        a.duration,
        a.accounts,
        clients.len(),
        latencies.len(),
        inflight.len(),
        latencies.len() as f64 / elapsed,
        percentile(&latencies, 50),
        percentile(&latencies, 95),
    ))
}
