//! The subcommands.

use crate::cli::{BuildSpecArgs, ChainArgs, Command, DevAccountsArgs, RunArgs, SnapshotArgs};
use crate::error::NodeError;
use pc_chainspec::ChainSpec;
use pc_mempool::{Mempool, MempoolConfig};
use pc_runtime::Runtime;
use pc_service::NodeCtx;
use pc_service::keys::{SeatSigner, dev_account_key, dev_seat_key};
use pc_service::producer::{Producer, ProducerConfig};
use pc_state::{StateDb, snapshot};
use pc_store::RocksStore;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub fn dispatch(cmd: Command) -> Result<(), NodeError> {
    match cmd {
        Command::Run(a) => run(a),
        Command::BuildSpec(a) => build_spec(a),
        Command::Modules => list_modules(),
        Command::ExportSnapshot(a) => export_snapshot(a),
        Command::ImportSnapshot(a) => import_snapshot(a),
        Command::Sim(a) => crate::sim::run(a),
        Command::DevAccounts(a) => dev_accounts(a),
        Command::BenchUtxo(a) => bench_utxo(a),
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
    let ctx = NodeCtx::new(rt, db, Mempool::new(MempoolConfig::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let seat = match (&a.signer_socket, &a.signer_token_file) {
        (Some(socket), Some(token)) => {
            let s = SeatSigner::remote(socket, token, a.seat_index)?;
            tracing::info!(target: "pc::node", socket = %socket.display(), key = %hex::encode(s.public_key().0), "seat key from phantom-signer");
            Some(s)
        }
        _ => dev_seat_key(ctx.rt.spec(), 0).ok().map(SeatSigner::Local),
    };
    let producer = match seat {
        Some(seat) if ctx.rt.spec().constants.committee_size == 1 => {
            let cfg =
                ProducerConfig { interval: Duration::from_millis(a.event_interval_ms.max(1)), ..Default::default() };
            let p = Producer::start(ctx.clone(), seat, cfg)?;
            tracing::info!(target: "pc::node", interval_ms = a.event_interval_ms, "validating as seat 0");
            Some(p.spawn(stop.clone()))
        }
        _ => {
            tracing::warn!(target: "pc::node", seats = ctx.rt.spec().constants.committee_size, "no seat on this chain from this node: following only (multi-seat committees need the network layer)");
            None
        }
    };
    let tokio = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(NodeError::Tokio)?;
    let rpc_at = SocketAddr::new(a.rpc_addr, a.rpc_port);
    let result = tokio.block_on(async {
        use tokio::signal::unix::{SignalKind, signal};
        let (addr, server) = pc_service::rpc::serve(ctx.clone(), rpc_at).await?;
        tracing::info!(target: "pc::node", %addr, "JSON-RPC listening (HTTP and WebSocket)");
        // Handlers are installed before "ready" is logged, so a signal sent after that line
        // always means a clean shutdown.
        let mut int = signal(SignalKind::interrupt()).map_err(NodeError::Tokio)?;
        let mut term = signal(SignalKind::terminate()).map_err(NodeError::Tokio)?;
        tracing::info!(target: "pc::node", "node ready; stop with SIGINT or SIGTERM");
        let mut watchdog = tokio::time::interval(Duration::from_millis(200));
        loop {
            tokio::select! {
                _ = int.recv() => break,
                _ = term.recv() => break,
                _ = watchdog.tick() => {
                    if producer.as_ref().is_some_and(|p| p.is_finished()) {
                        break; // the producer stopped on an error: reported below
                    }
                }
            }
        }
        let _ = server.stop();
        server.stopped().await;
        Ok::<(), NodeError>(())
    });
    stop.store(true, Ordering::Relaxed);
    if let Some(p) = producer {
        match p.join() {
            Ok(r) => r?,
            Err(_) => return Err(NodeError::Usage("the producer thread panicked".into())),
        }
    }
    result?;
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
