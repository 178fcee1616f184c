#!/usr/bin/env bash
# Memory of a 4-validator Testnet-0 on 127.0.0.1 across consensus epochs (consensus.md §11,
# §12): LOAD_S seconds of `loadgen` traffic, then IDLE_S seconds with none. Every 10 s it
# records, per node, RSS, events accepted, best anchor, epoch and the size of its database
# directory into $OUT/samples.csv, and ends with a summary line per phase.
#
#   scripts/epoch-memory.sh [BINARY] [LOAD_S] [IDLE_S] [RATE]
#
# NODE_ARGS adds arguments to every `phantom-node run` (e.g. smaller cache caps).
# BINARY defaults to the debug build; the figures in docs/bench/consensus.md name the one used.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-${CARGO_TARGET_DIR:-target}/debug/phantom-node}
LOAD_S=${2:-600}
IDLE_S=${3:-120}
RATE=${4:-50}
OUT=${OUT:-$(mktemp -d /tmp/epoch-memory.XXXX)}
mkdir -p "$OUT"
echo "output in $OUT"
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; }
trap cleanup EXIT
boot=""
rpc=()
for s in 0 1 2 3; do
  port=$((30400 + s)); rport=$((9950 + s))
  args=(run --chain testnet-0 --event-interval-ms 100 --base-path "$OUT/v$s" --rpc-port "$rport"
        --listen "/ip4/127.0.0.1/tcp/$port" --node-key "$(printf '%064x' $((s + 1)))" --seat "$s" --log info)
  [ -n "$boot" ] && args+=(--bootnodes "$boot")
  # shellcheck disable=SC2206
  args+=(${NODE_ARGS:-})
  "$BIN" "${args[@]}" 2>"$OUT/v$s.log" &
  pids+=($!)
  for _ in $(seq 100); do grep -q "node ready" "$OUT/v$s.log" && break; sleep 0.1; done
  peer=$(grep -o 'peer_id=[^ ]*' "$OUT/v$s.log" | head -1 | cut -d= -f2)
  boot="${boot:+$boot,}/ip4/127.0.0.1/tcp/$port/p2p/$peer"
  rpc+=("http://127.0.0.1:$rport")
done
info() { curl -s -H 'content-type: application/json' -d '{"jsonrpc":"2.0","id":1,"method":"chain_getInfo","params":[]}' "$1"; }
echo "t,phase,node,rss_kb,events,best,epoch,in_memory,engine_bytes,db_kb" > "$OUT/samples.csv"
sample() {
  for s in 0 1 2 3; do
    local j rss
    j=$(info "${rpc[$s]}")
    rss=$(awk '/VmRSS/ {print $2}' "/proc/${pids[$s]}/status")
    echo "$1,$2,$s,$rss,$(echo "$j" | jq -r '[.result.consensus.events_accepted, .result.best_finalized_anchor, .result.consensus.epoch, .result.consensus.events_in_memory, .result.consensus.engine_bytes] | @csv'),$(du -sk "$OUT/v$s" | cut -f1)" >> "$OUT/samples.csv"
  done
}
start=$(date +%s)
"$BIN" loadgen --rpc-url "$(IFS=,; echo "${rpc[*]}")" --rate "$RATE" --duration "$LOAD_S" --accounts 50 > "$OUT/loadgen.log" 2>&1 &
pids+=($!)
while [ $(( $(date +%s) - start )) -lt "$((LOAD_S + IDLE_S))" ]; do
  t=$(( $(date +%s) - start ))
  phase=load; [ "$t" -ge "$LOAD_S" ] && phase=idle
  sample "$t" "$phase"
  sleep 10
done
grep -h "equivocation" "$OUT"/v*.log && echo "EQUIVOCATIONS SEEN" || echo "no equivocation"
python3 - "$OUT/samples.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
for phase in ("load", "idle"):
    ph = [r for r in rows if r["phase"] == phase]
    if not ph:
        continue
    for n in "0123":
        r = [x for x in ph if x["node"] == n]
        rss = [int(x["rss_kb"]) for x in r]
        half = rss[len(rss) // 2:]
        eng = [int(x["engine_bytes"]) for x in r]
        mem = [int(x["in_memory"]) for x in r]
        print(f"{phase} node {n}: rss first/max/last {rss[0]}/{max(rss)}/{rss[-1]} kB, second half min/max {min(half)}/{max(half)} kB, "
              f"engine events in memory max {max(mem)}, engine bytes max {max(eng)} ({max(eng) // max(max(mem), 1)} B/event), "
              f"events {r[0]['events']}->{r[-1]['events']}, best {r[0]['best']}->{r[-1]['best']}, epoch {r[-1]['epoch']}, "
              f"db {r[0]['db_kb']}->{r[-1]['db_kb']} kB")
PY
