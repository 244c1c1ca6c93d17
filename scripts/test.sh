#!/usr/bin/env bash
# The whole test suite: Swift unit and in-process server tests (the Examples/ItemsAPI app's
# included), the compile tests, then the real-client tests
# (curl, Python http.client and requests, raw sockets, wrk, slowhttptest) against the `gust` binary, a
# differential test against llhttp (Python's httptools), then the libFuzzer harnesses for a
# bounded time (FUZZ_SECONDS each, default 30). Installs what the tests need first (curl, wrk,
# slowhttptest, pytest, requests, httptools); a missing tool is an error, never a skip.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

missing=()
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v slowhttptest >/dev/null 2>&1 || missing+=(slowhttptest)
command -v python3 >/dev/null 2>&1 || missing+=(python3 python3-pip)
if [ ${#missing[@]} -gt 0 ]; then
    echo "test.sh: installing ${missing[*]}"
    apt_install "${missing[@]}"
fi
pip_install() {  # module package [debian-package]
    python3 -c "import $1" 2>/dev/null && return 0
    echo "test.sh: installing $2"
    python3 -m pip install --quiet "$2" 2>/dev/null \
        || python3 -m pip install --quiet --break-system-packages "$2" 2>/dev/null \
        || apt_install "$3"
}
pip_install pytest pytest python3-pytest
pip_install requests requests python3-requests
pip_install httptools httptools python3-httptools
pip_install websockets websockets python3-websockets
pip_install websocket websocket-client python3-websocket
for tool in curl wrk slowhttptest; do command -v "$tool" >/dev/null || { echo "test.sh: $tool is required" >&2; exit 1; }; done
for module in pytest requests httptools websockets websocket; do
    python3 -c "import $module" || { echo "test.sh: Python's $module is required" >&2; exit 1; }
done

echo "== swift build"
swift build
echo "== swift test"
swift test
echo "== compile tests (Tests/CompileTests: what must compile, what must be a clear error)"
./scripts/compile-tests.sh
echo "== integration tests (real clients against .build/debug/gust)"
python3 -m pytest -q IntegrationTests
echo "== fuzzers (libFuzzer, ${FUZZ_SECONDS:-30} s each)"
./scripts/fuzz.sh "${FUZZ_SECONDS:-30}"
