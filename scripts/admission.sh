#!/usr/bin/env bash
# Admission control under a connection flood (issue 10's target): a release `gust serve` with
# --max-connections LIMIT; `gust bench` keeps 50 admitted clients busy (open loop, 5,000
# requests/s) while hold.py fills the rest of the limit with idle connections and flood.py
# makes ATTEMPTS more connection attempts past it (two processes: one may hold 20,000
# descriptors). Prints the admitted clients' latency and errors, the server's descriptors and
# RSS before, at the peak and after, and whether it stayed up.
#
#     scripts/admission.sh [LIMIT] [ATTEMPTS]        (defaults 5000 and 30000)
set -euo pipefail
cd "$(dirname "$0")/.."
LIMIT=${1:-5000}
ATTEMPTS=${2:-30000}
PORT=${PORT:-18400}
swift build -c release >/dev/null
GUST=.build/release/gust
$GUST serve --port "$PORT" --max-connections "$LIMIT" >/tmp/admission-serve.out 2>/tmp/admission-serve.err &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
sleep 1
fds() { ls /proc/$SERVER/fd | wc -l; }
rss() { awk '/VmRSS/ {print $2}' /proc/$SERVER/status; }
echo "baseline: $(fds) descriptors, RSS $(rss) KB"
$GUST bench "http://127.0.0.1:$PORT/plaintext" -c 50 --rate 5000 -d 40s --json --quiet >/tmp/admission-bench.json &
BENCH=$!
sleep 2
exec 3< <(sleep 30 | python3 scripts/hold.py "$PORT" $((LIMIT - 50)) 60 /plaintext)
read -r held <&3
echo "$held idle connections admitted: $(fds) descriptors, RSS $(rss) KB"
half=$((ATTEMPTS / 2))
python3 scripts/flood.py "$PORT" "$half" 8 20 >/tmp/admission-flood1.out &
F1=$!
python3 scripts/flood.py "$PORT" $((ATTEMPTS - half)) 8 30 >/tmp/admission-flood2.out &
F2=$!
peak_fds=0; peak_rss=0
while kill -0 $F1 2>/dev/null || kill -0 $F2 2>/dev/null; do
    f=$(fds); r=$(rss)
    (( f > peak_fds )) && peak_fds=$f
    (( r > peak_rss )) && peak_rss=$r
    sleep 0.5
done
echo "flood: $(cat /tmp/admission-flood1.out)"
echo "flood: $(cat /tmp/admission-flood2.out)"
echo "during the flood: at most $peak_fds descriptors, RSS at most $peak_rss KB"
wait $BENCH
python3 - <<'PY'
import json
r = json.load(open("/tmp/admission-bench.json"))
l = r["latency_us"]
print(f"admitted clients (gust bench, 50 connections, 5000 req/s): {r['requests']} requests, "
      f"errors {r['errors']['total']}, p50 {l['p50']/1000:.3f} ms, p99 {l['p99']/1000:.3f} ms, "
      f"p99.9 {l['p99_9']/1000:.3f} ms, max {l['max']/1000:.3f} ms")
PY
exec 3<&-
sleep 3
echo "after: $(fds) descriptors, RSS $(rss) KB; server $(kill -0 $SERVER 2>/dev/null && echo up || echo DOWN)"
grep -c "connection limit reached" /tmp/admission-serve.err | sed 's/^/limit warnings logged: /'
