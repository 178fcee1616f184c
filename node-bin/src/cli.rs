//! Command-line interface.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// PhantomCoin full node.
#[derive(Debug, Parser)]
#[command(name = "phantom-node", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub log: LogArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct LogArgs {
    /// Log filter, in `RUST_LOG` syntax (e.g. `info,pc::runtime=debug`).
    #[arg(long, global = true, default_value = "info", env = "RUST_LOG")]
    pub log: String,
    /// Log line format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Export spans over OTLP/HTTP to this collector (e.g. `http://127.0.0.1:4318`).
    #[arg(long, global = true)]
    pub otlp_endpoint: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Runs the node on a chain.
    Run(Box<RunArgs>),
    /// Prints a chainspec (plain, or `--raw`: frozen, with its genesis hash).
    BuildSpec(BuildSpecArgs),
    /// Lists the modules compiled into this binary, in hook-chain order.
    Modules,
    /// Writes the node's state at its last committed anchor to a snapshot file.
    ExportSnapshot(SnapshotArgs),
    /// Restores a snapshot into an empty base path.
    ImportSnapshot(SnapshotArgs),
    /// Runs the deterministic consensus simulator (docs/spec/consensus.md, docs/bench/consensus.md).
    Sim(SimArgs),
    /// Measures validate+apply throughput of signed transfers against raw BIP-340 verification.
    BenchUtxo(BenchUtxoArgs),
    /// Measures BIP-340, sr25519 VRF and BLS12-381 operations on one core (docs/bench/crypto.md).
    BenchCrypto(BenchCryptoArgs),
    /// Prints the well-known development accounts (secret key, address): public, for dev chains only.
    DevAccounts(DevAccountsArgs),
    /// Submits signed transfers at a fixed rate and reports throughput and finality latency.
    Loadgen(LoadgenArgs),
    /// Prints a development or local chain's well-known seat keys (`seat x-only-key`).
    DevSeats(DevSeatsArgs),
    /// Reads event headers or payloads of a stopped node's store through the caches and prints
    /// the hit rate and read-latency percentiles.
    CacheBench(CacheBenchArgs),
}

