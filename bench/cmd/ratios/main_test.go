package main

import (
	"slices"
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
	rs := newResults()
	rs.parse(strings.NewReader(raw))
	var out strings.Builder
	decode(&out, rs.samples, rs.shapes)
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

// TestTargets checks the targets tables on made-up runs whose medians,
// per-run ratios and marks are known.
func TestTargets(t *testing.T) {
	raw := `# library abc1234, 2026-12-04T17:00Z, test
BenchmarkDecode/shape=huge8m/impl=ours-decoder-2         1 1 ns/op 1000 MB/s 9 allocs/event
BenchmarkDecode/shape=huge8m/impl=ours-stream-2          1 1 ns/op 900 MB/s 102 allocs/event
BenchmarkDecode/shape=huge8m/impl=ours-dispatch-2        1 1 ns/op 700 MB/s 110 allocs/event
BenchmarkDecode/shape=huge8m/impl=openai-decoder-2       1 1 ns/op 400 MB/s 50 allocs/event
BenchmarkDecode/shape=huge8m/impl=launchdarkly-client-2  1 1 ns/op 300 MB/s 50 allocs/event
BenchmarkDecode/shape=huge8m/impl=floor-copyvalid-2      1 1 ns/op 3000 MB/s 1 allocs/event
BenchmarkDecode/shape=huge8m/impl=ours-decoder-2         1 1 ns/op 1200 MB/s 9 allocs/event
BenchmarkDecode/shape=huge8m/impl=ours-stream-2          1 1 ns/op 1000 MB/s 102 allocs/event
BenchmarkDecode/shape=huge8m/impl=ours-dispatch-2        1 1 ns/op 800 MB/s 110 allocs/event
BenchmarkDecode/shape=huge8m/impl=openai-decoder-2       1 1 ns/op 500 MB/s 50 allocs/event
BenchmarkDecode/shape=huge8m/impl=launchdarkly-client-2  1 1 ns/op 600 MB/s 50 allocs/event
BenchmarkDecode/shape=huge8m/impl=floor-copyvalid-2      1 1 ns/op 3000 MB/s 1 allocs/event
BenchmarkDecode/shape=huge8m/impl=ours-decoder-2         1 1 ns/op 1100 MB/s 9 allocs/event
BenchmarkDecode/shape=huge8m/impl=ours-stream-2          1 1 ns/op 800 MB/s 102 allocs/event
BenchmarkDecode/shape=huge8m/impl=ours-dispatch-2        1 1 ns/op 900 MB/s 110 allocs/event
BenchmarkDecode/shape=huge8m/impl=openai-decoder-2       1 1 ns/op 450 MB/s 50 allocs/event
BenchmarkDecode/shape=huge8m/impl=launchdarkly-client-2  1 1 ns/op 200 MB/s 50 allocs/event
BenchmarkDecode/shape=huge8m/impl=floor-copyvalid-2      1 1 ns/op 3000 MB/s 1 allocs/event
BenchmarkSetup/shape=one-small/impl=ours-decoder-2  1 1 ns/op 6 allocs/event
BenchmarkSetup/shape=one-small/impl=ours-stream-2   1 1 ns/op 85 allocs/event
BenchmarkSetup/shape=one-small/impl=ours-dispatch-2 1 1 ns/op 100 allocs/event
BenchmarkDecode/shape=large/impl=ours-decoder-2    1 1 ns/op 6000 MB/s
BenchmarkDecode/shape=large/impl=ours-stream-2     1 1 ns/op 3000 MB/s
BenchmarkDecode/shape=large/impl=floor-readslice-2 1 1 ns/op 12000 MB/s
BenchmarkDecode/shape=small-lf/impl=ours-dispatch-2  1 1 ns/op 500 MB/s 100 cpu-ns/event
BenchmarkDecode/shape=small-lf/impl=tmaxmax-client-2 1 1 ns/op 200 MB/s 300 cpu-ns/event
BenchmarkDecode/shape=small-lf/impl=resty-client-2   1 1 ns/op 100 MB/s 400 cpu-ns/event
BenchmarkDecode/shape=small-lf/impl=ours-dispatch-2  1 1 ns/op 600 MB/s 100 cpu-ns/event
BenchmarkDecode/shape=small-lf/impl=tmaxmax-client-2 1 1 ns/op 250 MB/s 250 cpu-ns/event
BenchmarkDecode/shape=small-lf/impl=resty-client-2   1 1 ns/op 320 MB/s 400 cpu-ns/event
BenchmarkDecode/shape=small-lf/impl=ours-dispatch-2  1 1 ns/op 700 MB/s 100 cpu-ns/event
BenchmarkDecode/shape=small-lf/impl=tmaxmax-client-2 1 1 ns/op 300 MB/s 200 cpu-ns/event
BenchmarkDecode/shape=small-lf/impl=resty-client-2   1 1 ns/op 100 MB/s 400 cpu-ns/event
BenchmarkSocket/proto=h1/shape=small-lf/impl=ours-decoder-2   1 1 ns/op 100 cpu-ns/event
BenchmarkSocket/proto=h1/shape=small-lf/impl=ours-stream-2    1 1 ns/op 200 cpu-ns/event
BenchmarkSocket/proto=h1/shape=small-lf/impl=ours-dispatch-2  1 1 ns/op 300 cpu-ns/event
BenchmarkSocket/proto=h1/shape=small-lf/impl=tmaxmax-client-2 1 1 ns/op 500 cpu-ns/event
BenchmarkSocket/proto=h1/shape=small-lf/impl=resty-client-2   1 1 ns/op 800 cpu-ns/event
BenchmarkSocket/proto=h1/shape=small-lf/impl=ours-decoder-2   1 1 ns/op 100 cpu-ns/event
BenchmarkSocket/proto=h1/shape=small-lf/impl=ours-stream-2    1 1 ns/op 220 cpu-ns/event
BenchmarkSocket/proto=h1/shape=small-lf/impl=ours-dispatch-2  1 1 ns/op 300 cpu-ns/event
BenchmarkSocket/proto=h1/shape=small-lf/impl=tmaxmax-client-2 1 1 ns/op 400 cpu-ns/event
BenchmarkSocket/proto=h1/shape=small-lf/impl=resty-client-2   1 1 ns/op 800 cpu-ns/event
BenchmarkSocket/proto=h1/shape=small-lf/impl=ours-decoder-2   1 1 ns/op 100 cpu-ns/event
BenchmarkSocket/proto=h1/shape=small-lf/impl=ours-stream-2    1 1 ns/op 240 cpu-ns/event
BenchmarkSocket/proto=h1/shape=small-lf/impl=ours-dispatch-2  1 1 ns/op 300 cpu-ns/event
BenchmarkSocket/proto=h1/shape=small-lf/impl=tmaxmax-client-2 1 1 ns/op 600 cpu-ns/event
BenchmarkSocket/proto=h1/shape=small-lf/impl=resty-client-2   1 1 ns/op 800 cpu-ns/event
`
	rs := newResults()
	rs.parse(strings.NewReader(raw))
	var out strings.Builder
	targets(&out, rs)
	for _, tt := range []struct {
		section string
		rows    []string
	}{
		{"library", []string{"library abc1234, 2026-12-04T17:00Z, test"}},
		{"One 8 MiB", []string{
			"fastest peer openai-decoder 450 (400..500); floor-copyvalid 3000 (3000..3000)",
			// against each run's fastest peer (launchdarkly's client in the second run): 2.5, 2.0, 2.44
			"decoder 1100 (1000..1200) 2.44x (2.00..2.50) ok 0.37x (0.33..0.40) 9.0 6.0 3.0 ok",
			// 900/400, 1000/600, 800/450: only the medians reach 2x
			"stream 900 (800..1000) 2.00x (1.67..2.25) median 0.30x (0.27..0.33) 102.0 85.0 17.0 MISS",
			"dispatch 800 (700..900) 1.78x (1.33..2.00) MISS",
		}},
		{"32 KiB", []string{
			"large decoder 6000 (6000..6000) 12000 (12000..12000) 0.50x (0.50..0.50) ok",
			"large stream 3000 (3000..3000) 12000 (12000..12000) 0.25x (0.25..0.25) MISS",
		}},
		{"Dispatcher on small", []string{
			// tmaxmax leads by the median, resty in the second run: 600/320 misses 2x
			// by CPU: tmaxmax spends least, 300, 250 and 200 ns against 100
			"small-lf 600 (500..700) tmaxmax-client 250 (200..300) 2.40x (1.88..2.50) median tmaxmax-client 2.50x (2.00..3.00)",
		}},
		{"Client CPU", []string{
			"h1 small-lf tmaxmax-client (fastest client) 500 (400..600)",
			"ours-decoder 100 (100..100) 0.20x (0.17..0.25) ok",
			"ours-stream 220 (200..240) 0.44x (0.40..0.55) median",
			"ours-dispatch 300 (300..300) 0.60x (0.50..0.75) MISS",
		}},
	} {
		i := strings.Index(out.String(), "\n"+tt.section)
		if i < 0 {
			t.Fatalf("no section %q in\n%s", tt.section, out.String())
		}
		sec, _, _ := strings.Cut(out.String()[i+1:], "\n\n")
		var lines []string
		for _, line := range strings.Split(sec, "\n") {
			lines = append(lines, strings.Join(strings.Fields(line), " "))
		}
		for _, row := range tt.rows {
			if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, row) }) {
				t.Errorf("%s: no line starts with %q in\n%s", tt.section, row, sec)
			}
		}
	}
}
