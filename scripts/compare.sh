#!/usr/bin/env bash
# Whole servers side by side, in one run, on this machine: Gust (one or more builds of it) and
# its peers, a bare C epoll loop (the floor: scripts/peers/cfloor.c) and nginx (one worker).
#
#   scripts/compare.sh [--rounds R] [--duration S] [--conns N] [--idle N] [--path /p]
#                      [--peers "cfloor nginx hummingbird"] [--wrk-script F.lua]
#                      [--server NAME='COMMAND with {port}']...
#
# --wrk-script runs wrk with that Lua script (e.g. scripts/peers/post-json.lua for
# `POST /async/json`) and skips the pipelined run. The hummingbird peer (scripts/peers/hummingbird-peer,
# Hummingbird 2 serving the async demo routes) is built on first use (a few minutes).
#
# Every server runs pinned to CPU 0 and wrk to CPU 1. For each: keep-alive requests/s, p99, and
# the server's CPU time per request (user + system of its process, from /proc, divided by the
# requests wrk completed), then the same pipelined 16 deep; with --idle N, the server's resident
# memory per idle keep-alive connection (N held by scripts/hold.py). CPU per request is the
# figure to compare: on two cores, requests/s is capped by wrk. Rounds are interleaved, so each
# round compares the servers under the same machine conditions; compare within a round.
#
# Default server: gust='.build/release/gust serve --reactors 1 --port {port}' (build it with
# `swift build -c release`). Give --server several times to compare builds, e.g.
#   --server before='/tmp/gust-before serve --reactors 1 --port {port}' --server after='...'
# NAME@/path measures that server on its own path, e.g. inline and async routes of one build:
#   --server inline@/plaintext='...' --server async@/async/plaintext='...'
# Installs wrk, nginx and curl with apt-get if they are missing; compiles the C floor with gcc.
set -u
cd "$(dirname "$0")/.."
ROUNDS=1 SECONDS_EACH=5 CONNS=64 IDLE=0 URLPATH=/plaintext PEERS="cfloor nginx" WRK_SCRIPT=
SERVERS=()
while [ $# -gt 0 ]; do
    case $1 in
        --rounds) ROUNDS=$2; shift 2 ;;
        --duration) SECONDS_EACH=$2; shift 2 ;;
        --conns) CONNS=$2; shift 2 ;;
        --idle) IDLE=$2; shift 2 ;;
        --path) URLPATH=$2; shift 2 ;;
        --peers) PEERS=$2; shift 2 ;;
        --wrk-script) WRK_SCRIPT=$2; shift 2 ;;
        --server) SERVERS+=("$2"); shift 2 ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) echo "compare.sh: unknown option $1" >&2; exit 64 ;;
    esac
done
[ ${#SERVERS[@]} -gt 0 ] || SERVERS=("gust=.build/release/gust serve --reactors 1 --port {port}")

WORK=${TMPDIR:-/tmp}/gust-compare
mkdir -p "$WORK"
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
need() {  # command package
    command -v "$1" >/dev/null 2>&1 && return
    echo "compare.sh: installing $2" >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}
need wrk wrk
need curl curl
need taskset util-linux
for peer in $PEERS; do
    case $peer in
        cfloor) need gcc gcc; gcc -O2 -o "$WORK/cfloor" scripts/peers/cfloor.c || exit 1 ;;
        nginx) need nginx nginx-light ;;
        hummingbird)
            if [ ! -x scripts/peers/hummingbird-peer/.build/release/HummingbirdPeer ]; then
                echo "building the Hummingbird peer (once, a few minutes)..." >&2
                (cd scripts/peers/hummingbird-peer && swift build -c release >/dev/null) || exit 1
            fi ;;
        *) echo "compare.sh: unknown peer $peer (cfloor, nginx, hummingbird)" >&2; exit 64 ;;
    esac
done
HZ=$(getconf CLK_TCK)