#[derive(Debug, Args)]
pub struct CacheBenchArgs {
    /// The node's base path (or its `db` directory). The node must be stopped.
    #[arg(long)]
    pub store_dir: PathBuf,
    /// What to read.
    #[arg(long, value_enum, default_value_t = BenchMode::Headers)]
    pub mode: BenchMode,
    /// Distinct events to read from (the most recent N).
    #[arg(long, default_value_t = 1000)]
    pub sample: usize,
    /// Reads, drawn with a skew towards recent events (as peers and anchors ask).
    #[arg(long, default_value_t = 100_000)]
    pub iterations: usize,
    /// Header cache entries (0 = off).
    #[arg(long, default_value_t = 16_384)]
    pub cache_hdr_cap: usize,
    /// Payload cache entries (0 = off).
    #[arg(long, default_value_t = 2_048)]
    pub cache_pl_cap: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchMode {
    /// Event headers.
    Headers,
    /// Payloads.
    Payloads,
}

#[derive(Debug, Args)]
pub struct DevSeatsArgs {
    /// `dev`, `testnet-0`, `local`, or a chainspec file.
    #[arg(long, default_value = "testnet-0")]
    pub chain: String,
    /// Instead of the keys, print `modules.bonding.genesis_bonds` entries for these seats
    /// (e.g. `0,1,2,3`), each bonding `--bond-value` units returned to `--bond-owner`.
    #[arg(long, value_delimiter = ',')]
    pub genesis_bonds: Vec<u8>,
    /// Address the genesis bonds return to.
    #[arg(long, requires = "genesis_bonds")]
    pub bond_owner: Option<String>,
    /// Units of each genesis bond.
    #[arg(long, default_value_t = 1_000_000_000_000)]
    pub bond_value: u64,
}

#[derive(Debug, Args)]
pub struct LoadgenArgs {
    /// Nodes to submit to, round-robin (comma-separated JSON-RPC URLs).
    #[arg(long, value_delimiter = ',', default_value = "http://127.0.0.1:9944")]
    pub rpc_url: Vec<String>,
    /// Transactions per second.
    #[arg(long, default_value_t = 20)]
    pub rate: u32,
    /// Seconds of sending (then up to 30 s to let the last ones finalize).
    #[arg(long, default_value_t = 30)]
    pub duration: u64,
    /// Accounts to fund and send from (1..=250).
    #[arg(long, default_value_t = 50)]
    pub accounts: u32,
    /// Units each account is funded with.
    #[arg(long, default_value_t = 10_000_000_000)]
    pub fund_per_account: u64,
    /// The development account that funds them.
    #[arg(long, default_value_t = 0)]
    pub dev_account: u32,
}

#[derive(Debug, Args)]
pub struct BenchUtxoArgs {
    /// Transactions (1 input, 2 outputs each).
    #[arg(long, default_value_t = 20_000)]
    pub txs: u32,
    /// Calls per anchor.
    #[arg(long, default_value_t = 256)]
    pub batch: usize,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Keep the state in memory instead of RocksDB (isolates the store's share).
    #[arg(long)]
    pub memory: bool,
}

#[derive(Debug, Args)]
pub struct BenchCryptoArgs {
    /// Operations per measurement (aggregation rounds: a tenth of it).
    #[arg(long, default_value_t = 2_000)]
    pub iterations: u32,
    /// Signers of the BLS aggregate (the attestor sample M).
    #[arg(long, default_value_t = 128)]
    pub signers: u32,
}

#[derive(Debug, Args)]
pub struct DevAccountsArgs {
    /// How many accounts to print.
    #[arg(long, default_value_t = 2)]
    pub count: u32,
}

#[derive(Debug, Args)]
pub struct SimArgs {
    /// Committee seats k (1..=64).
    #[arg(long, default_value_t = 4)]
    pub seats: u8,
    /// Byzantine seats (safety is promised up to ⌊(k−1)/3⌋).
    #[arg(long, default_value_t = 0)]
    pub byzantine: u8,
    /// Number of seeds to run.
    #[arg(long, default_value_t = 100)]
    pub seeds: u64,
    /// First seed (a failing seed replays exactly with `--first-seed S --seeds 1`).
    #[arg(long, default_value_t = 1)]
    pub first_seed: u64,
    /// Events each seat creates per seed.
    #[arg(long, default_value_t = 40)]
    pub events: u64,
    /// Parents per event (2..=4).
    #[arg(long, default_value_t = 4)]
    pub parents: u8,
    /// Faults, comma-separated: `none`, `all`, `loss:PCT`, `delay:TICKS`, `partition`,
    /// `split-brain`, `partitions:N`, `crash`, `adaptive`, `isolate`, `asymmetric`, `rates`, `mid-write`,
    /// `lost-storage`, `restore`, `late-join` (docs/bench/consensus.md).
    #[arg(long, default_value = "loss:10,delay:20,partition,crash")]
    pub faults: String,
    /// Byzantine behaviours, comma-separated, assigned to the Byzantine seats in turn: `mix`
    /// (one drawn per seat and seed), `all`, or names: `equivocate`, `withhold`,
    /// `missing-parents`, `future-frames`, `fork-bomb`, `twins`, `split`, `sig-variance`,
    /// `self-cited-forks`, `lying-server`.
    #[arg(long, default_value = "mix")]
    pub behaviour: String,
    /// Every N-th voting level flips a coin (at least 3).
    #[arg(long, default_value_t = 8)]
    pub coin_period: u64,
    /// Also print throughput (events inserted per second of wall time, all nodes together).
    #[arg(long)]
    pub bench: bool,
    /// Print every violation found (the first ten are always printed).
    #[arg(long)]
    pub verbose: bool,
}

#[derive(Debug, Args)]
pub struct ChainArgs {
    /// `dev`, or the path of a chainspec JSON file (plain or raw).
    #[arg(long, default_value = "dev")]
    pub chain: String,
    /// Directory for the node's database (default: `phantom-data/<chain id>`).
    #[arg(long)]
    pub base_path: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub chain: ChainArgs,
    /// JSON-RPC port (HTTP and WebSocket) on 127.0.0.1; 0 picks a free port (logged).
    #[arg(long, default_value_t = 9944)]
    pub rpc_port: u16,
    /// Address the JSON-RPC server binds to. Keep it local unless a proxy guards it.
    #[arg(long, default_value = "127.0.0.1")]
    pub rpc_addr: std::net::IpAddr,
    /// Milliseconds between two events of this node's seat (development chains).
    #[arg(long, default_value_t = 250)]
    pub event_interval_ms: u64,
    /// Sign this node's events with the seat key of a phantom-signer service on this unix socket
    /// (`phantom-signer serve`, docs/signer.md) instead of the development seat key.
    #[arg(long, requires = "signer_token_file")]
    pub signer_socket: Option<PathBuf>,
    /// The signing service's token file.
    #[arg(long, requires = "signer_socket")]
    pub signer_token_file: Option<PathBuf>,
    /// The seat key index in the signer's keystore.
    #[arg(long, default_value_t = 0)]
    pub seat_index: u32,
    /// Validate with well-known validator key N (development and local chains; `phantom-node
    /// dev-seats` prints them). Keys 0..k are the genesis committee; a higher N is a key that
    /// a committee provider may seat later: the node follows until then.
    #[arg(long, conflicts_with = "signer_socket")]
    pub seat: Option<u8>,
    /// Join the peer-to-peer network on this libp2p address (e.g. `/ip4/127.0.0.1/tcp/30333`).
    /// Chains with more than one seat always do (default `/ip4/127.0.0.1/tcp/30333`).
    #[arg(long)]
    pub listen: Option<String>,
    /// Peers to dial at start (`/ip4/…/tcp/…/p2p/<peer id>`), beside the chainspec's boot nodes.
    #[arg(long, value_delimiter = ',')]
    pub bootnodes: Vec<String>,
    /// The node's network identity secret (32 bytes hex); default: `<base-path>/network/node_key`,
    /// created on first start.
    #[arg(long)]
    pub node_key: Option<String>,
    /// Serve Prometheus metrics on this port (`/metrics`); off without it.
    #[arg(long)]
    pub prometheus_port: Option<u16>,
    /// Address the metrics server binds to.
    #[arg(long, default_value = "127.0.0.1")]
    pub prometheus_addr: std::net::IpAddr,
    /// The node's config file (TOML, docs/observability.md): `[node.cache] header_cap, payload_cap,
    /// state_cap`.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Event-header cache entries (0 = off); overrides the config file.
    #[arg(long)]
    pub cache_hdr_cap: Option<usize>,
    /// Payload cache entries (0 = off); overrides the config file.
    #[arg(long)]
    pub cache_pl_cap: Option<usize>,
    /// Committed-state cache entries (0 = off); overrides the config file.
    #[arg(long)]
    pub cache_state_cap: Option<usize>,
    /// RocksDB's block cache in MiB (default 128); overrides the config file.
    #[arg(long)]
    pub cache_db_mib: Option<usize>,
}

#[derive(Debug, Args)]
pub struct BuildSpecArgs {
    /// `dev`, or the path of a chainspec JSON file.
    #[arg(long, default_value = "dev")]
    pub chain: String,
    /// Print the frozen form whose hash is the genesis hash.
    #[arg(long)]
    pub raw: bool,
}

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    #[command(flatten)]
    pub chain: ChainArgs,
    /// The snapshot file.
    #[arg(long)]
    pub file: PathBuf,
}
