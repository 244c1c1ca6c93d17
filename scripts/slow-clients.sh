#!/usr/bin/env bash
# Slow clients against the minimum data rates (issue 10's target): a release `gust serve` with
# its defaults (240 bytes/s after a 5 s grace), slowhttptest with CONNECTIONS connections in
# slow-body (-B) then slow-read (-X) mode, while `gust bench` measures a normal client (20
# connections, 2,000 requests/s, open loop). Prints, every second, how many descriptors the
# server holds beyond its baseline (the normal client's 20 connections included; a slow reader
# of the static file holds two: its socket and the file), then the normal client's latency.
#
#     scripts/slow-clients.sh [CONNECTIONS]        (default 2000)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-2000}
PORT=${PORT:-18500}
command -v slowhttptest >/dev/null || { echo "slow-clients.sh: slowhttptest is required (apt-get install slowhttptest)" >&2; exit 1; }
swift build -c release >/dev/null
GUST=.build/release/gust
DIR=$(mktemp -d)
head -c $((8 << 20)) /dev/urandom >"$DIR/big.bin"
$GUST serve --port "$PORT" --static-dir "$DIR" >/tmp/slow-serve.out 2>/tmp/slow-serve.err &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$DIR"' EXIT
sleep 1
base=$(ls /proc/$SERVER/fd | wc -l)
run() {  # mode, slowhttptest arguments...
    local mode=$1; shift
    $GUST bench "http://127.0.0.1:$PORT/plaintext" -c 20 --rate 2000 -d 30s --json --quiet >"/tmp/slow-bench-$mode.json" &
    local bench=$!
    sleep 1
    slowhttptest "$@" -c "$N" -r 500 -l 25 -p 5 >"/tmp/slowhttptest-$mode.log" 2>&1 &
    local attack=$!
    local line="" t=0
    while kill -0 $attack 2>/dev/null && (( t < 28 )); do
        sleep 1; t=$((t + 1))
        line+=" $(( $(ls /proc/$SERVER/fd | wc -l) - base ))"
    done
    kill $attack 2>/dev/null || true
    wait $bench
    echo "$mode: connections held beyond baseline, each second:$line"
    python3 - "$mode" <<'PY'
import json, sys
r = json.load(open(f"/tmp/slow-bench-{sys.argv[1]}.json"))
l = r["latency_us"]
print(f"  normal client (gust bench, 20 connections, 2000 req/s): {r['requests']} requests, errors {r['errors']['total']}, "
      f"p50 {l['p50']/1000:.3f} ms, p99 {l['p99']/1000:.3f} ms, p99.9 {l['p99_9']/1000:.3f} ms")
PY
    sed 's/\x1b\[[0-9;]*[a-zA-Z]//g' "/tmp/slowhttptest-$mode.log" | grep -E "Exit status|Test ended" | tr '\n' ' ' | sed 's/^/  slowhttptest: /'; echo
}
run slow-body -B -i 2 -s 100000 -t POST -u "http://127.0.0.1:$PORT/echo" -x 10
sleep 3
run slow-read -X -w 512 -y 1024 -n 5 -z 32 -k 3 -u "http://127.0.0.1:$PORT/static/big.bin"
