//! `phantom-signer`: creates, restores and uses the encrypted keystore (docs/signer.md).
#![forbid(unsafe_code)]

use clap::{Parser, Subcommand};
use phantom_signer::{KdfParams, Keystore, Purpose, SignerError};
use std::io::Read;
use std::path::PathBuf;

mod pspt_cmd;

/// PhantomCoin key holder.
#[derive(Debug, Parser)]
#[command(name = "phantom-signer", version, about)]
pub(crate) struct Cli {
    /// The keystore file.
    #[arg(long, global = true, default_value = "phantom-keystore.json")]
    pub(crate) keystore: PathBuf,
    /// A file holding the keystore password (else the PHANTOM_SIGNER_PASSWORD variable).
    #[arg(long, global = true)]
    password_file: Option<PathBuf>,
    /// Argon2id memory in KiB for a new keystore.
    #[arg(long, global = true, default_value_t = 64 * 1024)]
    kdf_memory_kib: u32,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Creates a keystore and prints its 24-word mnemonic once (write it down: it is the backup).
    Init(HsmArgs),
    /// Rebuilds a keystore from a mnemonic read from standard input.
    Restore(HsmArgs),
    /// Prints the total and spendable balance of spend key INDEX, from the node.
    Balance {
        /// The node's JSON-RPC URL.
        #[arg(long, default_value = "http://127.0.0.1:9944")]
        rpc_url: String,
        /// Spend key index.
        #[arg(long, default_value_t = 0)]
        index: u32,
    },
    /// Lists the unspent outputs of spend key INDEX (JSON, from the node).
    Unspent {
        /// The node's JSON-RPC URL.
        #[arg(long, default_value = "http://127.0.0.1:9944")]
        rpc_url: String,
        /// Spend key index.
        #[arg(long, default_value_t = 0)]
        index: u32,
    },
    /// Sends AMOUNT units from spend key INDEX to an address; prints the transaction id.
    Send {
        /// The node's JSON-RPC URL.
        #[arg(long, default_value = "http://127.0.0.1:9944")]
        rpc_url: String,
        /// Spend key index.
        #[arg(long, default_value_t = 0)]
        index: u32,
        /// Destination (Bech32m `pc1…`).
        #[arg(long)]
        to: String,
        /// Units (1 PC = 100,000,000).
        #[arg(long)]
        amount: u64,
        /// Fee in units per byte.
        #[arg(long, default_value_t = 2)]
        fee_per_byte: u64,
    },
    /// Serves the seat keys to phantom-node on a unix socket (docs/signer.md), under slashing
    /// protection. Runs until killed.
    Serve {
        /// The socket path (created owner-only; a stale one is replaced).
        #[arg(long)]
        socket: PathBuf,
        /// The token file; created with a fresh token (owner-only) if missing.
        #[arg(long)]
        token_file: PathBuf,
        /// The slashing-protection record.
        #[arg(long, default_value = "phantom-protection.log")]
        protection: PathBuf,
    },
    /// Partially-signed transactions: create, inspect, sign, combine, MuSig2 rounds, finalize,
    /// broadcast (docs/signer.md).
    #[command(subcommand)]
    Pspt(pspt_cmd::PsptCommand),
    /// Prints spend key INDEX's full public key (33 bytes, hex): what a MuSig2 partner needs.
    Pubkey {
        /// Spend key index.
        #[arg(long, default_value_t = 0)]
        index: u32,
    },
    /// Prints seat key INDEX's x-only public key (hex): what a chainspec's `committee` lists.
    SeatKey {
        /// Seat key index.
        #[arg(long, default_value_t = 0)]
        index: u32,
    },
    /// Prints the address of the MuSig2 aggregate of these participant keys (no keystore needed).
    MusigAddress {
        /// Participants' keys (`phantom-signer pubkey`), comma-separated.
        #[arg(long, value_delimiter = ',', required = true)]
        keys: Vec<String>,
    },
    /// Prints the public keys of validator key set INDEX (seat, bond = operator, payout, VRF,
    /// BLS with its proof of possession) as JSON.
    ValidatorKeys {
        /// Key set index.
        #[arg(long, default_value_t = 0)]
        index: u32,
    },
    /// Prints a `modules.bonding.genesis_bonds` entry for key set INDEX bonding VALUE units
    /// that return to OWNER at withdrawal (for a new network's chainspec).
    GenesisBond {
        /// Key set index.
        #[arg(long, default_value_t = 0)]
        index: u32,
        /// Address the bonded value returns to.
        #[arg(long)]
        owner: String,
        /// Units bonded.
        #[arg(long)]
        value: u64,
    },
    /// Bonds outputs of spend key SPEND_INDEX (immature mints too) for key set INDEX: whole
    /// outputs, largest first, until AMOUNT is covered (or the listed OUTPOINTs). Prints the
    /// bond id.
    Bond {
        /// The node's JSON-RPC URL.
        #[arg(long, default_value = "http://127.0.0.1:9944")]
        rpc_url: String,
        /// Key set index.
        #[arg(long, default_value_t = 0)]
        index: u32,
        /// Spend key that owns the outputs.
        #[arg(long, default_value_t = 0)]
        spend_index: u32,
        /// Key set whose bond key is the operator id (default: INDEX). A second bond of one
        /// operator names the first one's set, so the two never share a committee.
        #[arg(long)]
        operator_index: Option<u32>,
        /// Units to cover.
        #[arg(long, required_unless_present = "outpoint")]
        amount: Option<u64>,
        /// `txid:index` of an output to bond (repeatable; instead of --amount).
        #[arg(long)]
        outpoint: Vec<String>,
    },
    /// Starts unbonding BOND (signed by bond key INDEX); prints the call's key.
    Unbond(BondArgs),
    /// Withdraws BOND once released (signed by bond key INDEX).
    Withdraw(BondArgs),
    /// Sends BOND's candidacy for the next epoch (VRF key INDEX). A validator's node does this
    /// itself each epoch through `serve`.
    Candidacy(BondArgs),
    /// Sends BOND's heartbeat (seat key INDEX) bound to the last finalized anchor.
    Heartbeat(BondArgs),
    /// Prints the address (Bech32m) of key INDEX of PURPOSE.
    Address {
        /// seat, bond, payout or spend.
        #[arg(long, default_value = "spend")]
        purpose: Purpose,
        /// Key index.
        #[arg(long, default_value_t = 0)]
        index: u32,
    },
}

