#!/usr/bin/env bash
# Builds every cargo-fuzz target and runs each for SECONDS (default 60), then prints one line:
#   targets=N runs=R crashes=C
# A crash leaves its input under fuzz/artifacts/<target>/ and prints the command that replays it.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]    (no TARGET: all of `cargo fuzz list`)
#   FUZZ_JOBS=2 scripts/fuzz.sh 600          (targets run side by side, one core each)
#
# Seeds checked in under fuzz/seeds/<target>/ are read; what the fuzzer learns goes to
# fuzz/corpus/<target>/ (not committed). Per-target logs: fuzz/logs/<target>.log.
# Works on a fresh Debian machine with only stable Rust: it installs cargo-fuzz and, without a
# nightly toolchain, lets stable accept the sanitizer flags (RUSTC_BOOTSTRAP=1).
set -euo pipefail
secs=${1:-60}
shift || true
jobs=${FUZZ_JOBS:-1}
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh" # a C/C++ toolchain: libFuzzer, blst and libsecp256k1 are compiled
cd "$root/fuzz"

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked --version 0.13.2
fi
toolchain=()
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  toolchain=(+nightly)
else
  export RUSTC_BOOTSTRAP=1
fi
# Debug assertions and overflow checks on, as in tests; optimised, as fuzzing needs speed.
flags=(-O --debug-assertions)

if [ "$#" -gt 0 ]; then
  targets=("$@")
  for t in "${targets[@]}"; do cargo "${toolchain[@]}" fuzz build "${flags[@]}" "$t"; done
else
  mapfile -t targets < <(cargo "${toolchain[@]}" fuzz list)
  cargo "${toolchain[@]}" fuzz build "${flags[@]}"
fi
if [ "${#targets[@]}" -eq 0 ]; then
  echo "no fuzz targets found (cargo fuzz list printed none)" >&2
  exit 2
fi

mkdir -p logs
# The binaries built above run directly: `cargo fuzz run` would rebuild from the working tree
# before each target, so a long campaign would test whatever the tree held at that moment.
bin="target/$(rustc -vV | sed -n 's/^host: //p')/release"
run_one() {
  local t=$1 status=0
  mkdir -p "corpus/$t" "seeds/$t" "artifacts/$t"
  "$bin/$t" "corpus/$t" "seeds/$t" -artifact_prefix="artifacts/$t/" \
    -max_total_time="$secs" -timeout=30 -rss_limit_mb=2048 -print_final_stats=1 \
    >"logs/$t.log" 2>&1 || status=$?
  echo "$status" >"logs/$t.status"
}

# Each run leaves its exit status in a file: `wait PID` on a job the shell already reaped
# fails with 127 and would read as a crash.
rm -f logs/*.status
for t in "${targets[@]}"; do
  run_one "$t" &
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do sleep 1; done
done
wait
crashes=0
runs=0
for t in "${targets[@]}"; do
  status=$(cat "logs/$t.status" 2>/dev/null || echo missing)
  n=$(grep -o 'stat::number_of_executed_units: [0-9]*' "logs/$t.log" | tail -1 | grep -o '[0-9]*$' || echo 0)
  cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "logs/$t.log" | tail -1 || true)
  runs=$((runs + ${n:-0}))
  if [ "$status" != 0 ]; then
    crashes=$((crashes + 1))
    artifact=$(grep -o 'artifacts/[^ ]*' "logs/$t.log" | tail -1 || true)
    echo "CRASH $t (exit $status): input fuzz/$artifact; log fuzz/logs/$t.log"
    echo "  replay: (cd fuzz && $bin/$t $artifact)"
  else
    echo "ok    $t runs=${n:-0} $cov"
  fi
done
echo "targets=${#targets[@]} runs=$runs crashes=$crashes"
[ "$crashes" -eq 0 ]
