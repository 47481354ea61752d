#!/usr/bin/env bash
# Runs the bench module's checks and benchmarks, feeds the results to
# benchstat and prints the table of ratios (see README.md).
#   COUNT=6 BENCHTIME=200ms BENCH='.' STAT=best ./run.sh
# The suite runs COUNT times in a row (-count 1 each), so that a burst of
# load from other programs spreads over all implementations instead of
# landing on the samples of one.
set -euo pipefail
cd "$(dirname "$0")"
export PATH="$PATH:/usr/local/go/bin:$HOME/go/bin"
COUNT="${COUNT:-6}"
BENCHTIME="${BENCHTIME:-200ms}"
BENCH="${BENCH:-.}"
STAT="${STAT:-best}"
OUT="${OUT:-results}"
mkdir -p "$OUT"

if ! command -v benchstat >/dev/null; then
	go install golang.org/x/perf/cmd/benchstat@latest
fi

# Every adapter must read every shape correctly before anything is timed.
go test -count=1 -run 'TestShapes|TestAdapters|TestFloorCopyValid|TestHTTPAdapters|TestSocket' .

# Each shape runs in a process of its own: the heap that one shape leaves
# behind otherwise slows the first implementation timed on the next (seen on
# huge8m: 5-10x).
if [ "$BENCH" = . ]; then
	SETS=()
	for shape in small-lf small-crlf small-1byte comments large large-1460 line128k-1460 huge8m; do
		SETS+=("Decode/shape=$shape\$")
	done
	# Socket starts cmd/sseserve in a process of its own, once per run.
	SETS+=(Setup Scale HTTP Socket)
else
	SETS=("$BENCH")
fi

go test -c -o "$OUT/bench.test" .
# The library's commit is the last one that changed it (bench/ aside): a
# branch that only touches the benchmarks measures the library it started from.
lib="$(git -C .. log -1 --format=%h -- . ':(exclude)bench' 2>/dev/null || echo unknown)"
git -C .. diff --quiet HEAD -- '*.go' ':(exclude)bench' 2>/dev/null || lib="$lib+uncommitted"
lib="$lib (bench $(git -C .. rev-parse --short HEAD 2>/dev/null || echo unknown))"
{
	echo "# library $lib, $(date -u +%Y-%m-%dT%H:%MZ), nproc $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(go version), load $(cut -d' ' -f1-3 /proc/loadavg)"
	for i in $(seq "$COUNT"); do
		echo "# pass $i of $COUNT, load $(cut -d' ' -f1-3 /proc/loadavg)"
		for set in "${SETS[@]}"; do
			"$OUT/bench.test" -test.run '^$' -test.bench "$set" -test.benchtime "$BENCHTIME" \
				-test.count 1 -test.timeout 60m
		done
	done
} | tee "$OUT/raw.txt" | grep -E '^(Benchmark|ok|FAIL|#)' | cut -c1-120 >&2
rm -f "$OUT/bench.test"

benchstat -col /impl "$OUT/raw.txt" >"$OUT/benchstat.txt"
echo "benchstat tables: $OUT/benchstat.txt" >&2
go run ./cmd/ratios -stat "$STAT" "$OUT/raw.txt" | tee "$OUT/ratios.txt"