/// A call about one bond, signed with key set INDEX and sent to a node.
#[derive(Debug, clap::Args)]
struct BondArgs {
    /// The node's JSON-RPC URL.
    #[arg(long, default_value = "http://127.0.0.1:9944")]
    rpc_url: String,
    /// Key set index.
    #[arg(long, default_value_t = 0)]
    index: u32,
    /// The bond id.
    #[arg(long)]
    bond: String,
}

/// With `--hsm-token`, the keystore's entropy is sealed by an AES key inside a PKCS#11 token and
/// the password is the token's user PIN (docs/signer.md, "HSM").
#[derive(Debug, clap::Args)]
struct HsmArgs {
    /// The label of the PKCS#11 token to seal the keystore with.
    #[arg(long)]
    hsm_token: Option<String>,
    /// The PKCS#11 module.
    #[arg(long, default_value = "/usr/lib/softhsm/libsofthsm2.so")]
    hsm_module: PathBuf,
    /// The label of the AES key on the token (generated there, non-extractable, if missing).
    #[arg(long, default_value = "phantom-signer-kek")]
    hsm_key_label: String,
}

impl HsmArgs {
    fn config(&self) -> Option<phantom_signer::HsmConfig> {
        self.hsm_token.as_ref().map(|token| phantom_signer::HsmConfig {
            module: self.hsm_module.clone(),
            token: token.clone(),
            key_label: self.hsm_key_label.clone(),
        })
    }
}

pub(crate) fn password(cli: &Cli) -> Result<String, SignerError> {
    match &cli.password_file {
        Some(p) => std::fs::read_to_string(p)
            .map(|s| s.trim_end_matches(['\n', '\r']).to_string())
            .map_err(|source| SignerError::Io { path: p.display().to_string(), source }),
        None => std::env::var("PHANTOM_SIGNER_PASSWORD").map_err(|_| {
            SignerError::Crypto("no password: pass --password-file or set PHANTOM_SIGNER_PASSWORD".into())
        }),
    }
}

