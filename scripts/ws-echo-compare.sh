#!/usr/bin/env bash
# WebSocket echo side by side, in one run: `gust serve`'s /ws/echo and hummingbird-websocket
# 2.8.1's (scripts/peers/hummingbird-ws-peer, built on first use: a few minutes), each pinned
# to CPU 0, with `gust bench ws --mode echo` on CPU 1. For each: messages/s, latency p50/p99,
# and the server's CPU time per message (user + system of its process, from /proc). Rounds
# are interleaved; compare within a round. Release builds.
#
#   scripts/ws-echo-compare.sh [--rounds 3] [--duration 10s] [--conns 64] [--size 32]
set -u
cd "$(dirname "$0")/.."
ROUNDS=3 DURATION=10s CONNS=64 SIZE=32
while [ $# -gt 0 ]; do
    case $1 in
        --rounds) ROUNDS=$2; shift 2 ;;
        --duration) DURATION=$2; shift 2 ;;
        --conns) CONNS=$2; shift 2 ;;
        --size) SIZE=$2; shift 2 ;;
        -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
        *) echo "ws-echo-compare.sh: unknown option $1" >&2; exit 64 ;;
    esac
done
GUST=.build/release/gust
[ -x "$GUST" ] || swift build -c release >/dev/null || exit 1
PEER=scripts/peers/hummingbird-ws-peer
if [ ! -x "$PEER/.build/release/HummingbirdWSPeer" ]; then
    echo "ws-echo-compare.sh: building the hummingbird-websocket peer" >&2
    (cd "$PEER" && swift build -c release >/dev/null 2>&1) || { echo "cannot build $PEER" >&2; exit 1; }
fi
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
run_one() {  # name command port
    local name=$1 cmd=$2 port=$3
    taskset -c 0 $cmd > /dev/null 2>&1 &
    local pid=$!
    for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
    local before; before=$(cpu_ticks $pid)
    local json; json=$(taskset -c 1 "$GUST" bench ws "ws://127.0.0.1:$port/ws/echo" --mode echo -c "$CONNS" -d "$DURATION" --size "$SIZE" --json --quiet)
    local after; after=$(cpu_ticks $pid)
    kill $pid; wait $pid 2>/dev/null
    python3 - "$name" "$before" "$after" "$(getconf CLK_TCK)" <<PY
import json, sys
r = json.loads('''$json''')
name, before, after, hz = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
n = max(r["messages_received"], 1)
cpu_us = (after - before) / hz * 1e6 / n
print(f"  {name:12s} {r['messages_per_s']:>10.0f} msg/s   p50 {r['echo_us']['p50']:>8.1f}us   p99 {r['echo_us']['p99']:>8.1f}us   server CPU {cpu_us:6.2f} us/msg   errors {r['errors']['total']}")
PY
}
echo "echo, $CONNS connections, $SIZE-byte binary messages, $DURATION per server per round; servers on CPU 0, gust bench ws on CPU 1"
for round in $(seq "$ROUNDS"); do
    echo "round $round"
    run_one gust "$GUST serve --reactors 1 --port 18931" 18931
    run_one hummingbird "$PEER/.build/release/HummingbirdWSPeer 18932" 18932
done
