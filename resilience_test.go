package sse

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"
	"unicode/utf8"

	"github.com/ssekit/sse/ssetest"
)

// End-to-end tests against servers that misbehave: connections cut at
// random offsets, streams split into single bytes, huge lines, invalid
// UTF-8 and random bytes, large events, and many streams at once. Each
// checks exact results; what they exercise lives across stream.go,
// connect.go and internal/parser.

// TestResumeAfterRandomCuts sends 1,000 events; the server cuts the
// connection (HTTP/1.1) or resets the stream (HTTP/2) at 60 seeded random
// byte offsets, often inside an event or between the CR and LF of a CRLF,
// and the client resumes with Last-Event-ID. The handler must see every
// event exactly once, in order.
func TestResumeAfterRandomCuts(t *testing.T) {
	const n, cuts = 1000, 60
	rng := rand.New(rand.NewPCG(6, 1))

	// The stream with mixed line endings; start[k] is where event k+1
	// begins, and done[k] the offset at which it has been dispatched.
	var wire strings.Builder
	start, done := make([]int, n+1), make([]int, n)
	events := make([]ssetest.Event, n)
	for i := range n {
		events[i] = ssetest.Event{ID: strconv.Itoa(i + 1), Data: fmt.Sprintf("event %d\nsecond line", i+1)}
		if i%7 == 0 {
			events[i].Type = "odd"
		}
		eol := []string{"\n", "\r\n", "\r"}[i%3]
		start[i] = wire.Len()
		wire.WriteString(strings.ReplaceAll(ssetest.Encode(events[i]), "\n", eol))
		done[i] = wire.Len() - len(eol) + 1 // the blank line's first byte dispatches
	}
	start[n] = wire.Len()
	full := wire.String()

	offsets := make([]int, 0, cuts)
	for _, off := range rng.Perm(len(full) - 1)[:cuts] {
		offsets = append(offsets, off+1)
	}
	slices.Sort(offsets)

	// The server resumes after the Last-Event-ID, cutting at the next
	// offset, until the offsets run out; then it sends the rest, and
	// answers 204 once nothing is left.
	var (
		mu      sync.Mutex
		next    int
		lastIDs []string
	)
	respond := ssetest.Responder(func(r *http.Request) ssetest.Response {
		mu.Lock()
		defer mu.Unlock()
		id := r.Header.Get("Last-Event-ID")
		lastIDs = append(lastIDs, id)
		from := 0
		if id != "" {
			k, err := strconv.Atoi(id)
			if err != nil {
				t.Errorf("Last-Event-ID %q", id)
			}
			from = start[k]
		}
		if from == len(full) {
			return ssetest.Response{Status: http.StatusNoContent}
		}
		if next == len(offsets) {
			return ssetest.Response{Steps: []ssetest.Step{ssetest.Write(full[from:])}}
		}
		cut := offsets[next]
		next++
		if cut <= from {
			t.Errorf("cut %d at %d is before the resumed offset %d", next, cut, from)
		}
		return ssetest.Response{Steps: []ssetest.Step{ssetest.Write(full[from:cut]), ssetest.Drop()}}
	})
	run(t, respond, func(t *testing.T, srv *httptest.Server) {
		mu.Lock()
		next, lastIDs = 0, nil
		mu.Unlock()
		d, err := New(srv.URL, WithHTTPClient(srv.Client()),
			WithErrorStrategy(AlwaysContinue()),
			WithInitialDelay(time.Millisecond), WithMinDelay(0), WithMaxDelay(time.Millisecond), WithJitter(0))
		if err != nil {
			t.Fatal(err)
		}
		var got []Event
		var faults []string
		d.OnEvent(func(_ context.Context, ev Event) { got = append(got, ev) })
		d.OnFault(func(_ context.Context, f Fault) {
			text := describe(f)
			if srv.EnableHTTP2 && strings.Contains(text, "stream error") {
				text = "fault cut" + text[strings.Index(text, " final="):] // a reset stream: HTTP/2's cut
			}
			faults = append(faults, text)
		})
		if err := d.Run(context.Background()); err != nil {
			t.Fatalf("Run: got %v; want nil: the final 204 is the server's stop, no failure", err)
		}

		if len(got) != n {
			t.Errorf("got %d events; want %d", len(got), n)
		}
		for i, ev := range got[:min(len(got), n)] {
			want := Event{Type: cmp.Or(events[i].Type, "message"), Data: events[i].Data, ID: events[i].ID, HasID: events[i].ID != "", LastEventID: events[i].ID}
			if ev != want {
				t.Fatalf("event %d: got %+v; want %+v", i+1, ev, want)
			}
		}

		// Every cut is one Fault; the Last-Event-ID after a cut names the
		// last event dispatched before it.
		wantIDs := []string{""}
		wantFaults := []string{}
		for _, cut := range offsets {
			k, _ := slices.BinarySearch(done, cut+1) // the events with done[i] <= cut
			id := ""
			if k > 0 {
				id = strconv.Itoa(k)
			}
			wantIDs = append(wantIDs, id)
			wantFaults = append(wantFaults, "fault cut final=false delay=1ms")
		}
		wantIDs = append(wantIDs, strconv.Itoa(n))
		wantFaults = append(wantFaults, "fault end final=false delay=1ms", "fault status 204 final=true delay=0s")
		checkActions(t, "Last-Event-ID of each request", lastIDs, wantIDs)
		checkActions(t, "faults", faults, wantFaults)
		if next != cuts {
			t.Errorf("server made %d cuts; want %d", next, cuts)
		}
	})
}

