//! `phantom-node bench-utxo`: validate+apply throughput of signed 1-input-2-output transfers
//! against the raw BIP-340 verify rate, measured in the same run (docs/bench/utxo.md).

use crate::cli::BenchUtxoArgs;
use crate::commands::print;
use crate::error::NodeError;
use pc_chainspec::{ChainSpec, DEV_JSON};
use pc_codec::{Domain, Encode};
use pc_mempool::{Mempool, MempoolConfig};
use pc_runtime::{AnchorInput, Runtime};
use pc_runtime_api::{AnchorCtx, Call};
use pc_state::StateDb;
use pc_store::RocksStore;
use pc_utxo_tx::{Address, Bip340, Keypair, Predicate, Transaction, TxIn, TxOut, Witness, XOnly, keypair_from_seed};
use rayon::prelude::*;
use std::sync::Arc;
use std::time::Instant;

const KEY: Domain = Domain::new("phantomcoin/v1/bench/key");
const KEYS: u32 = 256;
const VALUE: u64 = 10 * 100_000_000;
const FEE: u64 = 10_000;

fn key(i: u32) -> Result<Keypair, NodeError> {
    keypair_from_seed(KEY.hash(&i.to_le_bytes()).0).map_err(|e| NodeError::Usage(e.to_string()))
}

fn pay(kp: &Keypair, value: u64) -> TxOut {
    TxOut { value, predicate: Predicate::Key(XOnly::of(kp)) }
}

fn spec(keys: &[Keypair], n: u32) -> Result<ChainSpec, NodeError> {
    let mut spec = ChainSpec::from_json(DEV_JSON)?;
    spec.modules.retain(|m, _| m == "genesis");
    let allocations: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            let kp = &keys[(i % KEYS) as usize];
            serde_json::json!({ "address": Address::Key(XOnly::of(kp)).to_string(), "value": VALUE })
        })
        .collect();
    spec.modules.insert("utxo".into(), serde_json::json!({ "allocations": allocations }));
    Ok(spec)
}

