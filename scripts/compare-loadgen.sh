#!/usr/bin/env bash
# `gust bench` against wrk, side by side in one run: the C floor server (scripts/peers/cfloor.c)
# pinned to CPU 0, each load generator pinned to CPU 1 with 64 connections, first keep-alive
# (one request in flight per connection), then pipelined 16 deep.
#
#   scripts/compare-loadgen.sh [--duration S] [--rounds R] [GUST_BINARY]   (default .build/release/gust)
#
# For each tool: requests/s and the tool's own CPU time (user + system) per completed request,
# the figure to compare. gust bench's requests/s is taken from its JSON (its measured window);
# wrk's from its report.
set -u
cd "$(dirname "$0")/.."
SECONDS_EACH=5 ROUNDS=1
while [ $# -gt 0 ]; do
    case $1 in
        --duration) SECONDS_EACH=$2; shift 2 ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        *) break ;;
    esac
done
GUST=${1:-.build/release/gust}
WORK=${TMPDIR:-/tmp}/gust-compare
mkdir -p "$WORK"
for tool in wrk gcc; do
    command -v $tool >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $tool >/dev/null; }
done
[ -x /usr/bin/time ] || { DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null; }
gcc -O2 -o "$WORK/cfloor" scripts/peers/cfloor.c || exit 1
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
taskset -c 0 "$WORK/cfloor" "$PORT" &
FLOOR=$!
trap 'kill $FLOOR 2>/dev/null' EXIT
sleep 0.3
URL=http://127.0.0.1:$PORT/plaintext
row() { printf "%-14s %10.0f rps   client cpu/req %6.2f us\n" "$1" "$2" "$3"; }
cpu_per_request() { awk -v n="$2" '{print n ? ($1 + $2) * 1e6 / n : -1}' "$1"; }
for round in $(seq "$ROUNDS"); do
    for depth in 1 16; do
        extra=()
        [ $depth = 16 ] && extra=(-s scripts/peers/pipeline.lua)
        /usr/bin/time -f "%U %S" -o "$WORK/lg.time" taskset -c 1 wrk -t1 -c64 -d"${SECONDS_EACH}s" "${extra[@]}" "$URL" -- $depth >"$WORK/lg.out" 2>&1
        n=$(awk '/requests in/ {print $1}' "$WORK/lg.out")
        row "wrk d=$depth" "$(awk '/Requests\/sec/ {print $2}' "$WORK/lg.out")" "$(cpu_per_request "$WORK/lg.time" "$n")"
        /usr/bin/time -f "%U %S" -o "$WORK/lg.time" taskset -c 1 "$GUST" bench "$URL" -c 64 -t 1 --pipeline $depth \
            -d "${SECONDS_EACH}s" --json --quiet >"$WORK/lg.json" 2>"$WORK/lg.err"
        read -r n rps < <(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["requests"], r["rps"])' "$WORK/lg.json")
        row "gust d=$depth" "$rps" "$(cpu_per_request "$WORK/lg.time" "$n")"
    done
    [ "$round" -lt "$ROUNDS" ] && echo
done
