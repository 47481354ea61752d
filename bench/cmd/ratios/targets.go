package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// The targets section prints one table per speed target, each from the
// medians of the runs and their spread (min..max), whatever -stat says: a
// target is judged on every run, not on the luckiest sample.

// handful is the most allocations one 8 MiB event may cost beyond a
// stream's setup and still meet "a handful".
const handful = 5

// A dist is one benchmark's figures in one unit, one per run, in run order.
type dist []float64

func (d dist) String() string {
	if len(d) == 0 {
		return "-"
	}
	return fmt.Sprintf("%s (%s..%s)", num(median(d)), num(slices.Min(d)), num(slices.Max(d)))
}

// num prints a figure with the digits that matter at its size.
func num(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// A rate is a ratio a/b: that of the medians, and its lowest and highest
// across runs. When both sides have a figure from every run, run i's a is
// divided by run i's b (run.sh times every benchmark once per run, so load
// from other programs falls on both alike); otherwise the range is the
// widest the figures allow. perRun, when not nil, stands in for b in the
// range: each run's best of several implementations.
type rate struct{ med, lo, hi float64 }

func rateOf(a, b, perRun dist) (rate, bool) {
	if perRun == nil {
		perRun = b
	}
	if len(a) == 0 || len(b) == 0 || len(perRun) == 0 || median(b) == 0 || slices.Min(perRun) == 0 {
		return rate{}, false
	}
	r := rate{med: median(a) / median(b)}
	if len(a) == len(perRun) {
		r.lo, r.hi = a[0]/perRun[0], a[0]/perRun[0]
		for i := range a {
			r.lo, r.hi = min(r.lo, a[i]/perRun[i]), max(r.hi, a[i]/perRun[i])
		}
		return r, true
	}
	r.lo, r.hi = slices.Min(a)/slices.Max(perRun), slices.Max(a)/slices.Min(perRun)
	return r, true
}

func (r rate) String() string { return fmt.Sprintf("%.2fx (%.2f..%.2f)", r.med, r.lo, r.hi) }

// inverse turns a ratio of costs into one of speeds.
func (r rate) inverse() rate { return rate{med: 1 / r.med, lo: 1 / r.hi, hi: 1 / r.lo} }

// atLeast marks a rate against a target it must reach: "ok" when every
// run reaches it, "median" when only the median does, "MISS" otherwise.
func (r rate) atLeast(target float64) string {
	switch {
	case r.lo >= target:
		return "ok"
	case r.med >= target:
		return "median"
	}
	return "MISS"
}

// atMost marks a rate against a target it must not exceed.
func (r rate) atMost(target float64) string {
	switch {
	case r.hi <= target:
		return "ok"
	case r.med <= target:
		return "median"
	}
	return "MISS"
}

// cell prints the rate of a to b (see rateOf) and, when mark is given, its
// mark.
func cell(a, b, perRun dist, mark func(rate) string) string {
	r, ok := rateOf(a, b, perRun)
	if !ok {
		return "-"
	}
	if mark == nil {
		return r.String()
	}
	return r.String() + " " + mark(r)
}

func (rs *results) dist(group, shape, impl, unit string) dist {
	return rs.samples[key{group, shape, impl}][unit]
}

// leader returns, of the implementations in group and shape that match, the
// one with the best median in unit (the highest for a unit per second, the
// lowest for a cost), its figures, and the best figure among all of them in
// each run: what a ratio "in every run" is taken against. When they do not
// all have a figure from every run, the leader's own figures stand in.
func (rs *results) leader(group, shape, unit string, match func(string) bool) (string, dist, dist) {
	higher := strings.HasSuffix(unit, "/s")
	better := func(a, b float64) bool { return (higher && a > b) || (!higher && a < b) }
	var names []string
	for k, u := range rs.samples {
		if k.group == group && k.shape == shape && match(k.impl) && len(u[unit]) > 0 {
			names = append(names, k.impl)
		}
	}
	if len(names) == 0 {
		return "-", nil, nil
	}
	slices.Sort(names) // map order must not pick between equal medians
	name := names[0]
	for _, n := range names[1:] {
		if better(median(rs.dist(group, shape, n, unit)), median(rs.dist(group, shape, name, unit))) {
			name = n
		}
	}
	own := rs.dist(group, shape, name, unit)
	perRun := slices.Clone(own)
	for _, n := range names {
		d := rs.dist(group, shape, n, unit)
		if len(d) != len(own) {
			return name, own, own
		}
		for i, v := range d {
			if better(v, perRun[i]) {
				perRun[i] = v
			}
		}
	}
	return name, own, perRun
}

// byCPU compares impl with the implementation among match that spends the
// least CPU time per event (by median), as a speed ratio: above 1, impl
// spends less. Load from other programs stretches wall time, and so MB/s,
// but hardly CPU time, so this column shows what load did to a run. It
// returns that implementation's name and the ratio.
func (rs *results) byCPU(group, shape, impl string, match func(string) bool) (string, string) {
	const unit = "cpu-ns/event"
	name, own, perRun := rs.leader(group, shape, unit, match)
	r, ok := rateOf(rs.dist(group, shape, impl, unit), own, perRun)
	if !ok {
		return name, "-"
	}
	return name, r.inverse().String()
}

var levels = []struct{ name, impl string }{
	{"decoder", "ours-decoder"}, {"stream", "ours-stream"}, {"dispatch", "ours-dispatch"},
}

// targets prints the tables of the speed targets, for what the results hold.
func targets(w io.Writer, rs *results) {
	fmt.Fprintln(w, "\nTargets: median of the runs (min..max across runs). A ratio is that of the medians, and its")
	fmt.Fprintln(w, "range is each run's own ratio. ok: the target holds in every run; median: it holds by the")
	fmt.Fprintln(w, "medians only; MISS: not by the medians either.")
	for _, run := range slices.Compact(slices.Clone(rs.runs)) {
		fmt.Fprintln(w, "library", run)
	}
	huge(w, rs)
	multiLine(w, rs)
	smallDispatch(w, rs)
	socketCPU(w, rs)
}

// huge prints the 8 MiB event: each level against the fastest peer and the
// copy floor, and its allocations less those of a stream's setup.
func huge(w io.Writer, rs *results) {
	const sh = "huge8m"
	if rs.dist("Decode", sh, "ours-stream", "MB/s") == nil {
		return
	}
	peer, peerD, peerRun := rs.leader("Decode", sh, "MB/s", isPeer)
	floor := rs.dist("Decode", sh, "floor-copyvalid", "MB/s")
	fmt.Fprintf(w, "\nOne 8 MiB single-line event (huge8m, from memory, MB/s). Targets: every level >= 2x the fastest\n")
	fmt.Fprintf(w, "peer; within a small factor of floor-copyvalid (one copy into a new buffer and utf8.Valid, no\n")
	fmt.Fprintf(w, "target ratio); a handful of allocations for the event (<= %d beyond the setup of a stream of one\n", handful)
	fmt.Fprintf(w, "small event, BenchmarkSetup).\n")
	fmt.Fprintf(w, "fastest peer %s %v; floor-copyvalid %v\n", peer, peerD, floor)
	cpuPeer, _ := rs.byCPU("Decode", sh, "ours-stream", isPeer)
	fmt.Fprintf(w, "By CPU time per event (no target; see README): against %s, the peer that spends least.\n", cpuPeer)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "level\tMB/s\tvs fastest peer\tvs floor-copyvalid\tallocs/event\tsetup allocs\tallocs for the event\tby CPU vs peer\tby CPU vs floor\t")
	for _, l := range levels {
		mbs := rs.dist("Decode", sh, l.impl, "MB/s")
		if mbs == nil {
			continue
		}
		allocs := median(rs.dist("Decode", sh, l.impl, "allocs/event"))
		setup := rs.dist("Setup", "one-small", l.impl, "allocs/event")
		event := "-"
		if setup != nil {
			n := allocs - median(setup)
			event = fmt.Sprintf("%.1f", n)
			if n <= handful {
				event += " ok"
			} else {
				event += " MISS"
			}
		}
		_, cpuVsPeer := rs.byCPU("Decode", sh, l.impl, isPeer)
		_, cpuVsFloor := rs.byCPU("Decode", sh, l.impl, func(impl string) bool { return impl == "floor-copyvalid" })
		fmt.Fprintf(tw, "%s\t%v\t%s\t%s\t%.1f\t%.1f\t%s\t%s\t%s\t\n", l.name, mbs,
			cell(mbs, peerD, peerRun, func(r rate) string { return r.atLeast(2) }),
			cell(mbs, floor, nil, nil), allocs, median(setup), event, cpuVsPeer, cpuVsFloor)
	}
	tw.Flush()
}

