#!/usr/bin/env bash
# Compile tests: each Tests/CompileTests/*.swift is compiled (type-checked and run through the
# SIL pipeline, where the move checker runs) against the debug build of Gust. Its first line
# says what must happen: `// expect-ok`, or `// expect-error: TEXT` (the compiler reports an
# error containing TEXT, and does not crash). Run after `swift build`.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(swift build --show-bin-path)
[ -d "$BIN/Modules" ] || { echo "compile-tests: build first (swift build)" >&2; exit 1; }
failures=0
for file in Tests/CompileTests/*.swift; do
    expectation=$(head -1 "$file")
    set +e
    output=$(swiftc -emit-sil -o /dev/null -swift-version 6 -I "$BIN/Modules" \
        -Xcc -fmodule-map-file="$BIN/CGustSystem.build/module.modulemap" -Xcc -I -Xcc Sources/CGustSystem/include \
        "$file" 2>&1)
    status=$?
    set -e
    if grep -qE "Signal [0-9]+|Program crashed|Stack dump" <<<"$output"; then
        echo "FAIL $file: the compiler crashed"; failures=$((failures + 1)); continue
    fi
    case $expectation in
        "// expect-ok")
            if [ $status -ne 0 ]; then echo "FAIL $file: expected to compile"; echo "$output" | head -20; failures=$((failures + 1))
            else echo "ok   $file (compiles)"; fi ;;
        "// expect-error: "*)
            wanted=${expectation#// expect-error: }
            if [ $status -eq 0 ]; then echo "FAIL $file: expected an error"; failures=$((failures + 1))
            elif ! grep -F "error:" <<<"$output" | grep -qF "$wanted"; then
                echo "FAIL $file: no error mentions \"$wanted\""; echo "$output" | grep error | head -5; failures=$((failures + 1))
            else echo "ok   $file (error: $(grep -F "error:" <<<"$output" | grep -F "$wanted" | head -1 | sed 's/.*error: //'))"; fi ;;
        *) echo "FAIL $file: first line must be // expect-ok or // expect-error: TEXT"; failures=$((failures + 1)) ;;
    esac
done
[ $failures -eq 0 ] || { echo "$failures compile test(s) failed"; exit 1; }
