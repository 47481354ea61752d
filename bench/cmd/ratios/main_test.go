package main

import (
	"strings"
	"testing"
)

// TestDecodeTable checks the ratios and target marks the table prints, on
// made-up samples whose ratios are known.
func TestDecodeTable(t *testing.T) {
	raw := `
BenchmarkDecode/shape=small-lf/impl=ours-decoder-2   10  1 ns/op  1000.00 MB/s  0 allocs/event
BenchmarkDecode/shape=small-lf/impl=ours-stream-2    10  1 ns/op  900.00 MB/s   0.50 allocs/event
BenchmarkDecode/shape=small-lf/impl=ours-stream-2    10  1 ns/op  800.00 MB/s   0.50 allocs/event
BenchmarkDecode/shape=small-lf/impl=ours-dispatch-2  10  1 ns/op  500.00 MB/s   0.50 allocs/event
BenchmarkDecode/shape=small-lf/impl=openai-decoder-2 10  1 ns/op  400.00 MB/s   3 allocs/event
BenchmarkDecode/shape=small-lf/impl=tmaxmax-client-2 10  1 ns/op  300.00 MB/s   3 allocs/event
BenchmarkDecode/shape=small-lf/impl=floor-readslice-2 10 1 ns/op  3000.00 MB/s  0 allocs/event
BenchmarkDecode/shape=small-1byte/impl=ours-stream-2    10 1 ns/op 70.00 MB/s 1.50 allocs/event
BenchmarkDecode/shape=small-1byte/impl=ours-dispatch-2  10 1 ns/op 90.00 MB/s 1.50 allocs/event
BenchmarkDecode/shape=small-1byte/impl=openai-decoder-2 10 1 ns/op 70.00 MB/s 3 allocs/event
BenchmarkDecode/shape=small-1byte/impl=resty-client-2   10 1 ns/op 40.00 MB/s 3 allocs/event
BenchmarkDecode/shape=large/impl=ours-stream-2      10 1 ns/op 5000.00 MB/s 4 allocs/event
BenchmarkDecode/shape=large/impl=openai-decoder-2   10 1 ns/op 1000.00 MB/s 9 allocs/event
BenchmarkDecode/shape=large/impl=floor-readslice-2  10 1 ns/op 12000.00 MB/s 0 allocs/event
`
	samples := map[key]map[string][]float64{}
	shapes := parse(strings.NewReader(raw), samples, nil)
	var out strings.Builder
	decode(&out, samples, shapes)
	rows := map[string][]string{}
	for _, line := range strings.Split(out.String(), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			rows[f[0]] = f
		}
	}
	for shape, want := range map[string][]string{
		// best of samples: stream 900 against openai 400, dispatch 500 against tmaxmax 300
		"small-lf": {"1000", "900", "0.50", "500", "openai-decoder", "400", "2.50x", "2.25x", "ok", "tmaxmax-client", "300", "1.67x", "MISS", "3000", "0.33x", "0.30x"},
		// one-byte reads: 1x the peer is enough; 1.5 allocations per event are not
		"small-1byte": {"-", "70", "1.50", "MISS", "90", "openai-decoder", "70", "-", "1.00x", "ok", "resty-client", "40", "2.25x", "ok"},
		// large: 2x the peer holds, 0.5x ReadSlice does not
		"large": {"-", "5000", "4.00", "0", "openai-decoder", "1000", "-", "5.00x", "ok"},
	} {
		got := rows[shape]
		if len(got) < len(want)+1 {
			t.Fatalf("%s: row %q; want it to start with %q", shape, got, want)
		}
		for i, w := range want {
			if got[i+1] != w && !(w == "-" && got[i+1] == "0") {
				t.Errorf("%s: column %d is %q; want %q (row %q)", shape, i+1, got[i+1], w, got)
			}
		}
	}
	if large := strings.Join(rows["large"], " "); !strings.Contains(large, "0.42x MISS") {
		t.Errorf("large: row %q; want stream/readslice 0.42x MISS", large)
	}
}
