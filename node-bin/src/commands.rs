//! The subcommands.

use crate::cli::{BuildSpecArgs, ChainArgs, Command, DevAccountsArgs, SnapshotArgs};
use crate::error::NodeError;
use pc_chainspec::ChainSpec;
use pc_runtime::Runtime;
use pc_service::keys::dev_account_key;
use pc_state::{StateDb, snapshot};
use pc_store::RocksStore;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

pub fn dispatch(cmd: Command) -> Result<(), NodeError> {
    match cmd {
        Command::Run(a) => crate::run::run(*a),
        Command::BuildSpec(a) => build_spec(a),
        Command::Modules => list_modules(),
        Command::ExportSnapshot(a) => export_snapshot(a),
        Command::ImportSnapshot(a) => import_snapshot(a),
        Command::Sim(a) => crate::sim::run(a),
        Command::DevAccounts(a) => dev_accounts(a),
        Command::BenchUtxo(a) => bench_utxo(a),
        Command::BenchCrypto(a) => crate::crypto_bench::run(a),
        Command::Loadgen(a) => crate::loadgen::run(a),
        Command::DevSeats(a) => dev_seats(a),
        Command::CacheBench(a) => crate::cache_bench::run(a),
    }
}

pub(crate) fn print(text: &str) -> Result<(), NodeError> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}").and_then(|()| out.flush()).map_err(|source| NodeError::Io { path: "stdout".into(), source })
}

/// Loads the spec and builds the runtime: every chainspec and module-config error surfaces here.
pub(crate) fn load(chain: &str) -> Result<Runtime, NodeError> {
    Ok(Runtime::new(ChainSpec::load(chain)?)?)
}

/// Opens the chain's store with a cache of `state_cache` committed values.
pub(crate) fn open_db(
    args: &ChainArgs,
    rt: &Runtime,
    state_cache: usize,
    block_cache: usize,
) -> Result<(StateDb, PathBuf), NodeError> {
    let base = args.base_path.clone().unwrap_or_else(|| PathBuf::from("phantom-data").join(&rt.spec().id));
    let dir = base.join("db");
    std::fs::create_dir_all(&dir).map_err(|source| NodeError::Io { path: dir.display().to_string(), source })?;
    Ok((StateDb::with_cache(Arc::new(RocksStore::open_with(&dir, block_cache)?), state_cache), base))
}

fn build_spec(a: BuildSpecArgs) -> Result<(), NodeError> {
    let spec = ChainSpec::load(&a.chain)?;
    // Building the runtime proves every enabled module is compiled in and accepts its section.
    Runtime::new(spec.clone())?;
    print(&if a.raw { spec.to_raw_json()? } else { spec.to_pretty_json()? })
}

fn list_modules() -> Result<(), NodeError> {
    for m in pc_runtime::catalogue()? {
        print(&format!("{:<16} order={:<5} feature={:<20} depends_on={:?}", m.name, m.order, m.feature, m.depends_on))?;
    }
    Ok(())
}

fn export_snapshot(a: SnapshotArgs) -> Result<(), NodeError> {
    let rt = load(&a.chain.chain)?;
    let (db, _) = open_db(&a.chain, &rt, pc_state::DEFAULT_STATE_CACHE_ENTRIES, pc_store::DEFAULT_BLOCK_CACHE_BYTES)?;
    rt.init_genesis(&db)?;
    let path = a.file.display().to_string();
    let file = std::fs::File::create(&a.file).map_err(|source| NodeError::Io { path: path.clone(), source })?;
    let header = snapshot::export(&db, std::io::BufWriter::new(file))?;
    print(&format!("exported anchor {} state_root {} to {path}", header.head.anchor, header.head.state_root))
}

fn import_snapshot(a: SnapshotArgs) -> Result<(), NodeError> {
    let rt = load(&a.chain.chain)?;
    let (db, _) = open_db(&a.chain, &rt, pc_state::DEFAULT_STATE_CACHE_ENTRIES, pc_store::DEFAULT_BLOCK_CACHE_BYTES)?;
    let path = a.file.display().to_string();
    let file = std::fs::File::open(&a.file).map_err(|source| NodeError::Io { path: path.clone(), source })?;
    let header = snapshot::restore(&db, rt.genesis_hash(), std::io::BufReader::new(file))?;
    print(&format!("imported anchor {} state_root {}", header.head.anchor, header.head.state_root))
}

fn dev_seats(a: crate::cli::DevSeatsArgs) -> Result<(), NodeError> {
    let spec = ChainSpec::load(&a.chain)?;
    if !a.genesis_bonds.is_empty() {
        return genesis_bonds(&spec, &a);
    }
    for (seat, key) in pc_service::keys::dev_seat_keys(&spec)?.iter().enumerate() {
        print(&format!("{seat} {}", hex::encode(key.0)))?;
    }
    Ok(())
}

#[cfg(feature = "module-committee-vrf")]
fn genesis_bonds(spec: &ChainSpec, a: &crate::cli::DevSeatsArgs) -> Result<(), NodeError> {
    let owner: pc_utxo_tx::Address = a
        .bond_owner
        .as_deref()
        .ok_or_else(|| NodeError::Usage("--bond-owner is needed".into()))?
        .parse()
        .map_err(|e| NodeError::Usage(format!("--bond-owner: {e}")))?;
    let mut entries = Vec::new();
    for seat in &a.genesis_bonds {
        entries.push(crate::validator::DevValidator::new(spec, *seat)?.genesis_entry(&owner, a.bond_value));
    }
    print(&serde_json::to_string_pretty(&entries).map_err(|e| NodeError::Usage(e.to_string()))?)
}

#[cfg(not(feature = "module-committee-vrf"))]
fn genesis_bonds(_: &ChainSpec, _: &crate::cli::DevSeatsArgs) -> Result<(), NodeError> {
    Err(NodeError::Usage("this binary was built without the `module-committee-vrf` feature".into()))
}

fn dev_accounts(a: DevAccountsArgs) -> Result<(), NodeError> {
    for i in 0..a.count {
        let kp = dev_account_key(i)?;
        let addr = pc_utxo_tx::Address::Key(pc_utxo_tx::XOnly::of(&kp));
        print(&format!("{i} {addr} {}", hex::encode(kp.to_secret_bytes())))?;
    }
    Ok(())
}

#[cfg(feature = "module-utxo")]
fn bench_utxo(a: crate::cli::BenchUtxoArgs) -> Result<(), NodeError> {
    crate::bench::run(a)
}

#[cfg(not(feature = "module-utxo"))]
fn bench_utxo(_: crate::cli::BenchUtxoArgs) -> Result<(), NodeError> {
    Err(NodeError::Usage("this binary was built without the `module-utxo` feature".into()))
}
