#!/usr/bin/env bash
# Profiles one implementation on one shape and prints where its time and
# allocations go:
#   ./profile.sh SHAPE [IMPL] [BENCHTIME]     e.g. ./profile.sh small-lf ours-stream 3s
# Profiles and the test binary stay in ${OUT:-/tmp/sse-prof} for go tool pprof.
set -euo pipefail
cd "$(dirname "$0")"
export PATH="$PATH:/usr/local/go/bin"
shape="${1:?usage: profile.sh SHAPE [IMPL] [BENCHTIME]}"
impl="${2:-ours-stream}"
benchtime="${3:-3s}"
out="${OUT:-/tmp/sse-prof}"
mkdir -p "$out"
group="${GROUP:-Decode}"
name="$shape.$impl"
[ "$group" = Decode ] || name="$(echo "$group" | tr '/=' '--').$name" # Socket-proto-h2c.small-lf.ours-stream
bench="$group/shape=$shape\$/impl=$impl\$" # GROUP=Scale, or GROUP=Socket/proto=h2c
focus='bench\.(ours|tmax|openai|ld|r3|resty|floor)|sse\.\(\*Dispatcher\)\.run'
where="inside the adapter"
generator='bench\.(Shapes|ScaleShapes|SetupShape)$' # the streams are built once, before any timing
case "$bench" in Socket*)
	# Over a socket the transport reads on goroutines of its own: the whole
	# process is the client (the server runs in another).
	focus='.'
	where="the whole client process"
esac

go test -run '^$' -bench "$bench" -benchtime "$benchtime" -count 1 \
	-cpuprofile "$out/$name.cpu" -o "$out/bench.test" . | grep -E '^Benchmark'
# Exact allocation sites need every allocation sampled: a short second run.
go test -run '^$' -bench "$bench" -benchtime 20x -count 1 -memprofilerate 1 \
	-memprofile "$out/$name.mem" -o "$out/bench.test" . >/dev/null

echo "--- CPU, cumulative, $where"
go tool pprof -top -cum -nodecount 45 -focus "$focus" -ignore "$generator" \
	"$out/bench.test" "$out/$name.cpu" 2>/dev/null | sed -n '/flat%/,$p' | grep -v -E 'testing\.|bench\.(Bench|measure)'
echo "--- allocations (objects) per call site, $where"
go tool pprof -sample_index alloc_objects -top -nodecount 20 -focus "$focus" -ignore "$generator" \
	"$out/bench.test" "$out/$name.mem" 2>/dev/null | sed -n '/flat%/,$p'
