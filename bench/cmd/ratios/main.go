// Command ratios reads the output of the bench module's benchmarks (go test
// -bench, any -count) and prints one table per benchmark group: for each
// shape, the figures of our levels against the fastest peer and the floors,
// and whether the targets hold.
//
// Each figure is the best of a benchmark's samples by default (-stat=best):
// other programs on the machine can only slow a run down, so the best sample
// is the one they disturbed least, and ratios of best samples move least
// from run to run on a shared machine. -stat=median gives the centres that
// benchstat reports.
//
// A last section (targets.go) judges each speed target on the medians and
// the spread of the runs, whatever -stat says.
//
// Usage: go run ./cmd/ratios [-stat=best|median] results/raw.txt
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// key names one benchmark: its group (Decode, Scale, Setup, HTTP, or Socket/
// and the protocol), shape and implementation.
type key struct{ group, shape, impl string }

var nameRE = regexp.MustCompile(`^Benchmark(\w+)/(?:proto=(\w+)/)?shape=([^/]+)/impl=(.+?)(-\d+)?$`)

var stat = flag.String("stat", "best", "best or median of each benchmark's samples")

func main() {
	flag.Parse()
	if flag.NArg() < 1 || (*stat != "best" && *stat != "median") {
		fmt.Fprintln(os.Stderr, "ratios: usage: ratios [-stat=best|median] RAW.txt...")
		os.Exit(2)
	}
	rs := newResults()
	for _, path := range flag.Args() {
		f, err := os.Open(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "ratios:", err)
			os.Exit(1)
		}
		rs.parse(f)
		f.Close()
	}
	decode(os.Stdout, rs.samples, rs.shapes)
	scale(os.Stdout, rs.samples, rs.shapes)
	overHTTP(os.Stdout, rs.samples, rs.shapes)
	targets(os.Stdout, rs)
}

// results holds what the benchmark output says.
type results struct {
	samples map[key]map[string][]float64 // by benchmark and unit, in the order read
	shapes  []string                     // in the order first seen
	runs    []string                     // run.sh's header lines: library commit, date, machine
}

func newResults() *results { return &results{samples: map[key]map[string][]float64{}} }

// parse adds the figures of every benchmark line of r, and run.sh's header
// lines ("# library ...").
func (rs *results) parse(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if run, ok := strings.CutPrefix(sc.Text(), "# library "); ok {
			rs.runs = append(rs.runs, run)
			continue
		}
		f := strings.Fields(sc.Text())
		if len(f) < 4 {
			continue
		}
		m := nameRE.FindStringSubmatch(f[0])
		if m == nil {
			continue
		}
		k := key{m[1], m[3], m[4]}
		if m[2] != "" {
			k.group += "/" + m[2]
		}
		if !slices.Contains(rs.shapes, k.shape) {
			rs.shapes = append(rs.shapes, k.shape)
		}
		u := rs.samples[k]
		if u == nil {
			u = map[string][]float64{}
			rs.samples[k] = u
		}
		for i := 2; i+1 < len(f); i += 2 { // f[1] is the iteration count
			v, err := strconv.ParseFloat(f[i], 64)
			if err == nil {
				u[f[i+1]] = append(u[f[i+1]], v)
			}
		}
	}
}

// figure returns the figure of one benchmark's samples that -stat asks for:
// the best sample or the median.
// For units where less is better (ns/event, allocs/event, B/event) best is
// the smallest.
func figure(v []float64, unit string) float64 {
	if len(v) == 0 {
		return 0
	}
	if *stat == "best" {
		if strings.HasSuffix(unit, "/s") {
			return slices.Max(v)
		}
		return slices.Min(v)
	}
	return median(v)
}

// median returns the middle of v, or 0 for none.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// fastest returns the implementation with the highest figure of unit among
// those in group and shape that match, and its figure.
func fastest(samples map[key]map[string][]float64, group, shape, unit string, match func(string) bool) (string, float64) {
	best, bestV := "-", 0.0
	for k, u := range samples {
		if k.group != group || k.shape != shape || !match(k.impl) {
			continue
		}
		if v := figure(u[unit], unit); v > bestV {
			best, bestV = k.impl, v
		}
	}
	return best, bestV
}

func isPeer(impl string) bool {
	return !strings.HasPrefix(impl, "ours-") && !strings.HasPrefix(impl, "floor-")
}
func isClient(impl string) bool { return strings.HasSuffix(impl, "-client") }

func ratio(a, b float64) string {
	if a == 0 || b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", a/b)
}

// verdict marks a ratio against its target.
func verdict(a, b, target float64) string {
	if a == 0 || b == 0 {
		return "-"
	}
	if a/b >= target {
		return "ok"
	}
	return "MISS"
}

var smallShapes = []string{"small-lf", "small-crlf", "small-1byte", "comments"}

