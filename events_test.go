package sse

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// bodySource serves body, read whole, on every connection.
func bodySource(body string) Option {
	return WithSource(SourceFunc(func(context.Context, string) (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader(body)), nil
	}))
}

// longLines is a stream whose lines outgrow the parser's first buffer in
// both ways it grows: a data line (moved into the event's data as it
// arrives) and a comment (the buffer itself grows).
var longLines = "data: a\n\ndata: " + strings.Repeat("d", 5000) + "\n\n:" + strings.Repeat("c", 5000) + "\ndata: b\n\n"

// TestMaxEventSizeValues checks every kind of value WithMaxEventSize may
// be given: below 1 it is refused by NewStream and New; 1 works (every data
// line is then too large); math.MaxInt works, as no limit at all.
func TestMaxEventSizeValues(t *testing.T) {
	for _, n := range []int{0, -1, math.MinInt} {
		if _, err := NewStream("", WithErrorStrategy(AlwaysFail()), bodySource(""), WithMaxEventSize(n)); err == nil || !strings.Contains(err.Error(), "WithMaxEventSize") {
			t.Errorf("NewStream with WithMaxEventSize(%d): error %v; want one naming WithMaxEventSize", n, err)
		}
		if _, err := New("", WithErrorStrategy(AlwaysFail()), bodySource(""), WithMaxEventSize(n)); err == nil {
			t.Errorf("New with WithMaxEventSize(%d): no error; want one", n)
		}
	}
	tests := []struct {
		max  int
		want []string
	}{
		{1, []string{"start 1", faultOf(&TooLargeError{Limit: 1}, true, 0)}},
		{math.MaxInt, []string{"start 1",
			describe(Event{Type: "message", Data: "a"}),
			describe(Event{Type: "message", Data: strings.Repeat("d", 5000)}),
			describe(Comment{Text: strings.Repeat("c", 5000)}),
			describe(Event{Type: "message", Data: "b"}),
			faultOf(nil, true, 0)}},
	}
	for _, tt := range tests {
		s, err := NewStream("", WithErrorStrategy(AlwaysFail()), bodySource(longLines), WithMaxEventSize(tt.max))
		if err != nil {
			t.Fatalf("WithMaxEventSize(%d): %v", tt.max, err)
		}
		if got := pull(context.Background(), s, 10); !slices.Equal(got, tt.want) {
			t.Errorf("WithMaxEventSize(%d):\ngot  %.300q\nwant %.300q", tt.max, got, tt.want)
		}
		s.Close()
	}
}

// heldBody delivers b and then waits, as an idle connection does, until it
// is closed; waiting is closed once it waits. It keeps b whole, so that a
// test measuring the heap finds it there before and after alike.
type heldBody struct {
	b       []byte
	off     int
	waiting chan struct{}
	closed  chan struct{}
	once    sync.Once
}

func (r *heldBody) Read(p []byte) (int, error) {
	if r.off < len(r.b) {
		n := copy(p, r.b[r.off:])
		r.off += n
		return n, nil
	}
	close(r.waiting)
	<-r.closed
	return 0, io.EOF
}

func (r *heldBody) Close() error {
	r.once.Do(func() { close(r.closed) })
	return nil
}

// smallEvents returns k small events of type "update", each with an id.
func smallEvents(k int) string {
	var b strings.Builder
	for i := range k {
		fmt.Fprintf(&b, "id: %d\nevent: update\ndata: {\"seq\":%06d,\"user\":\"u-1234\"}\n\n", i, i)
	}
	return b.String()
}

// afterHead runs a Dispatcher, with handlers for events and comments, on a
// stream that sends head, then k small events, and then waits. It returns
// the heap the dispatcher holds once it waits for more, and the bytes it
// allocated per small event after the first.
func afterHead(t *testing.T, head string, k int) (held int64, perEvent float64) {
	t.Helper()
	body := []byte(head + smallEvents(k))
	hb := &heldBody{b: body, waiting: make(chan struct{}), closed: make(chan struct{})}
	var before, first, last, after runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)
	d, err := New("", WithSource(SourceFunc(func(context.Context, string) (io.ReadCloser, error) { return hb, nil })))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	d.OnEvent(func(_ context.Context, ev Event) {
		if ev.Type != "update" {
			return
		}
		if n++; n == 1 {
			runtime.ReadMemStats(&first)
		} else if n == k {
			runtime.ReadMemStats(&last)
		}
	})
	d.OnComment(func(context.Context, Comment) {})
	var fault Fault
	d.OnFault(func(_ context.Context, f Fault) { fault = f })
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-hb.waiting:
	case <-d.Done():
		t.Fatalf("after %.30q...: %d small events, then %v; want %d and a wait", head, n, fault.Err, k)
	}
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(body)
	d.Close()
	if n != k {
		t.Fatalf("after %.30q...: %d small events; want %d", head, n, k)
	}
	return int64(after.HeapAlloc) - int64(before.HeapAlloc), float64(last.TotalAlloc-first.TotalAlloc) / float64(k-1)
}