// multiLine prints the 32 KiB events of 256 lines against bufio's ReadSlice.
func multiLine(w io.Writer, rs *results) {
	printed := false
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, sh := range []string{"large", "large-1460"} {
		floor := rs.dist("Decode", sh, "floor-readslice", "MB/s")
		for _, l := range levels[:2] {
			mbs := rs.dist("Decode", sh, l.impl, "MB/s")
			if mbs == nil {
				continue
			}
			if !printed {
				fmt.Fprintln(w, "\n32 KiB events of 256 data lines (from memory, MB/s). Target: decoder and stream >= 0.5x floor-readslice.")
				fmt.Fprintln(tw, "shape\tlevel\tMB/s\tfloor-readslice\tratio\tby CPU\t")
				printed = true
			}
			_, cpu := rs.byCPU("Decode", sh, l.impl, func(impl string) bool { return impl == "floor-readslice" })
			fmt.Fprintf(tw, "%s\t%s\t%v\t%v\t%s\t%s\t\n", sh, l.name, mbs, floor,
				cell(mbs, floor, nil, func(r rate) string { return r.atLeast(0.5) }), cpu)
		}
	}
	tw.Flush()
}

// smallDispatch prints the dispatcher against the fastest full peer client
// on small events, run by run.
func smallDispatch(w io.Writer, rs *results) {
	printed := false
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, sh := range smallShapes {
		ds := rs.dist("Decode", sh, "ours-dispatch", "MB/s")
		if ds == nil {
			continue
		}
		if !printed {
			fmt.Fprintln(w, "\nDispatcher on small events (from memory, MB/s). Target: >= 2x the fastest full peer client in every")
			fmt.Fprintln(w, "run (each run's ratio is against that run's fastest client).")
			fmt.Fprintln(tw, "shape\tdispatch\tfastest client\tMB/s\tratio\tleast-CPU client\tby CPU\t")
			printed = true
		}
		client, cd, perRun := rs.leader("Decode", sh, "MB/s", isClient)
		cpuClient, cpu := rs.byCPU("Decode", sh, "ours-dispatch", isClient)
		fmt.Fprintf(tw, "%s\t%v\t%s\t%v\t%s\t%s\t%s\t\n", sh, ds, client, cd,
			cell(ds, cd, perRun, func(r rate) string { return r.atLeast(2) }), cpuClient, cpu)
	}
	tw.Flush()
}