pub fn run(a: BenchUtxoArgs) -> Result<(), NodeError> {
    let threads = a.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let pool =
        rayon::ThreadPoolBuilder::new().num_threads(threads).build().map_err(|e| NodeError::Usage(e.to_string()))?;
    let keys: Vec<Keypair> = (0..KEYS).map(key).collect::<Result<_, _>>()?;
    let rt = Runtime::new(spec(&keys, a.txs)?)?;
    let dir = std::env::temp_dir().join(format!("phantom-bench-utxo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let db = if a.memory {
        StateDb::new(Arc::new(pc_store::MemStore::new()))
    } else {
        StateDb::new(Arc::new(RocksStore::open(&dir)?))
    };
    rt.init_genesis(&db)?;
    let genesis = rt.genesis_hash();

    // Setup (not timed): one 1-input-2-output transfer per allocation, signed.
    let txs: Vec<Transaction> = pool.install(|| {
        (0..a.txs)
            .into_par_iter()
            .map(|i| {
                let from = &keys[(i % KEYS) as usize];
                let to = &keys[((i + 1) % KEYS) as usize];
                let mut tx = Transaction {
                    version: 0,
                    inputs: vec![TxIn { prev: pc_module_utxo::genesis_outpoint(i), witness: Witness::Empty }],
                    outputs: vec![pay(to, 3 * VALUE / 10), pay(from, VALUE - 3 * VALUE / 10 - FEE)],
                };
                pc_utxo_tx::sign_single_key(&mut tx, &genesis, from);
                tx
            })
            .collect()
    });
    let calls: Vec<Call> = txs.iter().map(|t| Call { module: "utxo".into(), data: t.encode() }).collect();
    let bytes = calls.first().map_or(0, |c| c.data.len());

    // The physical limit: raw BIP-340 verification of the same signatures.
    let triples: Vec<(XOnly, [u8; 32], [u8; 64])> = txs
        .iter()
        .zip(0u32..)
        .filter_map(|(t, i)| match &t.inputs[0].witness {
            Witness::Sig(s) => {
                Some((XOnly::of(&keys[(i % KEYS) as usize]), pc_utxo_tx::sighash(&genesis, &t.txid()), *s))
            }
            _ => None,
        })
        .collect();
    let t = Instant::now();
    let ok = triples.iter().take(2_000).filter(|(k, m, s)| Bip340::verify(k, m, s)).count();
    let one_core = ok as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    let ok = pool.install(|| triples.par_iter().filter(|(k, m, s)| Bip340::verify(k, m, s)).count());
    let raw = ok as f64 / t.elapsed().as_secs_f64();
    if ok != triples.len() {
        return Err(NodeError::Usage("a benchmark signature failed to verify".into()));
    }

    // The pipeline: parallel admission (full validation, signatures included), then anchors of
    // `batch` calls selected, re-validated and applied through the hook chain with one atomic
    // RocksDB commit each.
    let mempool = Mempool::new(MempoolConfig { max_calls: a.txs as usize + 1, ..MempoolConfig::default() });
    let t = Instant::now();
    let admitted = pool.install(|| mempool.submit_batch(&rt, &db, calls)).iter().filter(|r| r.is_ok()).count();
    let admit_s = t.elapsed().as_secs_f64();
    let mut applied = 0u64;
    let mut index = 1u64;
    let (mut select_s, mut exec_s, mut commit_s) = (0.0, 0.0, 0.0);
    loop {
        let t = Instant::now();
        let picked = pool.install(|| mempool.select(&rt, &db, a.batch, usize::MAX));
        select_s += t.elapsed().as_secs_f64();
        if picked.is_empty() {
            break;
        }
        let calls = picked.into_iter().map(|(_, c)| c).collect();
        let ctx = AnchorCtx::bare(
            0,
            index,
            KEY.hash(&index.to_le_bytes()),
            pc_codec::ConsensusTime { anchor: index, lamport: index },
        );
        let t = Instant::now();
        let executed = pool.install(|| rt.execute_anchor(&db, &AnchorInput { ctx, calls }))?;
        exec_s += t.elapsed().as_secs_f64();
        let t = Instant::now();
        // In the same pool: the commitment's vectors are computed in parallel, and a second
        // pool's threads would compete with this one's.
        let out = pool.install(|| rt.commit_anchor(&db, executed))?;
        commit_s += t.elapsed().as_secs_f64();
        applied += u64::from(out.record.calls - out.record.dropped);
        mempool.finalized(&out.applied, &out.dropped, &out.consumed);
        index += 1;
    }
    let _ = std::fs::remove_dir_all(&dir);
    let n = applied as f64;
    let exec_total = admit_s + select_s + exec_s;
    let full_total = exec_total + commit_s;
    let store = if a.memory { "memory" } else { "RocksDB" };
    print(&format!(
        "bench-utxo: txs={} tx_bytes={bytes} batch={} threads={threads} anchors={} store={store}",
        a.txs,
        a.batch,
        index - 1
    ))?;
    print(&format!("verify: raw BIP-340 {raw:.0}/s on {threads} threads ({one_core:.0}/s on one)"))?;
    print(&format!(
        "admit: {admitted} in {admit_s:.3} s = {:.0}/s (parallel validation, signatures included)",
        admitted as f64 / admit_s
    ))?;
    print(&format!(
        "apply: select re-check {select_s:.3} s, execute (hook chain) {exec_s:.3} s = {:.1} us/tx, commit (state root + store) {commit_s:.3} s = {:.1} us/tx",
        exec_s / n * 1e6,
        commit_s / n * 1e6
    ))?;
    print(&format!(
        "validate+apply: {:.0} tx/s, ratio to raw verify = {:.2}; with the state commitment: {:.0} tx/s, ratio = {:.2}",
        n / exec_total,
        n / exec_total / raw,
        n / full_total,
        n / full_total / raw
    ))
}
