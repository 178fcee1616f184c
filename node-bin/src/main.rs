//! `phantom-node`: the PhantomCoin full node / validator.
#![forbid(unsafe_code)]

// Link the module crates this build enables; their `inventory` registrations come with them.
#[cfg(feature = "module-genesis")]
use pc_module_genesis as _;
#[cfg(feature = "module-mint-pow")]
use pc_module_mint_pow as _;
#[cfg(feature = "module-utxo")]
use pc_module_utxo as _;

/// The node allocates and frees many small buffers per transaction on several threads
/// (decoding, keys, overlay entries); glibc's allocator spent milliseconds per anchor
/// consolidating them, mimalloc's thread-local free lists do not (docs/bench/utxo.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[cfg(feature = "module-utxo")]
mod bench;
mod cache_bench;
mod cli;
mod commands;
mod config;
mod crypto_bench;
mod error;
mod loadgen;
mod run;
mod sim;
mod telemetry;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    let mut telemetry = match telemetry::init(&cli.log) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let code = match commands::dispatch(cli.command) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(target: "pc::node", "{e}");
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    };
    telemetry.shutdown();
    code
}
