#!/usr/bin/env bash
# The whole test suite, as CI runs it: setup, lint, then every test of the workspace in one
# cargo profile (dev, dependencies at opt-level 1), so RocksDB's C++ is compiled exactly once.
#
# Knobs: CARGO_TARGET_DIR (default: a cache outside the clone, reused between runs);
#        PC_SIM_SEEDS (simulation seed count, once the consensus simulator lands).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh --test

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/phantomcoin/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export RUST_BACKTRACE=1

echo "== format"
cargo fmt --all --check
echo "== build (tests and binaries)"
cargo build --workspace --all-targets --locked
echo "== clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== tests"
cargo test --workspace --locked
