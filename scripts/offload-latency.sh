#!/usr/bin/env bash
# /plaintext latency while blocking work runs on the pool beside it: `gust serve` (release,
# one reactor, on CPU 0), an open-loop stream of /offload/sleep?ms=50 requests (blocking pool
# jobs, `gust bench --rate`), and wrk measuring /plaintext (on CPU 1) at the same time. Prints
# wrk's latency distribution and the pool's view (/offload requests served, their latency).
#
#   scripts/offload-latency.sh [--rate R] [--ms M] [--duration S]   (defaults 200/s, 50 ms, 10 s)
#
# With blocking jobs offloaded, the reactor never waits for them: /plaintext p99 should stay
# where it is without them (compare with --rate 0).
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=200 MS=50 DURATION=10
while [ $# -gt 0 ]; do
    case $1 in
        --rate) RATE=$2; shift 2 ;;
        --ms) MS=$2; shift 2 ;;
        --duration) DURATION=$2; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 64 ;;
    esac
done
command -v wrk >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
BIN=.build/release/gust
[ -x $BIN ] || swift build -c release >/dev/null
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
taskset -c 0 $BIN serve --reactors 1 --port "$PORT" >/tmp/offload-latency-serve.log 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null' EXIT
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$PORT/plaintext" && break; sleep 0.1; done
if [ "$RATE" -gt 0 ]; then
    # Enough connections for R requests/s each lasting M ms, with room to spare.
    CONNS=$(( RATE * MS / 1000 * 2 + 8 ))
    taskset -c 1 $BIN bench "http://127.0.0.1:$PORT/offload/sleep?ms=$MS" --rate "$RATE" -c "$CONNS" -d "$((DURATION + 2))s" --json \
        >/tmp/offload-latency-bench.json 2>/dev/null &
    BENCH=$!
    sleep 1
fi
echo "== /plaintext with $RATE blocking $MS ms jobs/s offloaded beside it (wrk, 16 connections, ${DURATION}s)"
taskset -c 1 wrk -t1 -c16 -d"${DURATION}s" --latency "http://127.0.0.1:$PORT/plaintext" | sed -n '/Latency Distribution/,/Requests\/sec/p'
if [ "$RATE" -gt 0 ]; then
    wait $BENCH || true
    python3 - <<'PY'
import json
r = json.load(open("/tmp/offload-latency-bench.json"))
lat = r["latency_us"]
print(f"== the offloaded requests (gust bench, open loop): {r['requests']} completed, {r['errors']['total']} errors, "
      f"latency p50 {lat['p50'] / 1000:.1f} ms, p99 {lat['p99'] / 1000:.1f} ms (each blocks a worker for the job's length)")
PY
fi
