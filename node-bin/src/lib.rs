//! `phantom-node` as a library: the whole command line behind [`main`], so that a test binary
//! can link the node with a module of its own (`src/bin/pc-test-rotation-node.rs`) without the
//! node knowing that module.
#![forbid(unsafe_code)]

// Link the module crates this build enables; their `inventory` registrations come with them.
#[cfg(feature = "module-bonding")]
use pc_module_bonding as _;
#[cfg(feature = "module-committee-vrf")]
use pc_module_committee_vrf as _;
#[cfg(feature = "module-genesis")]
use pc_module_genesis as _;
#[cfg(feature = "module-mint-pow")]
use pc_module_mint_pow as _;
#[cfg(feature = "module-utxo")]
use pc_module_utxo as _;

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
#[cfg(feature = "module-committee-vrf")]
pub mod validator;

use clap::Parser;

/// Parses the command line and runs the command; what `phantom-node` does.
pub fn main() -> std::process::ExitCode {
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