// splitStream is a stream that exercises the parser: a BOM, every line
// ending, comments, multi-line data, types, ids, an id-only block, retry,
// and an unfinished block at the end.
const splitStream = "\xEF\xBB\xBF: hello\r\n" +
	"event: add\r\nid: 1\r\ndata: one\r\ndata: two\r\n\r\n" +
	"data: plain\rretry: 250\r\r" +
	"id: 2\n\n" +
	"data\ndata:\ndata:  spaced\n\n" +
	": bye\nevent: x\nid\ndata: no id\n\n" +
	"data: unfinished\n"

var splitStreamWant = []string{
	"start 1",
	`comment " hello"`,
	`event add id="1" last="1" "one\ntwo" has_id`,
	`event message id="" last="1" "plain"`,
	`event message id="" last="2" "\n\n spaced"`,
	`comment " bye"`,
	`event x id="" last="" "no id" has_id`,
	"fault end final=false delay=250ms",
}

// TestSplitWritesYieldTheSameActions checks that a stream sent one byte per write gives
// the same actions as the same stream sent in one write, in memory (one
// byte per read, guaranteed) and over a socket.
func TestSplitWritesYieldTheSameActions(t *testing.T) {
	memory := func(step ssetest.Step) (string, []Option) {
		tr := &ssetest.Transport{Handler: ssetest.Sequence(ssetest.Response{Steps: []ssetest.Step{step}})}
		return "http://test/", []Option{WithHTTPClient(&http.Client{Transport: tr})}
	}
	socket := func(t *testing.T, step ssetest.Step) (string, []Option) {
		srv := ssetest.NewServer(ssetest.Sequence(ssetest.Response{Steps: []ssetest.Step{step}}))
		t.Cleanup(srv.Close)
		return srv.URL, []Option{WithHTTPClient(testClient(t))}
	}
	tests := []struct {
		name string
		open func(t *testing.T) (string, []Option)
	}{
		{"memory one write", func(*testing.T) (string, []Option) { return memory(ssetest.Write(splitStream)) }},
		{"memory one byte per write", func(*testing.T) (string, []Option) { return memory(ssetest.Trickle(splitStream, 1, 0)) }},
		{"source one byte per read", func(*testing.T) (string, []Option) {
			return "", []Option{WithSource(SourceFunc(func(context.Context, string) (io.ReadCloser, error) {
				return io.NopCloser(iotest.OneByteReader(strings.NewReader(splitStream))), nil
			}))}
		}},
		{"http one write", func(t *testing.T) (string, []Option) { return socket(t, ssetest.Write(splitStream)) }},
		{"http one byte per write", func(t *testing.T) (string, []Option) { return socket(t, ssetest.Trickle(splitStream, 1, 0)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url, opts := tt.open(t)
			s, err := NewStream(url, append(opts, WithJitter(0), WithErrorStrategy(AlwaysContinue()))...)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			checkActions(t, tt.name, pullToFault(t, s), splitStreamWant)
		})
	}
}

// TestHugeLineRefusedInBoundedMemory checks that a 64 MiB line against a 1 MiB limit
// fails the connection with a *TooLargeError after reading little more than
// the limit, and the heap grows by a small fraction of the line. So does
// event data of many lines that add up past the limit.
func TestHugeLineRefusedInBoundedMemory(t *testing.T) {
	const limit, line = 1 << 20, 64 << 20
	tests := []struct {
		name string
		body func() (io.Reader, *repeatReader)
	}{
		{"one line", func() (io.Reader, *repeatReader) {
			x := &repeatReader{b: 'x', n: line}
			return io.MultiReader(strings.NewReader("data: "), x, strings.NewReader("\n\n")), x
		}},
		{"many data lines", func() (io.Reader, *repeatReader) {
			x := &repeatReader{b: 'y', n: line}
			lines := strings.Repeat("data: "+strings.Repeat("z", 64<<10)+"\n", 64)
			return io.MultiReader(strings.NewReader(lines), x), x
		}},
	}
	for _, tt := range tests {
		for _, via := range []string{"source", "http"} {
			t.Run(tt.name+" via "+via, func(t *testing.T) {
				body, counter := tt.body()
				opts := []Option{WithErrorStrategy(AlwaysFail())}
				url := ""
				if via == "source" {
					opts = append(opts, WithSource(SourceFunc(func(context.Context, string) (io.ReadCloser, error) {
						return io.NopCloser(body), nil
					})))
				} else {
					srv := ssetest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
						w.Header().Set("Content-Type", "text/event-stream")
						io.Copy(w, body) // fails once the client hangs up
					}))
					defer srv.Close()
					url = srv.URL
					opts = append(opts, WithHTTPClient(testClient(t)))
				}
				s, err := NewStream(url, append(opts, WithMaxEventSize(limit))...)
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()

				runtime.GC()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				got := pullToFault(t, s)
				runtime.ReadMemStats(&after)

				checkActions(t, "actions", got, []string{"start 1", "fault too large 1048576 final=true delay=0s"})
				grown := after.TotalAlloc - before.TotalAlloc
				t.Logf("allocated %d bytes in all", grown)
				if grown > 8<<20 {
					t.Errorf("allocated %d bytes while refusing a %d byte line; want under 8 MiB", grown, line)
				}
				if via == "source" && counter.read > 2*limit { // over HTTP, the server goroutine reads it
					t.Errorf("read %d bytes of the line; want at most %d", counter.read, 2*limit)
				}
			})
		}
	}
}

