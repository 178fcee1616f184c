//! `phantom-node run`: a single-seat chain, or a validator or full node of a networked one.

use crate::cli::RunArgs;
use crate::commands::{load, open_db};
use crate::error::NodeError;
use pc_mempool::{Mempool, MempoolConfig};
use pc_net::{Multiaddr, Net, NetConfig};
use pc_service::keys::{SeatSigner, committee_keys, dev_seat_key};
use pc_service::replica::{Replica, ReplicaConfig};
use pc_service::{NodeCtx, ServiceError};
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

type Worker = JoinHandle<Result<(), ServiceError>>;

/// The key this node validates with: from phantom-signer, a well-known key by `--seat`, or
/// seat 0 of a single-seat development chain by default. Which seat it holds is the current
/// epoch's committee's business (the replica looks it up at every epoch).
fn seat(a: &RunArgs, ctx: &NodeCtx) -> Result<Option<SeatSigner>, NodeError> {
    let spec = ctx.rt.spec();
    if let (Some(socket), Some(token)) = (&a.signer_socket, &a.signer_token_file) {
        let s = SeatSigner::remote(socket, token, a.seat_index)?;
        let key = s.public_key();
        tracing::info!(target: "pc::node", socket = %socket.display(), key = %hex::encode(key.0), "seat key from phantom-signer");
        if ctx.rt.committee_provider().is_none() && spec.constants.committee_size > 1 {
            let keys = committee_keys(spec)?;
            if !keys.contains(&key) {
                return Err(NodeError::Usage(format!(
                    "the signer's seat key {} is not in this chain's committee",
                    hex::encode(key.0)
                )));
            }
        }
        return Ok(Some(s));
    }
    if let Some(n) = a.seat {
        if n >= spec.constants.committee_size && ctx.rt.committee_provider().is_none() {
            return Err(NodeError::Usage(format!(
                "seat {n} does not exist: the chain has {} seats and no committee provider that could seat key {n}",
                spec.constants.committee_size
            )));
        }
        return Ok(Some(SeatSigner::Local(dev_seat_key(spec, n)?)));
    }
    if spec.constants.committee_size == 1 {
        return Ok(dev_seat_key(spec, 0).ok().map(SeatSigner::Local));
    }
    Ok(None)
}

/// Starts the validator's duties towards the committee provider (src/validator.rs) for seat
/// key `key`, where this build and chain have one.
#[cfg(feature = "module-committee-vrf")]
fn duties(
    a: &RunArgs,
    ctx: &Arc<NodeCtx>,
    key: [u8; 32],
    stop: &Arc<AtomicBool>,
) -> Result<Option<JoinHandle<()>>, NodeError> {
    use crate::validator::{DevValidator, DutySigner};
    if !ctx.rt.module_names().contains(&pc_module_committee_vrf::NAME) {
        return Ok(None);
    }
    let spec = ctx.rt.spec();
    let signer = if let (Some(socket), Some(token)) = (&a.signer_socket, &a.signer_token_file) {
        let client = pc_signer_client::Client::new(socket, token).map_err(|e| NodeError::Usage(e.to_string()))?;
        DutySigner::Remote { client, index: a.seat_index }
    } else {
        match DevValidator::new(spec, a.seat.unwrap_or(0)) {
            Ok(v) => DutySigner::Local(Box::new(v)),
            Err(e) => {
                tracing::warn!(target: "pc::validator", error = %e, "no duty keys: no candidacies from this node");
                return Ok(None);
            }
        }
    };
    tracing::info!(target: "pc::validator", "sending candidacies and heartbeats for this seat key once it is bonded");
    Ok(Some(crate::validator::spawn(ctx.clone(), key, signer, stop.clone())))
}

#[cfg(not(feature = "module-committee-vrf"))]
fn duties(
    _: &RunArgs,
    _: &Arc<NodeCtx>,
    _: [u8; 32],
    _: &Arc<AtomicBool>,
) -> Result<Option<JoinHandle<()>>, NodeError> {
    Ok(None)
}

/// The network identity: `--node-key`, or the key file under the base path (made once).
fn node_key(a: &RunArgs, base: &Path) -> Result<[u8; 32], NodeError> {
    let parse = |hex_key: &str| -> Result<[u8; 32], NodeError> {
        hex::decode(hex_key.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| NodeError::Usage("a node key is 32 bytes of hex".into()))
    };
    if let Some(k) = &a.node_key {
        return parse(k);
    }
    let path = base.join("network").join("node_key");
    let io = |source| NodeError::Io { path: path.display().to_string(), source };
    match std::fs::read_to_string(&path) {
        Ok(text) => parse(&text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = [0u8; 32];
            getrandom::fill(&mut key).map_err(|e| NodeError::Usage(format!("no randomness for a node key: {e}")))?;
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(io)?;
            }
            let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path).map_err(io)?;
            std::io::Write::write_all(&mut f, hex::encode(key).as_bytes()).and_then(|()| f.sync_all()).map_err(io)?;
            Ok(key)
        }
        Err(e) => Err(io(e)),
    }
}

fn addr(s: &str) -> Result<Multiaddr, NodeError> {
    s.parse().map_err(|e| NodeError::Usage(format!("bad multiaddress `{s}`: {e}")))
}