# CPU ticks (user + system) of a process and its children.
ticks() {
    local total=0 pid
    for pid in "$1" $(pgrep -P "$1"); do
        local fields
        fields=$(cut -d' ' -f14,15 "/proc/$pid/stat" 2>/dev/null) || continue
        set -- $fields
        total=$((total + $1 + $2))
    done
    echo "$total"
}
rss_kb() {
    local total=0 pid
    for pid in "$1" $(pgrep -P "$1"); do total=$((total + $(ps -o rss= -p "$pid" 2>/dev/null || echo 0))); done
    echo "$total"
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# measure NAME PORT COMMAND...: one row (and one idle row with --idle).
measure() {
    local name=$1 port=$2
    shift 2
    taskset -c 0 "$@" >"$WORK/$name.log" 2>&1 &
    local pid=$!
    local up=0
    for _ in $(seq 100); do
        if curl -s -o /dev/null "http://127.0.0.1:$port$URLPATH"; then up=1; break; fi
        sleep 0.1
    done
    if [ $up = 0 ]; then
        echo "$name: did not answer on port $port (see $WORK/$name.log)"
        kill $pid 2>/dev/null; wait $pid 2>/dev/null
        return
    fi
    local script=()
    [ -n "$WRK_SCRIPT" ] && script=(-s "$WRK_SCRIPT")
    taskset -c 1 wrk -t1 -c"$CONNS" -d2s "${script[@]}" "http://127.0.0.1:$port$URLPATH" >/dev/null 2>&1  # warm-up
    local t0 t1 t2 plain piped
    t0=$(ticks $pid)
    plain=$(taskset -c 1 wrk -t1 -c"$CONNS" -d"${SECONDS_EACH}s" --latency "${script[@]}" "http://127.0.0.1:$port$URLPATH" 2>&1)
    t1=$(ticks $pid)
    if [ -z "$WRK_SCRIPT" ]; then
        piped=$(taskset -c 1 wrk -t1 -c"$CONNS" -d"${SECONDS_EACH}s" -s scripts/peers/pipeline.lua "http://127.0.0.1:$port$URLPATH" -- 16 2>&1)
    else
        piped="(pipelining skipped with --wrk-script) Requests/sec: 0"
    fi
    t2=$(ticks $pid)
    local n1 n2 problems
    n1=$(awk '/requests in/ {print $1}' <<<"$plain")
    n2=$(awk '/requests in/ {print $1}' <<<"$piped")
    problems=$(grep -hE "Non-2xx|Socket errors" <<<"$plain$piped" | tr '\n' ' ')
    printf "%-10s keep-alive %9.0f rps  p99 %8s  cpu/req %6.2f us | pipelined-16 %9.0f rps  cpu/req %6.2f us %s\n" "$name" \
        "$(awk '/Requests\/sec/ {print $2}' <<<"$plain")" "$(awk '$1 == "99%" {print $2}' <<<"$plain")" \
        "$(awk -v t=$((t1 - t0)) -v n="${n1:-0}" -v hz="$HZ" 'BEGIN {print n ? t * 1e6 / hz / n : -1}')" \
        "$(awk '/Requests\/sec/ {print $2}' <<<"$piped")" \
        "$(awk -v t=$((t2 - t1)) -v n="${n2:-0}" -v hz="$HZ" 'BEGIN {print n ? t * 1e6 / hz / n : -1}')" "$problems"
    if [ "$IDLE" -gt 0 ]; then
        local before after holder
        before=$(rss_kb $pid)
        rm -f "$WORK/hold.out"
        (sleep 600 | python3 scripts/hold.py "$port" "$IDLE" 600 "$URLPATH" >"$WORK/hold.out" 2>&1) &
        holder=$!
        for _ in $(seq 240); do grep -q held "$WORK/hold.out" 2>/dev/null && break; sleep 0.5; done
        sleep 1
        after=$(rss_kb $pid)
        printf "%-10s idle: %s keep-alive connections (%s), RSS %s KB -> %s KB = %.2f KB per connection\n" "$name" "$IDLE" \
            "$(tr -d '\n' <"$WORK/hold.out")" "$before" "$after" "$(awk -v a="$before" -v b="$after" -v n="$IDLE" 'BEGIN {print (b - a) / n}')"
        pkill -P $holder 2>/dev/null; kill $holder 2>/dev/null; wait $holder 2>/dev/null
    fi
    # SIGTERM: a background job of a non-interactive shell ignores SIGINT.
    kill $pid 2>/dev/null
    wait $pid 2>/dev/null
}

for round in $(seq "$ROUNDS"); do
    for entry in "${SERVERS[@]}"; do
        name=${entry%%=*}
        command=${entry#*=}
        port=$(free_port)
        # NAME@/path: this server is measured on its own path (e.g. an async route beside the
        # inline one, on the same binary).
        path=$URLPATH
        if [[ $name == *@* ]]; then path=${name#*@}; name=${name%%@*}; fi
        # shellcheck disable=SC2086
        URLPATH=$path measure "$name" "$port" ${command//\{port\}/$port}
    done
    for peer in $PEERS; do
        port=$(free_port)
        case $peer in
            cfloor) measure cfloor "$port" "$WORK/cfloor" "$port" ;;
            hummingbird)
                measure hummingbird "$port" scripts/peers/hummingbird-peer/.build/release/HummingbirdPeer "$port" ;;
            nginx)
                sed -e "s|@PORT@|$port|" -e "s|@DIR@|$WORK|" scripts/peers/nginx.conf.in >"$WORK/nginx.conf"
                measure nginx "$port" nginx -c "$WORK/nginx.conf" ;;
        esac
    done
    [ "$round" -lt "$ROUNDS" ] && echo
done
