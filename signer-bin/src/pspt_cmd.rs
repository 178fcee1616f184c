//! `phantom-signer pspt …` and the MuSig2 helpers' command lines.

use clap::Subcommand;
use phantom_signer::musig::{self, NonceStore};
use phantom_signer::pspt::Pspt;
use phantom_signer::wallet::{self, Node};
use phantom_signer::{Keystore, SignerError};
use std::path::{Path, PathBuf};

/// What to do with a partially-signed transaction file.
#[derive(Debug, Subcommand)]
pub enum PsptCommand {
    /// Builds an unsigned PSPT from an address's spendable outputs (no key needed: watch-only).
    Create {
        /// The node's JSON-RPC URL.
        #[arg(long, default_value = "http://127.0.0.1:9944")]
        rpc_url: String,
        /// The address paying (Bech32m `pc1…`).
        #[arg(long)]
        from: String,
        /// For a predicate-hash address: the predicate it hides, SCALE hex.
        #[arg(long)]
        reveal: Option<String>,
        /// Destination address.
        #[arg(long)]
        to: String,
        /// Units to send.
        #[arg(long)]
        amount: u64,
        /// Fee in units per byte.
        #[arg(long, default_value_t = 2)]
        fee_per_byte: u64,
        /// If FROM is a MuSig2 aggregate: the participants' keys (`phantom-signer pubkey`), comma-separated.
        #[arg(long, value_delimiter = ',')]
        musig_keys: Vec<String>,
        /// The PSPT file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Prints what a PSPT spends, pays, and still needs (JSON).
    Inspect {
        /// The PSPT file.
        #[arg(long = "in")]
        input: PathBuf,
    },
    /// Signs with every spend key 0..SCAN of the keystore that an input needs.
    Sign {
        /// The PSPT file.
        #[arg(long = "in")]
        input: PathBuf,
        /// Where to write the result (default: in place).
        #[arg(long)]
        out: Option<PathBuf>,
        /// How many spend keys to try.
        #[arg(long, default_value_t = 20)]
        scan: u32,
    },
    /// Merges PSPTs of the same transaction (signatures, MuSig2 nonces and partial signatures).
    Combine {
        /// Two or more PSPT files.
        #[arg(long = "in", required = true, num_args = 1..)]
        inputs: Vec<PathBuf>,
        /// The merged file.
        #[arg(long)]
        out: PathBuf,
    },
    /// MuSig2 round 1 with spend key INDEX: adds its public nonce, keeps the secret one.
    MusigNonce {
        /// The PSPT file.
        #[arg(long = "in")]
        input: PathBuf,
        /// Where to write the result (default: in place).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Spend key index.
        #[arg(long, default_value_t = 0)]
        index: u32,
    },
    /// MuSig2 round 2 with spend key INDEX: adds its partial signature (uses up the nonce).
    MusigSign {
        /// The PSPT file (with every participant's nonce).
        #[arg(long = "in")]
        input: PathBuf,
        /// Where to write the result (default: in place).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Spend key index.
        #[arg(long, default_value_t = 0)]
        index: u32,
    },
    /// Aggregates MuSig2 signatures and prints the signed transaction (SCALE hex).
    Finalize {
        /// The PSPT file.
        #[arg(long = "in")]
        input: PathBuf,
    },
    /// Finalizes and submits to a node of the PSPT's network; prints the transaction id.
    Broadcast {
        /// The PSPT file.
        #[arg(long = "in")]
        input: PathBuf,
        /// The node's JSON-RPC URL.
        #[arg(long, default_value = "http://127.0.0.1:9944")]
        rpc_url: String,
    },
}

fn addr(s: &str, what: &str) -> Result<pc_utxo_tx::Address, SignerError> {
    s.parse().map_err(|e| SignerError::Pspt(format!("{what}: {e}")))
}

fn complete(mut p: Pspt) -> Result<Pspt, SignerError> {
    musig::aggregate(&mut p)?;
    Ok(p)
}

/// Runs one PSPT command; only the commands that sign open the keystore.
pub fn run(cmd: &PsptCommand, cli: &crate::Cli) -> Result<(), SignerError> {
    let keystore = || -> Result<(Keystore, PathBuf), SignerError> {
        Ok((Keystore::open(&cli.keystore, &crate::password(cli)?)?, cli.keystore.clone()))
    };
    let out_or = |out: &Option<PathBuf>, input: &Path| out.clone().unwrap_or_else(|| input.to_path_buf());
    match cmd {
        PsptCommand::Create { rpc_url, from, reveal, to, amount, fee_per_byte, musig_keys, out } => {
            let (from, to) = (addr(from, "--from")?, addr(to, "--to")?);
            let reveal = reveal
                .as_ref()
                .map(|h| {
                    let b = hex::decode(h).map_err(|e| SignerError::Pspt(format!("--reveal: {e}")))?;
                    pc_codec::decode_canonical(&b, pc_utxo_tx::MAX_TX_BYTES)
                        .map_err(|e| SignerError::Pspt(format!("--reveal: {e}")))
                })
                .transpose()?;
            let keys = musig_keys.iter().map(|k| musig::parse_key(k)).collect::<Result<Vec<_>, _>>()?;
            let node = Node::connect(rpc_url)?;
            let mut p = crate::block_on(wallet::create(&node, &from, reveal.as_ref(), &to, *amount, *fee_per_byte))??;
            if !keys.is_empty() {
                musig::add_session(&mut p, &keys)?;
            }
            p.save(out)?;
            println!("{}", p.transaction()?.txid());
        }
        PsptCommand::Inspect { input } => {
            let v = complete(Pspt::load(input)?)?.inspect()?;
            println!("{}", serde_json::to_string_pretty(&v).map_err(|e| SignerError::Pspt(e.to_string()))?);
        }
        PsptCommand::Sign { input, out, scan } => {
            let mut p = Pspt::load(input)?;
            let (ks, _) = keystore()?;
            let n = wallet::sign(&mut p, &ks, *scan)?;
            p.save(&out_or(out, input))?;
            println!("signed with {n} key(s)");
        }
        PsptCommand::Combine { inputs, out } => {
            let mut files = inputs.iter();
            let first = files.next().ok_or_else(|| SignerError::Pspt("nothing to combine".into()))?;
            let mut p = Pspt::load(first)?;
            for f in files {
                p.combine(&Pspt::load(f)?)?;
            }
            p.save(out)?;
        }
        PsptCommand::MusigNonce { input, out, index } => {
            let mut p = Pspt::load(input)?;
            let (ks, path) = keystore()?;
            musig::nonce_round(&mut p, &ks, &NonceStore::beside(&path, &ks)?, *index)?;
            p.save(&out_or(out, input))?;
        }
        PsptCommand::MusigSign { input, out, index } => {
            let mut p = Pspt::load(input)?;
            let (ks, path) = keystore()?;
            musig::sign_round(&mut p, &ks, &NonceStore::beside(&path, &ks)?, *index)?;
            p.save(&out_or(out, input))?;
        }
        PsptCommand::Finalize { input } => {
            let tx = complete(Pspt::load(input)?)?.finalize()?;
            println!("{}", hex::encode(parity_scale_codec::Encode::encode(&tx)));
        }
        PsptCommand::Broadcast { input, rpc_url } => {
            let p = complete(Pspt::load(input)?)?;
            let node = Node::connect(rpc_url)?;
            println!("{}", crate::block_on(wallet::broadcast(&node, &p))??);
        }
    }
    Ok(())
}