fn run(cli: &Cli) -> Result<(), SignerError> {
    let params = KdfParams { m_kib: cli.kdf_memory_kib, ..KdfParams::default() };
    match &cli.command {
        Command::Init(hsm) => {
            let (_, phrase) = match hsm.config() {
                Some(cfg) => Keystore::create_in_hsm(&cli.keystore, &cfg, &password(cli)?)?,
                None => Keystore::create(&cli.keystore, &password(cli)?, params)?,
            };
            println!("{}", phrase.as_str());
        }
        Command::Restore(hsm) => {
            let mut phrase = zeroize::Zeroizing::new(String::new());
            std::io::stdin()
                .read_to_string(&mut phrase)
                .map_err(|source| SignerError::Io { path: "stdin".into(), source })?;
            match hsm.config() {
                Some(cfg) => Keystore::restore_in_hsm(&cli.keystore, &phrase, &cfg, &password(cli)?)?,
                None => Keystore::restore(&cli.keystore, &phrase, &password(cli)?, params)?,
            };
            println!("restored {}", cli.keystore.display());
        }
        Command::Balance { rpc_url, index } => {
            let ks = Keystore::open(&cli.keystore, &password(cli)?)?;
            let addr = pc_utxo_tx::Address::Key(ks.public_key(Purpose::Spend, *index)?);
            let node = phantom_signer::wallet::Node::connect(rpc_url)?;
            let (total, spendable) = block_on(node.balance(&addr))??;
            println!("{addr} total={total} spendable={spendable}");
        }
        Command::Unspent { rpc_url, index } => {
            let ks = Keystore::open(&cli.keystore, &password(cli)?)?;
            let addr = pc_utxo_tx::Address::Key(ks.public_key(Purpose::Spend, *index)?);
            let list = block_on(phantom_signer::wallet::Node::connect(rpc_url)?.unspent(&addr))??;
            println!("{}", serde_json::to_string_pretty(&list).map_err(|e| SignerError::Node(e.to_string()))?);
        }
        Command::Send { rpc_url, index, to, amount, fee_per_byte } => {
            let to: pc_utxo_tx::Address = to.parse().map_err(|e| SignerError::Node(format!("--to: {e}")))?;
            let ks = Keystore::open(&cli.keystore, &password(cli)?)?;
            let node = phantom_signer::wallet::Node::connect(rpc_url)?;
            let id = block_on(phantom_signer::wallet::send(&node, &ks, *index, &to, *amount, *fee_per_byte))??;
            println!("{id}");
        }
        Command::Serve { socket, token_file, protection } => {
            let ks = Keystore::open(&cli.keystore, &password(cli)?)?;
            let protection = phantom_signer::Protection::open(protection)?;
            let token = phantom_signer::service::load_or_create_token(token_file)?;
            let service = std::sync::Arc::new(phantom_signer::service::Service::new(ks, protection, token));
            eprintln!("serving seat keys on {}", socket.display());
            service.serve(socket)?;
        }
        Command::Pspt(cmd) => pspt_cmd::run(cmd, cli)?,
        Command::Pubkey { index } => {
            let ks = Keystore::open(&cli.keystore, &password(cli)?)?;
            println!("{}", hex::encode(ks.keypair(Purpose::Spend, *index)?.public_key().serialize()));
        }
        Command::SeatKey { index } => {
            let ks = Keystore::open(&cli.keystore, &password(cli)?)?;
            println!("{}", hex::encode(ks.public_key(Purpose::Seat, *index)?.0));
        }
        Command::MusigAddress { keys } => {
            let keys = keys.iter().map(|k| phantom_signer::musig::parse_key(k)).collect::<Result<Vec<_>, _>>()?;
            println!("{}", phantom_signer::musig::aggregate_address(&keys)?);
        }
        Command::ValidatorKeys { index } => {
            let ks = Keystore::open(&cli.keystore, &password(cli)?)?;
            println!("{}", pretty(&phantom_signer::validator::keys_json(&ks, *index)?)?);
        }
        Command::GenesisBond { index, owner, value } => {
            let owner: pc_utxo_tx::Address = owner.parse().map_err(|e| SignerError::Node(format!("--owner: {e}")))?;
            let ks = Keystore::open(&cli.keystore, &password(cli)?)?;
            let terms = phantom_signer::validator::terms(&ks, *index, *index)?;
            let entry = pc_module_bonding::GenesisBond::of(&terms, &owner, *value);
            let entry = serde_json::to_value(entry).map_err(|e| SignerError::Node(e.to_string()))?;
            println!("{}", pretty(&entry)?);
        }
        Command::Bond { rpc_url, index, spend_index, operator_index, amount, outpoint } => {
            let ks = Keystore::open(&cli.keystore, &password(cli)?)?;
            let node = phantom_signer::wallet::Node::connect(rpc_url)?;
            let genesis = block_on(node.genesis())??;
            let inputs = if outpoint.is_empty() {
                let amount = amount.unwrap_or(0);
                block_on(phantom_signer::validator::pick_inputs(&node, &ks, *spend_index, amount))??
            } else {
                outpoint.iter().map(|o| parse_outpoint(o).map(|op| (op, *spend_index))).collect::<Result<_, _>>()?
            };
            let operator = operator_index.unwrap_or(*index);
            let (id, call) = phantom_signer::validator::bond_call(&ks, *index, operator, &genesis, &inputs)?;
            block_on(node.submit_call("bonding_submit", &call))??;
            println!("{id}");
        }
        Command::Unbond(a) | Command::Withdraw(a) | Command::Candidacy(a) | Command::Heartbeat(a) => {
            let bond = parse_hash(&a.bond, "--bond")?;
            let ks = Keystore::open(&cli.keystore, &password(cli)?)?;
            let node = phantom_signer::wallet::Node::connect(&a.rpc_url)?;
            let genesis = block_on(node.genesis())??;
            let (method, call) = match &cli.command {
                Command::Candidacy(_) => {
                    let (epoch, seed) = block_on(node.next_epoch())??;
                    (
                        "committee_submit",
                        phantom_signer::validator::candidacy_call(&ks, a.index, &genesis, &bond, epoch, &seed)?,
                    )
                }
                Command::Heartbeat(_) => {
                    let anchor = block_on(node.best_anchor())??;
                    (
                        "committee_submit",
                        phantom_signer::validator::heartbeat_call(&ks, a.index, &genesis, &bond, anchor)?,
                    )
                }
                withdraw => {
                    let withdraw = matches!(withdraw, Command::Withdraw(_));
                    ("bonding_submit", phantom_signer::validator::exit_call(&ks, a.index, &genesis, &bond, withdraw)?)
                }
            };
            println!("{}", block_on(node.submit_call(method, &call))??);
        }
        Command::Address { purpose: Purpose::Vrf | Purpose::Bls, .. } => {
            return Err(SignerError::Crypto(
                "VRF and BLS keys have no address: see `phantom-signer validator-keys`".into(),
            ));
        }
        Command::Address { purpose, index } => {
            let ks = Keystore::open(&cli.keystore, &password(cli)?)?;
            println!("{}", pc_utxo_tx::Address::Key(ks.public_key(*purpose, *index)?));
        }
    }
    Ok(())
}

fn pretty(v: &serde_json::Value) -> Result<String, SignerError> {
    serde_json::to_string_pretty(v).map_err(|e| SignerError::Node(e.to_string()))
}

fn parse_hash(s: &str, flag: &str) -> Result<pc_codec::Hash32, SignerError> {
    pc_codec::Hash32::from_hex(s).map_err(|e| SignerError::Node(format!("{flag}: {e}")))
}

fn parse_outpoint(s: &str) -> Result<pc_utxo_tx::OutPoint, SignerError> {
    let bad = || SignerError::Node(format!("--outpoint `{s}`: expected txid:index"));
    let (tx, index) = s.split_once(':').ok_or_else(bad)?;
    Ok(pc_utxo_tx::OutPoint { tx: parse_hash(tx, "--outpoint")?, index: index.parse().map_err(|_| bad())? })
}

pub(crate) fn block_on<F: std::future::Future>(f: F) -> Result<F::Output, SignerError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| SignerError::Io { path: "tokio runtime".into(), source })?;
    Ok(rt.block_on(f))
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