// socketCPU prints the client's CPU time per event over real sockets:
// each level against the fastest full peer client, with the fastest peer
// parser and the copy floor for scale.
func socketCPU(w io.Writer, rs *results) {
	var groups []string
	for k := range rs.samples {
		if strings.HasPrefix(k.group, "Socket/") && !slices.Contains(groups, k.group) {
			groups = append(groups, k.group)
		}
	}
	if len(groups) == 0 {
		return
	}
	slices.Sort(groups)
	const unit = "cpu-ns/event"
	fmt.Fprintln(w, "\nClient CPU per event over a real socket (server in another process; user+system time of the client")
	fmt.Fprintln(w, "process, ns/event). Target: every level <= 0.5x the CPU per event of the fastest full peer client.")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "proto\tshape\timpl\tcpu-ns/event\tvs fastest client\t")
	for _, g := range groups {
		proto := strings.TrimPrefix(g, "Socket/")
		for _, sh := range rs.shapes {
			if rs.dist(g, sh, "ours-stream", unit) == nil {
				continue
			}
			client, cd, perRun := rs.leader(g, sh, unit, isClient)
			fmt.Fprintf(tw, "%s\t%s\t%s (fastest client)\t%v\t\t\n", proto, sh, client, cd)
			for _, l := range levels {
				if d := rs.dist(g, sh, l.impl, unit); d != nil {
					fmt.Fprintf(tw, "\t\t%s\t%v\t%s\t\n", l.impl, d, cell(d, cd, perRun, func(r rate) string { return r.atMost(0.5) }))
				}
			}
			parser, pd, _ := rs.leader(g, sh, unit, func(impl string) bool { return isPeer(impl) && !isClient(impl) })
			for _, ref := range []struct {
				impl string
				d    dist
			}{{parser, pd}, {"floor-copy", rs.dist(g, sh, "floor-copy", unit)}} {
				if ref.d != nil {
					fmt.Fprintf(tw, "\t\t%s\t%v\t%s\t\n", ref.impl, ref.d, cell(ref.d, cd, perRun, nil))
				}
			}
		}
	}
	tw.Flush()
}