func decode(w io.Writer, samples map[key]map[string][]float64, shapes []string) {
	fig := func(shape, impl, unit string) float64 { return figure(samples[key{"Decode", shape, impl}][unit], unit) }
	if !slices.ContainsFunc(shapes, func(sh string) bool { _, ok := samples[key{"Decode", sh, "ours-stream"}]; return ok }) {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "From memory (MB/s, %s of samples; targets: stream >= 2x fastest peer, >= 1x on 1-byte reads;\n", *stat)
	fmt.Fprintln(w, "dispatch >= 2x fastest peer client; <= 1 alloc per small event (each stream's setup is spread")
	fmt.Fprintln(w, "over its events: 2% slack); large events >= 0.5x ReadSlice)")
	fmt.Fprintln(tw, "shape\tdecoder\tstream\tallocs/ev\tdispatch\tfastest peer\tMB/s\tdecoder/peer\tstream/peer\t\tfastest client\tMB/s\tdispatch/client\t\treadslice\tdecoder/readslice\tstream/readslice\tindexbyte\tstream/indexbyte\t")
	for _, sh := range shapes {
		if _, ok := samples[key{"Decode", sh, "ours-stream"}]; !ok {
			continue
		}
		st, ds := fig(sh, "ours-stream", "MB/s"), fig(sh, "ours-dispatch", "MB/s")
		dec := fig(sh, "ours-decoder", "MB/s") // the zero-copy level
		allocs := fig(sh, "ours-stream", "allocs/event")
		peer, pv := fastest(samples, "Decode", sh, "MB/s", isPeer)
		client, cv := fastest(samples, "Decode", sh, "MB/s", isClient)
		rs, ib := fig(sh, "floor-readslice", "MB/s"), fig(sh, "floor-indexbyte", "MB/s")
		peerTarget := 2.0
		if sh == "small-1byte" {
			peerTarget = 1
		}
		allocMark := fmt.Sprintf("%.2f", allocs)
		if slices.Contains(smallShapes, sh) && allocs > 1.02 {
			allocMark += " MISS"
		}
		decMark, rsMark := ratio(dec, rs), ratio(st, rs)
		if !slices.Contains(smallShapes, sh) {
			rsMark += " " + verdict(st, rs, 0.5)
			if dec > 0 {
				decMark += " " + verdict(dec, rs, 0.5)
			}
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%s\t%.0f\t%s\t%.0f\t%s\t%s\t%s\t%s\t%.0f\t%s\t%s\t%.0f\t%s\t%s\t%.0f\t%s\t\n",
			sh, dec, st, allocMark, ds, peer, pv, ratio(dec, pv), ratio(st, pv), verdict(st, pv, peerTarget),
			client, cv, ratio(ds, cv), verdict(ds, cv, 2), rs, decMark, rsMark, ib, ratio(st, ib))
	}
	tw.Flush()
}

// scale prints MB/s against event size, and the largest size's figure over
// the smallest's: about 1 for a linear parser, far below for a quadratic one.
func scale(w io.Writer, samples map[key]map[string][]float64, shapes []string) {
	var sizes, impls []string
	for _, sh := range shapes {
		for k := range samples {
			if k.group == "Scale" && k.shape == sh && !slices.Contains(sizes, sh) {
				sizes = append(sizes, sh)
			}
		}
	}
	for k := range samples {
		if k.group == "Scale" && !slices.Contains(impls, k.impl) {
			impls = append(impls, k.impl)
		}
	}
	if len(sizes) < 2 {
		return
	}
	slices.Sort(impls)
	slices.SortFunc(sizes, func(a, b string) int { return kib(a) - kib(b) })
	fmt.Fprintf(w, "\nSingle-line events of growing size in 1460 B reads (MB/s, %s of samples): nothing should fall with size\n", *stat)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "impl\t")
	for _, sz := range sizes {
		fmt.Fprint(tw, sz, "\t")
	}
	fmt.Fprintf(tw, "%s / %s\t\n", sizes[len(sizes)-1], sizes[0])
	for _, impl := range impls {
		fmt.Fprint(tw, impl, "\t")
		for _, sz := range sizes {
			fmt.Fprintf(tw, "%.1f\t", figure(samples[key{"Scale", sz, impl}]["MB/s"], "MB/s"))
		}
		first := figure(samples[key{"Scale", sizes[0], impl}]["MB/s"], "MB/s")
		last := figure(samples[key{"Scale", sizes[len(sizes)-1], impl}]["MB/s"], "MB/s")
		fmt.Fprintf(tw, "%s\t\n", ratio(last, first))
	}
	tw.Flush()
}

// kib reads the event size from a scale shape's name, "line512k-1460".
func kib(shape string) int {
	n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(strings.Split(shape, "-")[0], "line"), "k"))
	return n
}

func overHTTP(w io.Writer, samples map[key]map[string][]float64, shapes []string) {
	fig := func(shape, impl, unit string) float64 { return figure(samples[key{"HTTP", shape, impl}][unit], unit) }
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	printed := false
	for _, sh := range shapes {
		if _, ok := samples[key{"HTTP", sh, "ours-stream"}]; !ok {
			continue
		}
		if !printed {
			fmt.Fprintf(w, "\nOver loopback HTTP (events/s, %s of samples; one httptest server; server cost included)\n", *stat)
			fmt.Fprintln(tw, "shape\tstream\tdispatch\tfastest peer\tevents/s\tstream/peer\tdispatch/peer\tcopy floor MB/s\tstream MB/s\t")
			printed = true
		}
		st, ds := fig(sh, "ours-stream", "events/s"), fig(sh, "ours-dispatch", "events/s")
		peer, pv := fastest(samples, "HTTP", sh, "events/s", isPeer)
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%s\t%.0f\t%s\t%s\t%.0f\t%.0f\t\n", sh, st, ds, peer, pv,
			ratio(st, pv), ratio(ds, pv), fig(sh, "floor-copy", "MB/s"), fig(sh, "ours-stream", "MB/s"))
	}
	tw.Flush()
}
