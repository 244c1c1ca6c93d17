#!/usr/bin/env bash
# User-space instructions the server spends per keep-alive request, counted by callgrind.
#
#   scripts/callgrind.sh [GUST_BINARY] [PATH]      (default .build/release/gust, /plaintext)
#   PIPELINE=16 scripts/callgrind.sh              (requests pipelined 16 deep per connection)
#
# Instruction counts are repeatable where times are not (this machine is shared and noisy):
# `gust serve --reactors 1` runs under valgrind's callgrind, `gust bench -c 16 -n N` (a native
# process) sends N keep-alive requests, the server is stopped and its total is read. Done for
# N = 20,000 and N = 40,000; the difference divided by 20,000 is the cost of one request, free of
# start-up, accept and shutdown. Kernel time is not counted (callgrind sees user space only).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-.build/release/gust}
URLPATH=${2:-/plaintext}
command -v valgrind >/dev/null || {
    DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# valgrind 3.19 cannot read the DWARF 5 the Swift toolchain writes: count a copy without it.
strip --strip-debug -o "$WORK/gust" "$BIN"
BIN=$WORK/gust

total_for() {  # requests -> total instructions
    local n=$1 port=$((20000 + RANDOM % 20000))
    valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.$n" "$BIN" serve --reactors 1 --port $port \
        >"$WORK/serve.$n.log" 2>&1 &
    local pid=$!
    for _ in $(seq 300); do grep -q serving "$WORK/serve.$n.log" 2>/dev/null && break; sleep 0.1; done
    grep -q serving "$WORK/serve.$n.log" || { cat "$WORK/serve.$n.log" >&2; exit 1; }
    "$BIN" bench "http://127.0.0.1:$port$URLPATH" -c 16 --pipeline "${PIPELINE:-1}" -n "$n" --quiet --json >"$WORK/bench.$n.json"
    kill -INT $pid
    wait $pid || true
    awk '/^summary:/ {print $2}' "$WORK/cg.$n"
}

a=$(total_for 20000)
b=$(total_for 40000)
echo "total instructions: $a (20,000 requests), $b (40,000 requests)"
echo "instructions per ${PIPELINE:+pipelined }keep-alive request: $(( (b - a) / 20000 ))"
