#!/usr/bin/env bash
# Micro and whole-server benchmarks (package-benchmark, Benchmarks/ package).
#
#   scripts/benchmarks.sh            run every benchmark and print the figures
#   scripts/benchmarks.sh check      check the allocation budgets in Benchmarks/Thresholds
#                                    (exit 2 when a benchmark allocates more than its budget)
#   scripts/benchmarks.sh update     rewrite the budgets from a fresh run (allocation counts only:
#                                    times on a shared machine are not budgets)
#
# Extra arguments go to `swift package benchmark` (e.g. --filter 'Server.*').
set -euo pipefail
cd "$(dirname "$0")/../Benchmarks"
mode="${1:-run}"
[ $# -gt 0 ] && shift
case "$mode" in
  run)
    swift package benchmark "$@" ;;
  check)
    swift package benchmark thresholds check --no-progress "$@" ;;
  update)
    rm -rf Thresholds
    swift package --allow-writing-to-package-directory benchmark thresholds update --no-progress "$@"
    for f in Thresholds/*.json; do
      python3 - "$f" <<'PY'
import json, sys
path = sys.argv[1]
counts = json.load(open(path))
with open(path, "w") as out:
    json.dump({"mallocCountTotal": counts["mallocCountTotal"]}, out, indent=2)
    out.write("\n")
PY
    done
    grep -H mallocCountTotal Thresholds/*.json ;;
  *)
    echo "usage: $0 [run|check|update] [swift package benchmark options]" >&2
    exit 64 ;;
esac
