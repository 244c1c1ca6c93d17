#!/usr/bin/env bash
# Broadcast latency to every subscriber of one process: `gust serve` (one process, --reactors R)
# and `gust bench ws --mode broadcast` with N subscribers of /ws/topic/bench, one of which
# publishes RATE small messages a second once all are connected. Prints the bench's report:
# each delivery's latency, and per publication the time until its last subscriber had it.
#
#   N=15000 RATE=10 scripts/ws-broadcast.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-15000}
RATE=${RATE:-10}
REACTORS=${REACTORS:-2}
DURATION=${DURATION:-40s}
SETTLE=${SETTLE:-10s}
PORT=${PORT:-18820}
GUST=.build/release/gust
[ -x "$GUST" ] || swift build -c release >/dev/null
sysctl -qw net.core.somaxconn=65535 2>/dev/null || true
$GUST serve --port "$PORT" --reactors "$REACTORS" --backlog 65535 > /tmp/ws-broadcast-server.log 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true' EXIT
sleep 1
$GUST bench ws "ws://127.0.0.1:$PORT/ws/topic/bench" --mode broadcast -c "$N" -d "$DURATION" --connect-rate 5000 \
    --rate "$RATE" --publish-after "$SETTLE" --source 127.0.0.2-127.0.0.3 --quiet "$@"
