#!/usr/bin/env bash
# Runs the bench module's checks and benchmarks, feeds the results to
# benchstat and prints the table of ratios (see README.md).
#   COUNT=6 BENCHTIME=200ms BENCH='.' ./run.sh
set -euo pipefail
cd "$(dirname "$0")"
export PATH="$PATH:/usr/local/go/bin:$HOME/go/bin"
COUNT="${COUNT:-6}"
BENCHTIME="${BENCHTIME:-200ms}"
BENCH="${BENCH:-.}"
OUT="${OUT:-results}"
mkdir -p "$OUT"

if ! command -v benchstat >/dev/null; then
	go install golang.org/x/perf/cmd/benchstat@latest
fi

# Every adapter must read every shape correctly before anything is timed.
go test -count=1 -run 'TestShapes|TestAdapters|TestHTTPAdapters' .

{
	lib="$(git -C .. rev-parse --short HEAD 2>/dev/null || echo unknown)"
	git -C .. diff --quiet HEAD -- '*.go' 2>/dev/null || lib="$lib+uncommitted"
	echo "# library $lib, $(date -u +%Y-%m-%dT%H:%MZ), nproc $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(go version)"
	go test -run '^$' -bench "$BENCH" -benchtime "$BENCHTIME" -count "$COUNT" -timeout 60m .
} | tee "$OUT/raw.txt" | grep -E '^(Benchmark|ok|FAIL|#)' | cut -c1-120 >&2

benchstat -col /impl "$OUT/raw.txt" >"$OUT/benchstat.txt"
echo "benchstat tables: $OUT/benchstat.txt" >&2
go run ./cmd/ratios "$OUT/raw.txt" | tee "$OUT/ratios.txt"
