#!/usr/bin/env bash
# Holds N WebSocket connections on this machine for a while, with heartbeats both ways, and
# reports what they cost: `gust serve --processes P` (each worker under the per-process
# descriptor limit) against `gust bench ws` in hold mode (split over processes, from a range
# of source addresses: one address reaches one port from ~28,000 local ports).
#
#   N=100000 DURATION=5m scripts/ws-hold.sh
#
# Prints the server's RSS (every worker and the supervisor) and the kernel's TCP memory before
# and with the connections open, per connection, every 30 s while they are held, and the
# bench's report (errors by kind, connections open at the end). Release build.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-100000}
DURATION=${DURATION:-5m}
PROCS=${PROCS:-$(( (N + 17999) / 18000 + 1 ))}
RATE=${RATE:-5000}
PORT=${PORT:-18810}
# One source address per ~4,000 connections: the kernel's search for a free local port slows
# down as an address's 28,000 ports fill (60 addresses for a million stalled near 850,000).
COUNT=$(( N / 4000 )); [ $COUNT -lt 20 ] && COUNT=20; [ $COUNT -gt 250 ] && COUNT=250
SOURCES=${SOURCES:-127.0.0.2-127.0.0.$(( COUNT + 1 ))}
PING=${PING:-10s}              # the bench's pings ('none': only the server's heartbeat)
SERVER_PING=${SERVER_PING:-30s}
PONG_TIMEOUT=${PONG_TIMEOUT:-10s}
GUST=.build/release/gust
[ -x "$GUST" ] || swift build -c release >/dev/null
sysctl -qw net.core.somaxconn=65535 2>/dev/null || true

rss_total() {  # kB over the supervisor and its workers
    local total=0 pid
    for pid in "$@" $(pgrep -P "$1" || true); do
        total=$(( total + $(awk '/VmRSS/ {print $2}' /proc/$pid/status 2>/dev/null || echo 0) ))
    done
    echo "$total"
}
slab_kb() { awk '/^Slab:/ {print $2}' /proc/meminfo; }  # kernel objects: sockets, files, epoll entries
# Open TCP sockets over two (both ends are on this machine); cheap even with a million (ss is not).
established() { awk '/^TCP:/ {print int($3 / 2)}' /proc/net/sockstat; }

$GUST serve --port "$PORT" --processes "$PROCS" --reactors 1 --backlog 65535 \
    --ws-ping-interval "$SERVER_PING" --ws-pong-timeout "$PONG_TIMEOUT" > /tmp/ws-hold-server.log 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true' EXIT
sleep 2
base_rss=$(rss_total $SERVER)
base_slab=$(slab_kb)
echo "server: $PROCS worker processes, RSS $base_rss kB with no connection; kernel slab $base_slab kB"
$GUST bench ws "ws://127.0.0.1:$PORT/ws/echo" -c "$N" -d "$DURATION" --connect-rate "$RATE" --source "$SOURCES" \
    --ping-interval "$PING" --timeout 20s --quiet > /tmp/ws-hold-bench.txt 2>&1 &
BENCH=$!
start=$(date +%s)
while kill -0 $BENCH 2>/dev/null; do
    sleep 30
    kill -0 $BENCH 2>/dev/null || break
    open=$(established)
    rss=$(rss_total $SERVER)
    slab=$(slab_kb)
    per=$(( open > 0 ? (rss - base_rss) * 1024 / open : 0 ))
    kernel=$(( open > 0 ? (slab - base_slab) * 1024 / open / 2 : 0 ))
    echo "$(( $(date +%s) - start ))s: ~$open connections open; server RSS $rss kB ($per bytes per connection beyond the baseline); kernel slab $slab kB (~$kernel bytes per socket, both ends on this machine)"
done
wait $BENCH || true
cat /tmp/ws-hold-bench.txt
grep -E "error|killed|exited" /tmp/ws-hold-server.log | head -5 || true