/// Starts the networked replica on its own thread; the swarm runs on `tokio`.
fn start_replica(
    a: &RunArgs,
    ctx: &Arc<NodeCtx>,
    base: &Path,
    tokio: &tokio::runtime::Runtime,
    stop: &Arc<AtomicBool>,
    helpers: &mut Vec<JoinHandle<()>>,
) -> Result<Worker, NodeError> {
    let spec = ctx.rt.spec();
    let mut bootnodes: Vec<Multiaddr> = spec.boot_nodes.iter().map(|b| addr(b)).collect::<Result<_, _>>()?;
    for b in &a.bootnodes {
        bootnodes.push(addr(b)?);
    }
    let cfg = NetConfig {
        secret: node_key(a, base)?,
        listen: addr(a.listen.as_deref().unwrap_or("/ip4/127.0.0.1/tcp/30333"))?,
        bootnodes,
        network: format!("{}/{}", spec.network_id, &ctx.rt.genesis_hash().to_hex()[..16]),
    };
    let (tx, rx) = std::sync::mpsc::sync_channel(8192);
    let net = {
        let _in_runtime = tokio.enter();
        Net::start(cfg, tx).map_err(|e| NodeError::Usage(e.to_string()))?
    };
    tracing::info!(target: "pc::net", peer_id = %net.peer_id, "network identity");
    let seat = seat(a, ctx)?;
    match &seat {
        Some(s) => {
            tracing::info!(target: "pc::node", key = %hex::encode(s.public_key().0), "validating");
            helpers.extend(duties(a, ctx, s.public_key().0, stop)?);
        }
        None => tracing::info!(target: "pc::node", "full node: following finality without a seat"),
    }
    let rcfg = ReplicaConfig {
        interval: Duration::from_millis(a.event_interval_ms.max(1)),
        max_payload_bytes: 4 << 20,
        halt_evidence: Some(base.join("halt-evidence.scale")),
    };
    let replica = Replica::start(ctx.clone(), Some(net), seat, rcfg)?;
    Ok(replica.spawn(Some(rx), stop.clone()))
}

pub fn run(a: RunArgs) -> Result<(), NodeError> {
    let rt = load(&a.chain.chain)?;
    let flags = crate::config::CacheFlags {
        headers: a.cache_hdr_cap,
        payloads: a.cache_pl_cap,
        state: a.cache_state_cap,
        db_mib: a.cache_db_mib,
    };
    let caches = crate::config::caches(a.config.as_deref(), flags)?;
    let (db, base) = open_db(&a.chain, &rt, caches.state, caches.db_bytes)?;
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
    let metrics = Arc::new(pc_metrics::Metrics::new());
    let ctx = NodeCtx::with(rt, db, Mempool::new(MempoolConfig::default()), metrics.clone(), caches.dag);
    let stop = Arc::new(AtomicBool::new(false));
    let tokio = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(NodeError::Tokio)?;
    let spec = ctx.rt.spec();
    let networked = spec.constants.committee_size > 1
        || a.listen.is_some()
        || !a.bootnodes.is_empty()
        || !spec.boot_nodes.is_empty();
    let mut helpers = Vec::new();
    let worker: Option<Worker> = if networked {
        Some(start_replica(&a, &ctx, &base, &tokio, &stop, &mut helpers)?)
    } else {
        match seat(&a, &ctx)? {
            Some(signer) => {
                helpers.extend(duties(&a, &ctx, signer.public_key().0, &stop)?);
                let cfg = ReplicaConfig {
                    interval: Duration::from_millis(a.event_interval_ms.max(1)),
                    max_payload_bytes: 4 << 20,
                    halt_evidence: None,
                };
                let r = Replica::start(ctx.clone(), None, Some(signer), cfg)?;
                tracing::info!(target: "pc::node", interval_ms = a.event_interval_ms, "validating alone (one seat, no network)");
                Some(r.spawn(None, stop.clone()))
            }
            None => {
                tracing::warn!(target: "pc::node", "no seat on this chain from this node and no network: nothing to follow");
                None
            }
        }
    };
    let rpc_at = SocketAddr::new(a.rpc_addr, a.rpc_port);
    let result = tokio.block_on(async {
        use tokio::signal::unix::{SignalKind, signal};
        let (addr, server) = pc_service::rpc::serve(ctx.clone(), rpc_at).await?;
        tracing::info!(target: "pc::node", %addr, "JSON-RPC listening (HTTP and WebSocket)");
        if let Some(port) = a.prometheus_port {
            let at = SocketAddr::new(a.prometheus_addr, port);
            let listener = tokio::net::TcpListener::bind(at).await.map_err(NodeError::Tokio)?;
            let bound = listener.local_addr().map_err(NodeError::Tokio)?;
            tokio::spawn(pc_metrics::serve(listener, metrics.clone()));
            tracing::info!(target: "pc::node", addr = %bound, "Prometheus metrics at /metrics");
        }
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
                    if worker.as_ref().is_some_and(|w| w.is_finished()) {
                        break; // consensus stopped on an error: reported below
                    }
                }
            }
        }
        let _ = server.stop();
        server.stopped().await;
        Ok::<(), NodeError>(())
    });
    stop.store(true, Ordering::Relaxed);
    for h in helpers {
        let _ = h.join();
    }
    if let Some(w) = worker {
        match w.join() {
            Ok(r) => r?,
            Err(_) => return Err(NodeError::Usage("the consensus thread panicked".into())),
        }
    }
    result?;
    tracing::info!(target: "pc::node", "shutting down");
    Ok(())
}