// TestHostileBytes checks that invalid UTF-8 is replaced as the
// WHATWG decoder does (one U+FFFD per maximal subpart), NUL bytes pass
// through data but void an id, and a BOM is stripped only at the very start:
// in a value it is U+FEFF, at the start of a later line it spoils the field
// name. Every read size gives the same result.
func TestHostileBytes(t *testing.T) {
	const in = "\xEF\xBB\xBFdata: lead bom\n\n" +
		"data: a\xFFb\n\n" +
		"data: \xF0\x9F\x98\n\n" + // a 4-byte sequence cut short: one subpart
		"data: \xC0\x80\n\n" + // C0 never starts a sequence
		"data: \xED\xA0\x80\n\n" + // a surrogate
		"data: \xE2\x82x\n\n" +
		"data: \xF4\x90\x80\x80\n\n" + // above U+10FFFF
		"data: \xE0\x80\xAF\n\n" + // overlong
		"data: \xF0\x9F\x98\x80 ok\n\n" +
		"data: nul\x00byte\n\n" +
		"id: a\x00b\ndata: nul id\n\n" +
		"data: mid\xEF\xBB\xBFbom\n\n" +
		"\xEF\xBB\xBFdata: bom field\n\n" +
		"da\xFFta: bad name\n\n" +
		"event: t\xFF\nid: \xFF\ndata: y\n\n" +
		":\xFFcomment\n" +
		"data: \xE2\x82"
	ev := func(typ, id, data string) string {
		return describe(Event{Type: typ, ID: id, HasID: id != "", LastEventID: id, Data: data})
	}
	want := []string{
		"start 1",
		ev("message", "", "lead bom"),
		ev("message", "", "a\uFFFDb"),
		ev("message", "", "\uFFFD"),
		ev("message", "", "\uFFFD\uFFFD"),
		ev("message", "", "\uFFFD\uFFFD\uFFFD"),
		ev("message", "", "\uFFFDx"),
		ev("message", "", "\uFFFD\uFFFD\uFFFD\uFFFD"),
		ev("message", "", "\uFFFD\uFFFD\uFFFD"),
		ev("message", "", "\U0001F600 ok"),
		ev("message", "", "nul\x00byte"),
		ev("message", "", "nul id"),
		ev("message", "", "mid\uFEFFbom"),
		ev("t\uFFFD", "\uFFFD", "y"),
		fmt.Sprintf("comment %q", "\uFFFDcomment"),
		"fault end final=true delay=0s",
	}
	for n := 1; n <= len(in); n++ {
		s, err := NewStream("", WithErrorStrategy(AlwaysFail()), WithSource(SourceFunc(func(context.Context, string) (io.ReadCloser, error) {
			return io.NopCloser(readsEvery(in, n)), nil
		})))
		if err != nil {
			t.Fatal(err)
		}
		got := pullToFault(t, s)
		if !slices.Equal(got, want) {
			t.Fatalf("reads of %d bytes:\ngot  %q\nwant %q", n, got, want)
		}
	}
}

