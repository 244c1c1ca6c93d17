#!/usr/bin/env bash
# libFuzzer runs of the request parser (with bodies) and the chunked decoder.
#
#   scripts/fuzz.sh [SECONDS]      build both fuzzers, run each for SECONDS (default 60)
#
# Fuzz/*.swift are the harnesses (they check properties, not only crashes); Fuzz/corpus holds
# the seeds, Fuzz/http.dict tokens for mutations. Built with -sanitize=fuzzer,address from the
# GustCore and GustHTTP1 sources into .build/fuzz (static libraries, then the harness). New
# inputs found go to .build/fuzz/corpus-*, not into the repository. A crash or a broken property
# leaves the input in .build/fuzz/crash-* and exits non-zero. Prints each fuzzer's execution count.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-60}
OUT=.build/fuzz
mkdir -p "$OUT"
FLAGS=(-O -swift-version 6 -parse-as-library -sanitize=fuzzer,address -package-name gust -I "$OUT")
echo "fuzz.sh: building"
build() {  # the linker's notes about ASan's local symbols are noise; errors are shown
    "$@" >"$OUT/build.log" 2>&1 || { grep -v "Cannot export local symbol" "$OUT/build.log" >&2; exit 1; }
}
build swiftc "${FLAGS[@]}" -module-name GustCore -emit-module -emit-module-path "$OUT/GustCore.swiftmodule" \
    -emit-library -static -o "$OUT/libGustCore.a" Sources/GustCore/*.swift
build swiftc "${FLAGS[@]}" -module-name GustHTTP1 -emit-module -emit-module-path "$OUT/GustHTTP1.swiftmodule" \
    -emit-library -static -o "$OUT/libGustHTTP1.a" $(find Sources/GustHTTP1 -name "*.swift")
for harness in RequestParser ChunkedDecoder; do
    build swiftc "${FLAGS[@]}" -module-name "Fuzz$harness" "Fuzz/${harness}Fuzzer.swift" "$OUT/libGustHTTP1.a" \
        "$OUT/libGustCore.a" -o "$OUT/fuzz-$harness"
done
status=0
for harness in RequestParser ChunkedDecoder; do
    seeds=Fuzz/corpus/$( [ $harness = RequestParser ] && echo request || echo chunked )
    work="$OUT/corpus-$harness"
    mkdir -p "$work"
    log="$OUT/fuzz-$harness.log"
    echo "fuzz.sh: $harness for ${SECONDS_EACH}s"
    if "$OUT/fuzz-$harness" "$work" "$seeds" -dict=Fuzz/http.dict -max_total_time="$SECONDS_EACH" -max_len=4096 \
        -artifact_prefix="$OUT/crash-$harness-" -print_final_stats=1 >"$log" 2>&1; then
        runs=$(awk '/stat::number_of_executed_units/{print $2}' "$log")
        echo "fuzz.sh: $harness: $runs executions, no crash, no sanitizer report, no broken property"
    else
        status=1
        echo "fuzz.sh: $harness FAILED; the end of its log ($log):" >&2
        tail -40 "$log" >&2
    fi
done
exit $status