// TestStreamMemoryAfterLargeValue checks that one large value, in any
// field, leaves nothing sized after it: once small events follow, the
// stream holds what it would have held without it, and each small event
// allocates what it would have allocated without it.
func TestStreamMemoryAfterLargeValue(t *testing.T) {
	const size, k = 1 << 20, 200
	big := strings.Repeat("v", size)
	afterHead(t, "", k) // whatever is made once per process is made now
	baseHeld, basePer := afterHead(t, "", k)
	t.Logf("without a large value: %d bytes held, %.1f bytes per small event", baseHeld, basePer)
	tests := []struct {
		name string
		head string
	}{
		{"data", "data: " + big + "\n\n"},
		{"data with invalid UTF-8", "data: " + big + "\xff\n\n"},
		{"event", "event: " + big + "\ndata: x\n\n"},
		{"event with invalid UTF-8", "event: " + big + "\xff\ndata: x\n\n"},
		{"id", "id: " + big + "\ndata: x\n\n"},
		{"id with invalid UTF-8", "id: " + big + "\xff\ndata: x\n\n"},
		{"comment", ":" + big + "\n"},
		{"comment with invalid UTF-8", ":" + big + "\xff\n"},
		{"unknown field", "field: " + big + "\n"},
		{"retry", "retry: " + strings.Repeat("9", size) + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			held, per := afterHead(t, tt.head, k)
			for range 2 { // what another goroutine allocates meanwhile only adds
				h, _ := afterHead(t, tt.head, k)
				held = min(held, h)
			}
			t.Logf("%d bytes held, %.1f bytes per small event", held, per)
			if held > baseHeld+2<<10 {
				t.Errorf("after a %d-byte value and %d small events the stream holds %d bytes; want at most %d, as without it (%d)", size, k, held, baseHeld+2<<10, baseHeld)
			}
			if per > basePer+8 {
				t.Errorf("after a %d-byte value each small event allocates %.1f bytes; want %.1f, as without it", size, per, basePer)
			}
		})
	}
}

// TestEventTypesInternedWithinBounds checks what a stream keeps of event
// types, and makes into metric attributes: at most maxInternedTypes names,
// each of at most maxKeptText bytes. Every other type still reaches the
// event as sent, and counts under the overflow bucket.
func TestEventTypesInternedWithinBounds(t *testing.T) {
	long, longest := strings.Repeat("l", maxKeptText+1), strings.Repeat("k", maxKeptText)
	var body strings.Builder
	var want []string // the types of the events, as sent
	add := func(typ string) {
		fmt.Fprintf(&body, "event: %s\ndata: x\n\n", typ)
		want = append(want, typ)
	}
	add(longest)
	add(long)
	add(long)
	for i := range maxInternedTypes + 6 {
		add(fmt.Sprintf("t%d", i))
	}
	reader := sdkmetric.NewManualReader()
	s, err := NewStream("", WithErrorStrategy(AlwaysFail()), bodySource(body.String()), WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var got []string
	for ev, err := range s.Events(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ev.Type)
	}
	if !slices.Equal(got, want) {
		t.Errorf("event types: got %.200q; want %.200q", got, want)
	}
	if len(s.types) != maxInternedTypes {
		t.Errorf("%d types interned; want %d", len(s.types), maxInternedTypes)
	}
	for name := range s.types {
		if len(name) > maxKeptText {
			t.Errorf("interned a type of %d bytes; want none over %d", len(name), maxKeptText)
		}
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != metricEvents {
				continue
			}
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				v, _ := dp.Attributes.Value(attrEventType)
				counts[v.AsString()] += dp.Value
			}
		}
	}
	// The longest name that fits, and the first 63 short ones, are their
	// own attribute; the rest count as _OTHER.
	if len(counts) != maxInternedTypes+1 || counts[longest] != 1 || counts["t0"] != 1 || counts["_OTHER"] != 2+7 {
		t.Errorf("events by type attribute: %d attribute values, %q: %d, t0: %d, _OTHER: %d; want %d values, 1, 1 and 9",
			len(counts), longest[:8]+"...", counts[longest], counts["t0"], counts["_OTHER"], maxInternedTypes+1)
	}
	for v := range counts {
		if len(v) > maxKeptText {
			t.Errorf("an attribute value of %d bytes; want none over %d", len(v), maxKeptText)
		}
	}
}