// TestRandomBytesYieldValidUTF8 checks that a megabyte of seeded random
// bytes, with line breaks and field names mixed in, crashes nothing, and
// every string handed out is valid UTF-8.
func TestRandomBytesYieldValidUTF8(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	var b bytes.Buffer
	pieces := []string{"\n", "\r", "\r\n", "data:", "data: ", "id:", "event:", "retry:", ":", "\xEF\xBB\xBF", "\x00"}
	for b.Len() < 1<<20 {
		if rng.IntN(4) == 0 {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		} else {
			b.WriteByte(byte(rng.Uint32()))
		}
	}
	in := b.String()
	srv := ssetest.NewServer(ssetest.Sequence(ssetest.Response{Steps: []ssetest.Step{ssetest.Trickle(in, 4093, 0)}}))
	defer srv.Close()
	d, err := New(srv.URL, WithErrorStrategy(AlwaysFail()), WithHTTPClient(testClient(t)))
	if err != nil {
		t.Fatal(err)
	}
	events, comments := 0, 0
	d.OnEvent(func(_ context.Context, ev Event) {
		events++
		for _, s := range []string{ev.Type, ev.Data, ev.ID, ev.LastEventID} {
			if !utf8.ValidString(s) {
				t.Errorf("event %d has invalid UTF-8: %+q", events, s)
			}
		}
	})
	d.OnComment(func(_ context.Context, c Comment) {
		comments++
		if !utf8.ValidString(c.Text) {
			t.Errorf("comment %d has invalid UTF-8: %+q", comments, c.Text)
		}
	})
	var final Fault
	d.OnFault(func(_ context.Context, f Fault) { final = f })
	if err := d.Run(context.Background()); err != nil {
		t.Fatalf("Run: got %v; want an orderly end", err)
	}
	if !final.Final || final.Err != nil || events < 1000 || comments < 1000 {
		t.Errorf("got %d events, %d comments, last fault %+v; want over 1000 of each, then an orderly end", events, comments, final)
	}
}

