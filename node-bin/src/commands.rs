//! The subcommands.

use crate::cli::{BuildSpecArgs, ChainArgs, Command, RunArgs, SnapshotArgs};
use crate::error::NodeError;
use pc_chainspec::ChainSpec;
use pc_runtime::Runtime;
use pc_state::{StateDb, snapshot};
use pc_store::RocksStore;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

pub fn dispatch(cmd: Command) -> Result<(), NodeError> {
    match cmd {
        Command::Run(a) => run(a),
        Command::BuildSpec(a) => build_spec(a),
        Command::Modules => list_modules(),
        Command::ExportSnapshot(a) => export_snapshot(a),
        Command::ImportSnapshot(a) => import_snapshot(a),
        Command::Sim(a) => crate::sim::run(a),
    }
}

pub(crate) fn print(text: &str) -> Result<(), NodeError> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}").and_then(|()| out.flush()).map_err(|source| NodeError::Io { path: "stdout".into(), source })
}

/// Loads the spec and builds the runtime: every chainspec and module-config error surfaces here.
fn load(chain: &str) -> Result<Runtime, NodeError> {
    Ok(Runtime::new(ChainSpec::load(chain)?)?)
}

fn open_db(args: &ChainArgs, rt: &Runtime) -> Result<(StateDb, PathBuf), NodeError> {
    let base = args.base_path.clone().unwrap_or_else(|| PathBuf::from("phantom-data").join(&rt.spec().id));
    let dir = base.join("db");
    std::fs::create_dir_all(&dir).map_err(|source| NodeError::Io { path: dir.display().to_string(), source })?;
    Ok((StateDb::new(Arc::new(RocksStore::open(&dir)?)), base))
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

fn run(a: RunArgs) -> Result<(), NodeError> {
    let rt = load(&a.chain.chain)?;
    let (db, base) = open_db(&a.chain, &rt)?;
    let head = rt.init_genesis(&db)?;
    tracing::info!(
        target: "pc::node",
        chain = %rt.spec().name,
        genesis_hash = %rt.genesis_hash(),
        modules = ?rt.module_names(),
        base_path = %base.display(),
        "node started"
    );
    tracing::info!(target: "pc::node", anchor = head.anchor, state_root = %head.state_root, "resuming at last committed anchor");
    let tokio = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(NodeError::Tokio)?;
    // Consensus, networking and RPC attach here (see docs/ROADMAP.md); until then the node
    // holds its database open and waits for SIGINT or SIGTERM.
    tokio
        .block_on(async {
            use tokio::signal::unix::{SignalKind, signal};
            // Handlers are installed before "ready" is logged, so a signal sent after that line
            // always means a clean shutdown.
            let mut int = signal(SignalKind::interrupt())?;
            let mut term = signal(SignalKind::terminate())?;
            tracing::info!(target: "pc::node", "node ready; stop with SIGINT or SIGTERM");
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            Ok::<(), std::io::Error>(())
        })
        .map_err(NodeError::Tokio)?;
    tracing::info!(target: "pc::node", "shutting down");
    Ok(())
}

fn export_snapshot(a: SnapshotArgs) -> Result<(), NodeError> {
    let rt = load(&a.chain.chain)?;
    let (db, _) = open_db(&a.chain, &rt)?;
    rt.init_genesis(&db)?;
    let path = a.file.display().to_string();
    let file = std::fs::File::create(&a.file).map_err(|source| NodeError::Io { path: path.clone(), source })?;
    let header = snapshot::export(&db, std::io::BufWriter::new(file))?;
    print(&format!("exported anchor {} state_root {} to {path}", header.head.anchor, header.head.state_root))
}

fn import_snapshot(a: SnapshotArgs) -> Result<(), NodeError> {
    let rt = load(&a.chain.chain)?;
    let (db, _) = open_db(&a.chain, &rt)?;
    let path = a.file.display().to_string();
    let file = std::fs::File::open(&a.file).map_err(|source| NodeError::Io { path: path.clone(), source })?;
    let header = snapshot::restore(&db, rt.genesis_hash(), std::io::BufReader::new(file))?;
    print(&format!("imported anchor {} state_root {}", header.head.anchor, header.head.state_root))
}