// TestStreamMemoryWhileWaitingToReconnect checks that a connection cut off
// in the middle of a large event leaves nothing sized after it while the
// stream waits to reconnect.
func TestStreamMemoryWhileWaitingToReconnect(t *testing.T) {
	heldWaiting := func(body []byte) int64 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&before)
		d, err := New("", WithSource(SourceFunc(func(context.Context, string) (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(body)), nil
		})), WithErrorStrategy(AlwaysContinue()), WithInitialDelay(time.Hour), WithJitter(0))
		if err != nil {
			t.Fatal(err)
		}
		faulted := make(chan struct{})
		d.OnFault(func(context.Context, Fault) { close(faulted) })
		if err := d.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		<-faulted // the connection has ended; the stream waits an hour
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(body)
		d.Close()
		return int64(after.HeapAlloc) - int64(before.HeapAlloc)
	}
	small := []byte("data: a\n\n")
	heldWaiting(small) // whatever is made once per process is made now
	want := heldWaiting(small)
	big := strings.Repeat("v", 1<<20)
	for _, body := range []string{
		"data: a\n\ndata: " + big,
		"data: a\n\n:" + big,
		"data: a\n\n" + strings.Repeat("data: "+big[:1000]+"\n", 1000),
	} {
		got := heldWaiting([]byte(body))
		for range 2 { // what another goroutine allocates meanwhile only adds
			got = min(got, heldWaiting([]byte(body)))
		}
		if got > want+2<<10 {
			t.Errorf("waiting to reconnect after %.30q...: %d bytes held; want at most %d, as after a small event (%d)", body, got, want+2<<10, want)
		}
	}
}

// TestStreamLimitBoundsRepairedData checks that WithMaxEventSize bounds
// event data as delivered, after each bad byte became a three-byte U+FFFD:
// a line of bad bytes just under the limit is too large, and is refused
// before its repaired form is made.
func TestStreamLimitBoundsRepairedData(t *testing.T) {
	const limit = 1 << 20
	// run returns the action after the Start, described briefly, and the
	// bytes allocated to reach it.
	run := func(bad int) (string, uint64) {
		body := "data: " + strings.Repeat("\xff", bad) + "\n\n"
		s, err := NewStream("", WithErrorStrategy(AlwaysFail()), bodySource(body), WithMaxEventSize(limit))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		got := "nothing"
		for a := range s.All(context.Background()) {
			switch a := a.(type) {
			case Event:
				got = fmt.Sprintf("an event of %d bytes", len(a.Data))
			case Fault:
				got = describe(a)
			default:
				continue
			}
			break
		}
		runtime.ReadMemStats(&after)
		return got, after.TotalAlloc - before.TotalAlloc
	}
	got, allocated := run(limit - 10)
	if want := faultOf(&TooLargeError{Limit: limit}, true, 0); got != want {
		t.Errorf("a line of %d bad bytes under a limit of %d: got %s; want %s", limit-10, limit, got, want)
	}
	// Reading the line costs about three times its size (chunks, then one
	// buffer); its repaired form would cost three more.
	if allocated > 4*limit {
		t.Errorf("a line of %d bad bytes under a limit of %d: %d bytes allocated; want under %d, with no repaired form made", limit-10, limit, allocated, 4*limit)
	}
	if got, _ := run(limit / 3); got != fmt.Sprintf("an event of %d bytes", limit/3*3) {
		t.Errorf("a line of %d bad bytes under a limit of %d: got %s; want an event of %d bytes", limit/3, limit, got, limit/3*3)
	}
}

// TestEventHasID checks that an event tells an id field of its own, even an
// empty one, from none: only the first event below has none.
func TestEventHasID(t *testing.T) {
	s, err := NewStream("", WithErrorStrategy(AlwaysFail()), bodySource("id: 1\n\ndata: a\n\nid\ndata: b\n\nid: 7\ndata: c\n\n"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var got []Event
	for ev, err := range s.Events(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ev)
	}
	want := []Event{
		{Type: "message", Data: "a", LastEventID: "1"},
		{Type: "message", Data: "b", HasID: true},
		{Type: "message", Data: "c", ID: "7", HasID: true, LastEventID: "7"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %+v; want %+v", got, want)
	}
}