// TestManyDispatchersOnOneServer has 500 dispatchers read one server at
// once, and checks that every stream arrives complete and in order.
func TestManyDispatchersOnOneServer(t *testing.T) {
	const streams, events = 500, 20
	srv := ssetest.NewServer(ssetest.Responder(func(r *http.Request) ssetest.Response {
		evs := make([]ssetest.Event, events)
		for i := range evs {
			evs[i] = ssetest.Event{ID: strconv.Itoa(i + 1), Data: r.URL.Path + "/" + strconv.Itoa(i+1)}
		}
		return ssetest.Response{Steps: []ssetest.Step{ssetest.Write(ssetest.Encode(evs[:events/2]...)), ssetest.Write(ssetest.Encode(evs[events/2:]...))}}
	}))
	defer srv.Close()
	client := testClient(t)
	var wg sync.WaitGroup
	errs := make(chan error, streams)
	for k := range streams {
		wg.Go(func() {
			path := "/s" + strconv.Itoa(k)
			d, err := New(srv.URL+path, WithErrorStrategy(AlwaysFail()), WithHTTPClient(client))
			if err != nil {
				errs <- err
				return
			}
			var got []string
			d.OnEvent(func(_ context.Context, ev Event) { got = append(got, ev.Data) })
			if err := d.Run(context.Background()); err != nil {
				errs <- fmt.Errorf("%s: Run: %w", path, err)
				return
			}
			for i := range events {
				if i >= len(got) || got[i] != path+"/"+strconv.Itoa(i+1) {
					errs <- fmt.Errorf("%s: got %q; want %d events %s/1 to %s/%d", path, got, events, path, path, events)
					return
				}
			}
			if len(got) != events {
				errs <- fmt.Errorf("%s: got %d events; want %d", path, len(got), events)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := len(srv.Requests()); n != streams {
		t.Errorf("server saw %d requests; want %d", n, streams)
	}
}

// TestLargeEventsKeepTheirData checks that events large enough for the parser to
// hand its buffer over keep their Data and ID intact, even after later
// events reuse or replace the buffers.
func TestLargeEventsKeepTheirData(t *testing.T) {
	var events []ssetest.Event
	for i, size := range []int{5000, 4096, 9000, 10, 70000, 4097, 100} {
		ev := ssetest.Event{Data: strings.Repeat(string(rune('a'+i)), size)}
		if i%2 == 0 {
			ev.ID = strconv.Itoa(i)
		}
		events = append(events, ev)
	}
	wire := ssetest.Encode(events...)
	for _, n := range []int{1, 7, 4096, len(wire)} {
		s, err := NewStream("", WithErrorStrategy(AlwaysFail()), WithSource(SourceFunc(func(context.Context, string) (io.ReadCloser, error) {
			return io.NopCloser(readsEvery(wire, n)), nil
		})))
		if err != nil {
			t.Fatal(err)
		}
		var got []Event
		for ev, err := range s.Events(context.Background()) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, ev)
		}
		last := ""
		for i, ev := range got {
			if ev.ID != "" {
				last = ev.ID
			}
			if i >= len(events) {
				t.Fatalf("reads of %d bytes: got more than the %d events sent", n, len(events))
			}
			want := Event{Type: "message", Data: events[i].Data, ID: events[i].ID, HasID: events[i].ID != "", LastEventID: last}
			if ev != want {
				t.Fatalf("reads of %d bytes, event %d: got type %q, %d bytes of data %.10q…, id %.20q, last %.20q; want %d bytes of %.10q…, id %q, last %.20q",
					n, i, ev.Type, len(ev.Data), ev.Data, ev.ID, ev.LastEventID, len(want.Data), want.Data, want.ID, want.LastEventID)
			}
		}
		if len(got) != len(events) {
			t.Errorf("reads of %d bytes: got %d events; want %d", n, len(got), len(events))
		}
	}
}
