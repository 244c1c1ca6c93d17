#!/usr/bin/env bash
# Open-loop check for `gust bench`: runs `gust serve` (pinned to CPU 0) and an open-loop
# `gust bench` against it (pinned to CPU 1), samples the load generator's resident memory every
# second, and prints the run's JSON summary beside the memory samples.
#
#   scripts/openloop-memory.sh [RATE] [SECONDS] [CONNECTIONS]     (defaults: 50000 10 100)
#
# Uses the release build (.build/release/gust; `swift build -c release` first).
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${1:-50000} SECONDS_=${2:-10} CONNS=${3:-100}
GUST=.build/release/gust
[ -x $GUST ] || { echo "build first: swift build -c release" >&2; exit 1; }
PORT=18090
taskset -c 0 $GUST serve --reactors 1 --port $PORT >/dev/null & SERVER=$!
trap 'kill $SERVER 2>/dev/null' EXIT
sleep 0.5
OUT=$(mktemp)
taskset -c 1 $GUST bench "http://127.0.0.1:$PORT/plaintext" -c "$CONNS" -t 1 --rate "$RATE" -d "${SECONDS_}s" --json --quiet >"$OUT" & BENCH=$!
samples=()
while kill -0 $BENCH 2>/dev/null; do
  rss=$(awk '/VmRSS/{print $2}' /proc/$BENCH/status 2>/dev/null || true)
  [ -n "$rss" ] && samples+=("$rss")
  sleep 1
done
wait $BENCH
echo "load generator RSS (KB), once a second: ${samples[*]}"
python3 - "$OUT" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"requested {r['requested_rate']}/s, achieved {r['achieved_rate']}/s "
      f"({100 * r['achieved_rate'] / r['requested_rate']:.2f}%), requests {r['requests']}, errors {r['errors']['total']}, "
      f"late sends {r['late_sends']}, worst lag {r['max_send_lag_us']} us")
lat = r["latency_us"]; unc = r["uncorrected_latency_us"]
print(f"corrected   p50 {lat['p50']} us  p99 {lat['p99']} us  p99.9 {lat['p99_9']} us  max {lat['max']} us")
print(f"uncorrected p50 {unc['p50']} us  p99 {unc['p99']} us  p99.9 {unc['p99_9']} us  max {unc['max']} us")
PY
rm -f "$OUT"
