#!/usr/bin/env bash
# The consensus simulator's certification matrix (docs/bench/consensus.md): for each committee
# size, exactly f Byzantine seats with each Byzantine behaviour under every fault must give
# `violations=0`; f + 1 Byzantine seats (the default mix, every fault) must give violations.
#
# Usage: scripts/sim-matrix.sh [SEEDS] [K ...]   (default: 10 seeds; k = 2 3 4 5 7 21 22 64)
# Needs a built phantom-node (PHANTOM_NODE, default: the test build under CARGO_TARGET_DIR).
set -euo pipefail
seeds="${1:-10}"
shift || true
ks=("$@")
[ ${#ks[@]} -eq 0 ] && ks=(2 3 4 5 7 21 22 64)
target="${CARGO_TARGET_DIR:-$HOME/.cache/phantomcoin/target}"
node="${PHANTOM_NODE:-$target/debug/phantom-node}"
behaviours=(equivocate withhold missing-parents future-frames fork-bomb twins split sig-variance self-cited-forks lying-server)
fail=0
for k in "${ks[@]}"; do
  f=$(( (k - 1) / 3 ))
  # Large committees are slow: fewer seeds and events there.
  s=$seeds; ev=40
  if [ "$k" -ge 21 ]; then s=$(( (seeds + 4) / 5 )); ev=30; fi
  if [ "$k" -ge 64 ]; then s=1; fi
  for b in "${behaviours[@]}"; do
    byz=$f; [ "$f" -eq 0 ] && byz=0
    line=$("$node" sim --seats "$k" --byzantine "$byz" --seeds "$s" --events "$ev" --faults all --behaviour "$b" 2>&1 | grep '^seeds=' || true)
    label=$b; [ "$byz" -eq 0 ] && label=none
    echo "k=$k byzantine=$byz behaviour=$label faults=all: $line"
    case "$line" in *" violations=0 "*) ;; *) fail=1 ;; esac
    # Without a Byzantine seat nobody can hide an old event: a framed slot is a broken wait.
    if [ "$byz" -eq 0 ]; then case "$line" in *" framed=0 "*) ;; *) fail=1 ;; esac; fi
    [ "$f" -eq 0 ] && break # no Byzantine seat to vary
  done
  line=$("$node" sim --seats "$k" --byzantine $((f + 1)) --seeds "$s" --events "$ev" --faults all 2>&1 | grep '^seeds=' || true)
  echo "k=$k byzantine=$((f + 1)) behaviour=mix faults=all: $line"
  case "$line" in *" violations=0 "*) fail=1 ;; esac
done
if [ "$fail" -ne 0 ]; then echo "sim-matrix: FAILED"; exit 1; fi
echo "sim-matrix: ok"
