#!/usr/bin/env bash
# Builds phantom-node (release) and runs the development chain with its RocksDB database in
# ./phantom-data/dev. Extra arguments go to `phantom-node run`.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cargo build --release --locked -p phantom-node
exec ./target/release/phantom-node run --chain dev --base-path ./phantom-data/dev "$@"
