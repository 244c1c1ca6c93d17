#!/usr/bin/env bash
# The slowloris check: N connections drip one header byte a second into `gust serve` while
# `gust bench` measures normal keep-alive clients in an open loop; then every slow connection
# must have been closed at the header timeout (with a 408), and the server's memory must come
# back to its baseline.
#
#   scripts/slowloris.sh [N] [HEADER_TIMEOUT_S] [RATE]    (defaults: 5000 10 5000)
#
# Release build (swift build -c release). The server is pinned to CPU 0; the slow clients and
# gust bench share CPU 1. Slow connections come from 127.0.0.2..11 (10 source addresses).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-5000} TIMEOUT=${2:-10} RATE=${3:-5000}
GUST=.build/release/gust
[ -x $GUST ] || { echo "build first: swift build -c release" >&2; exit 1; }
PORT=18091
rss() { awk '/VmRSS/{print $2}' /proc/$1/status; }
taskset -c 0 $GUST serve --reactors 1 --port $PORT --header-timeout "${TIMEOUT}s" >/dev/null & SERVER=$!
trap 'kill $SERVER 2>/dev/null' EXIT
sleep 0.5
# Warm the server (its lease cache and buffers) so the baseline is its steady state.
$GUST bench "http://127.0.0.1:$PORT/plaintext" -c 32 -d 2s --quiet --json >/dev/null
base=$(rss $SERVER)
echo "server RSS baseline: $base KB"

OUT=$(mktemp -d)
taskset -c 1 python3 scripts/slowloris.py $PORT "$N" 10 >"$OUT/slow.json" 2>"$OUT/slow.err" & SLOW=$!
sleep 3  # connections open and dripping
during=$(rss $SERVER)
echo "server RSS with $N slow connections: $during KB ($(( (during - base) * 1000 / N )) bytes each)"
taskset -c 1 $GUST bench "http://127.0.0.1:$PORT/plaintext" -c 32 --rate "$RATE" -d 5s --quiet --json >"$OUT/bench.json"
python3 - "$OUT/bench.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
l = r["latency_us"]
print(f"gust bench during the attack: {r['achieved_rate']}/s of {r['requested_rate']}/s, errors {r['errors']['total']}, "
      f"p50 {l['p50']} us, p99 {l['p99']} us, p99.9 {l['p99_9']} us, max {l['max']} us")
PY
wait $SLOW
cat "$OUT/slow.err"
echo "slow connections: $(cat "$OUT/slow.json")"
sleep 2
after=$(rss $SERVER)
echo "server RSS after: $after KB (baseline $base KB)"
rm -rf "$OUT"
