package sse_test

// Fault injection: the ten scenarios of the reliability issue, each with
// exact assertions. Servers come from ssetest: loopback httptest servers for
// real sockets, and ssetest.Transport inside testing/synctest bubbles for
// anything timed, since fake time stops at real sockets.

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/iotest"
	"testing/synctest"
	"time"
	"unicode/utf8"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"go.uber.org/goleak"

	"github.com/ssekit/sse"
	"github.com/ssekit/sse/ssetest"
)

// faultClient returns an HTTP client with a transport of its own, whose idle
// connections close when the test ends, so no keep-alive goroutine outlives it.
func faultClient(t testing.TB) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 1000}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// faultLog records what a dispatcher's handlers see, in order, as text.
type faultLog struct {
	mu  sync.Mutex
	log []string
}

func (l *faultLog) add(format string, args ...any) {
	l.mu.Lock()
	l.log = append(l.log, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

func (l *faultLog) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.log)
}

// faultText names a Fault's error by kind, for exact comparisons.
func faultText(f sse.Fault) string {
	var (
		se *sse.StatusError
		te *sse.TimeoutError
		tl *sse.TooLargeError
		re *sse.RedirectError
		pe *sse.PanicError
	)
	var what string
	switch err := f.Err; {
	case err == nil:
		what = "end"
	case errors.As(err, &se):
		what = fmt.Sprintf("status %d", se.Code)
	case errors.As(err, &te):
		what = fmt.Sprintf("timeout %v", te.After)
	case errors.As(err, &tl):
		what = fmt.Sprintf("too large %d", tl.Limit)
	case errors.As(err, &re):
		what = fmt.Sprintf("redirects %d", re.Limit)
	case errors.As(err, &pe):
		what = fmt.Sprintf("panic %v", pe.Value)
	case errors.Is(err, sse.ErrInterrupted):
		what = "interrupted"
	case errors.Is(err, io.ErrUnexpectedEOF):
		what = "cut"
	case errors.Is(err, syscall.ECONNREFUSED):
		what = "refused"
	default:
		what = "other " + err.Error()
	}
	return fmt.Sprintf("fault %s final=%v delay=%v", what, f.Final, f.RetryDelay)
}

// actionText describes one action for exact comparisons; the fault and
// fuzz tests share it.
func actionText(a sse.Action) string {
	switch a := a.(type) {
	case sse.Start:
		return fmt.Sprintf("start %d", a.Attempt)
	case sse.Event:
		return fmt.Sprintf("event %s id=%q last=%q %q", a.Type, a.ID, a.LastEventID, a.Data)
	case sse.Comment:
		return fmt.Sprintf("comment %q", a.Text)
	case sse.Fault:
		return faultText(a)
	}
	return fmt.Sprintf("unknown action %T", a)
}

// record registers handlers that write every action to l.
func (l *faultLog) record(d *sse.Dispatcher) {
	d.OnStart(func(_ context.Context, s sse.Start) { l.add("%s", actionText(s)) })
	d.OnEvent(func(_ context.Context, ev sse.Event) { l.add("%s", actionText(ev)) })
	d.OnComment(func(_ context.Context, c sse.Comment) { l.add("%s", actionText(c)) })
	d.OnFault(func(_ context.Context, f sse.Fault) { l.add("%s", actionText(f)) })
}

// faultActions ranges over s until its first Fault and describes every
// action as faultLog does.
func faultActions(t testing.TB, s *sse.Stream) []string {
	t.Helper()
	var out []string
	for a := range s.All(context.Background()) {
		out = append(out, actionText(a))
		if _, ok := a.(sse.Fault); ok {
			return out
		}
	}
	return out
}

func faultDiff(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\ngot  %q\nwant %q", what, got, want)
	}
}

// TestFaultRandomCuts is scenario 1: 1,000 events, the server cuts the
// connection (HTTP/1.1) or resets the stream (HTTP/2) at 60 seeded random
// byte offsets, often inside an event or between the CR and LF of a CRLF,
// and the client resumes with Last-Event-ID. The handler must see every
// event exactly once, in order.
func TestFaultRandomCuts(t *testing.T) {
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

	for _, proto := range []string{"HTTP/1.1", "HTTP/2"} {
		t.Run(proto, func(t *testing.T) {
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
			url, client := faultServe(t, proto, respond)

			d, err := sse.New(url, sse.WithErrorStrategy(sse.AlwaysFail()), sse.WithHTTPClient(client),
				sse.WithErrorStrategy(sse.AlwaysContinue()),
				sse.WithInitialDelay(time.Millisecond), sse.WithMinDelay(0), sse.WithMaxDelay(time.Millisecond), sse.WithJitter(0))
			if err != nil {
				t.Fatal(err)
			}
			var got []sse.Event
			var faults []string
			d.OnEvent(func(_ context.Context, ev sse.Event) { got = append(got, ev) })
			d.OnFault(func(_ context.Context, f sse.Fault) {
				text := faultText(f)
				if proto == "HTTP/2" && strings.Contains(text, "stream error") {
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
				want := sse.Event{Type: cmp.Or(events[i].Type, "message"), Data: events[i].Data, ID: events[i].ID, HasID: events[i].ID != "", LastEventID: events[i].ID}
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
			faultDiff(t, "Last-Event-ID of each request", lastIDs, wantIDs)
			faultDiff(t, "faults", faults, wantFaults)
			if next != cuts {
				t.Errorf("server made %d cuts; want %d", next, cuts)
			}

		})
	}
}

// faultServe serves h on a loopback server speaking proto, HTTP/1.1 or
// HTTP/2 (over TLS), and returns its URL and a client for it.
func faultServe(t *testing.T, proto string, h http.Handler) (string, *http.Client) {
	if proto == "HTTP/1.1" {
		srv := ssetest.NewServer(h)
		t.Cleanup(srv.Close)
		return srv.URL, faultClient(t)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	client := srv.Client()
	t.Cleanup(client.CloseIdleConnections)
	return srv.URL, client
}

// TestFaultStall is scenario 2: a server that stops sending, before or
// after its headers, trips the read timeout; the Fault carries a
// *TimeoutError and the stream reconnects. Under synctest the timeout
// fires exactly WithReadTimeout after the last byte.
func TestFaultStall(t *testing.T) {
	tests := []struct {
		name  string
		first ssetest.Response
		want  []string
	}{
		{"during read", ssetest.Response{Steps: []ssetest.Step{ssetest.Write("id: 1\ndata: a\n\n"), ssetest.Sleep(10 * time.Second), ssetest.Write(": ping\n"), ssetest.Stall()}},
			[]string{"start 1", `event message id="1" last="1" "a"`, `comment " ping"`, "fault timeout 30s final=false delay=1s", "start 2", `event message id="2" last="2" "b"`, "fault end final=true delay=0s"}},
		{"during connect", ssetest.Response{Steps: []ssetest.Step{ssetest.Stall()}},
			[]string{"fault timeout 30s final=false delay=1s", "start 2", `event message id="2" last="2" "b"`, "fault end final=true delay=0s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				begin := time.Now()
				var at []time.Duration // when each request arrived
				tr := &ssetest.Transport{Handler: ssetest.Sequence(tt.first, ssetest.Response{Steps: []ssetest.Step{ssetest.Write("id: 2\ndata: b\n\n")}})}
				client := &http.Client{Transport: faultRoundTripper(func(r *http.Request) (*http.Response, error) {
					at = append(at, time.Since(begin)) // on the dispatcher goroutine
					return tr.RoundTrip(r)
				})}
				d, err := sse.New("http://sse.test/", sse.WithErrorStrategy(sse.AlwaysFail()), sse.WithHTTPClient(client), sse.WithReadTimeout(30*time.Second),
					sse.WithJitter(0), sse.WithErrorStrategy(func(err error, _ int, _ time.Duration) bool { return err != nil }))
				if err != nil {
					t.Fatal(err)
				}
				var l faultLog
				l.record(d)
				var faultAt time.Duration
				d.OnFault(func(context.Context, sse.Fault) {
					if faultAt == 0 {
						faultAt = time.Since(begin)
					}
				})
				if err := d.Run(context.Background()); err != nil {
					t.Fatalf("Run: got %v; want nil after the orderly end", err)
				}
				faultDiff(t, "actions", l.lines(), tt.want)
				// The read timeout counts from the last byte: 10s + 30s with
				// a ping at 10s, 30s when nothing came at all.
				wantFault := 30 * time.Second
				if tt.name == "during read" {
					wantFault = 40 * time.Second
				}
				if faultAt != wantFault || !slices.Equal(at, []time.Duration{0, wantFault + time.Second}) {
					t.Errorf("fault at %v, requests at %v; want %v, [0s %v]", faultAt, at, wantFault, wantFault+time.Second)
				}
			})
		})
	}
}

// TestFaultStallHTTP is scenario 2 over a real socket: the stalled
// connection is cut by the read timeout and the stream resumes.
func TestFaultStallHTTP(t *testing.T) {
	srv := ssetest.NewServer(ssetest.Sequence(
		ssetest.Response{Steps: []ssetest.Step{ssetest.Write("id: 1\ndata: a\n\n"), ssetest.Stall()}},
		ssetest.Response{Steps: []ssetest.Step{ssetest.Write("id: 2\ndata: b\n\n")}},
	))
	defer srv.Close()
	const timeout = 50 * time.Millisecond
	d, err := sse.New(srv.URL, sse.WithErrorStrategy(sse.AlwaysFail()), sse.WithHTTPClient(faultClient(t)), sse.WithReadTimeout(timeout),
		sse.WithInitialDelay(time.Millisecond), sse.WithMinDelay(0), sse.WithJitter(0),
		sse.WithErrorStrategy(func(err error, _ int, _ time.Duration) bool { return err != nil }))
	if err != nil {
		t.Fatal(err)
	}
	var l faultLog
	l.record(d)
	if err := d.Run(context.Background()); err != nil {
		t.Fatalf("Run: got %v; want nil", err)
	}
	faultDiff(t, "actions", l.lines(), []string{"start 1", `event message id="1" last="1" "a"`,
		"fault timeout 50ms final=false delay=1ms", "start 2", `event message id="2" last="2" "b"`, "fault end final=true delay=0s"})
	if ids := headerValues(srv.Requests()[:2], "Last-Event-ID"); !slices.Equal(ids, []string{"", "1"}) {
		t.Errorf("Last-Event-ID headers: got %q; want [\"\" \"1\"]", ids)
	}
}

// faultStream is a stream that exercises the parser: a BOM, every line
// ending, comments, multi-line data, types, ids, an id-only block, retry,
// and an unfinished block at the end.
const faultStream = "\xEF\xBB\xBF: hello\r\n" +
	"event: add\r\nid: 1\r\ndata: one\r\ndata: two\r\n\r\n" +
	"data: plain\rretry: 250\r\r" +
	"id: 2\n\n" +
	"data\ndata:\ndata:  spaced\n\n" +
	": bye\nevent: x\nid\ndata: no id\n\n" +
	"data: unfinished\n"

var faultStreamWant = []string{
	"start 1",
	`comment " hello"`,
	`event add id="1" last="1" "one\ntwo"`,
	`event message id="" last="1" "plain"`,
	`event message id="" last="2" "\n\n spaced"`,
	`comment " bye"`,
	`event x id="" last="" "no id"`,
	"fault end final=false delay=250ms",
}

// TestFaultOneByte is scenario 3: a stream sent one byte per write gives
// the same actions as the same stream sent in one write, in memory (one
// byte per read, guaranteed) and over a socket.
func TestFaultOneByte(t *testing.T) {
	memory := func(step ssetest.Step) (string, []sse.Option) {
		tr := &ssetest.Transport{Handler: ssetest.Sequence(ssetest.Response{Steps: []ssetest.Step{step}})}
		return "http://sse.test/", []sse.Option{sse.WithHTTPClient(&http.Client{Transport: tr})}
	}
	socket := func(t *testing.T, step ssetest.Step) (string, []sse.Option) {
		srv := ssetest.NewServer(ssetest.Sequence(ssetest.Response{Steps: []ssetest.Step{step}}))
		t.Cleanup(srv.Close)
		return srv.URL, []sse.Option{sse.WithHTTPClient(faultClient(t))}
	}
	tests := []struct {
		name string
		open func(t *testing.T) (string, []sse.Option)
	}{
		{"memory one write", func(*testing.T) (string, []sse.Option) { return memory(ssetest.Write(faultStream)) }},
		{"memory one byte per write", func(*testing.T) (string, []sse.Option) { return memory(ssetest.Trickle(faultStream, 1, 0)) }},
		{"source one byte per read", func(*testing.T) (string, []sse.Option) {
			return "", []sse.Option{sse.WithSource(sse.SourceFunc(func(context.Context, string) (io.ReadCloser, error) {
				return io.NopCloser(iotest.OneByteReader(strings.NewReader(faultStream))), nil
			}))}
		}},
		{"http one write", func(t *testing.T) (string, []sse.Option) { return socket(t, ssetest.Write(faultStream)) }},
		{"http one byte per write", func(t *testing.T) (string, []sse.Option) { return socket(t, ssetest.Trickle(faultStream, 1, 0)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url, opts := tt.open(t)
			s, err := sse.NewStream(url, append(opts, sse.WithJitter(0), sse.WithErrorStrategy(sse.AlwaysContinue()))...)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			faultDiff(t, tt.name, faultActions(t, s), faultStreamWant)
		})
	}
}

// faultRepeat is a reader of n copies of one byte that holds no more than
// one read's worth of memory, and counts what was read.
type faultRepeat struct {
	b    byte
	n    int64
	read int64
}

func (r *faultRepeat) Read(p []byte) (int, error) {
	if r.read >= r.n {
		return 0, io.EOF
	}
	k := int(min(int64(len(p)), r.n-r.read))
	for i := range k {
		p[i] = r.b
	}
	r.read += int64(k)
	return k, nil
}

// TestFaultHugeLine is scenario 4: a 64 MiB line against a 1 MiB limit
// fails the connection with a *TooLargeError after reading little more than
// the limit, and the heap grows by a small fraction of the line. So does
// event data of many lines that add up past the limit.
func TestFaultHugeLine(t *testing.T) {
	const limit, line = 1 << 20, 64 << 20
	tests := []struct {
		name string
		body func() (io.Reader, *faultRepeat)
	}{
		{"one line", func() (io.Reader, *faultRepeat) {
			x := &faultRepeat{b: 'x', n: line}
			return io.MultiReader(strings.NewReader("data: "), x, strings.NewReader("\n\n")), x
		}},
		{"many data lines", func() (io.Reader, *faultRepeat) {
			x := &faultRepeat{b: 'y', n: line}
			lines := strings.Repeat("data: "+strings.Repeat("z", 64<<10)+"\n", 64)
			return io.MultiReader(strings.NewReader(lines), x), x
		}},
	}
	for _, tt := range tests {
		for _, via := range []string{"source", "http"} {
			t.Run(tt.name+" via "+via, func(t *testing.T) {
				body, counter := tt.body()
				opts := []sse.Option{sse.WithErrorStrategy(sse.AlwaysFail())}
				url := ""
				if via == "source" {
					opts = append(opts, sse.WithSource(sse.SourceFunc(func(context.Context, string) (io.ReadCloser, error) {
						return io.NopCloser(body), nil
					})))
				} else {
					srv := ssetest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
						w.Header().Set("Content-Type", "text/event-stream")
						io.Copy(w, body) // fails once the client hangs up
					}))
					defer srv.Close()
					url = srv.URL
					opts = append(opts, sse.WithHTTPClient(faultClient(t)))
				}
				s, err := sse.NewStream(url, append(opts, sse.WithMaxEventSize(limit))...)
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()

				runtime.GC()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				got := faultActions(t, s)
				runtime.ReadMemStats(&after)

				faultDiff(t, "actions", got, []string{"start 1", "fault too large 1048576 final=true delay=0s"})
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

// faultRoundTripper adapts a function to an http.RoundTripper.
type faultRoundTripper func(*http.Request) (*http.Response, error)

func (f faultRoundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// faultRefused is the error a dial to a closed port returns.
func faultRefused() error {
	return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
}

// TestFaultBackoff is scenario 5, on fake time: 503 storms and refused
// connections are retried after exactly the delays of the backoff
// (doubling from 1s, capped at 8s, no jitter), the strategy's limits hold,
// and a connection that stayed up for WithResetAfter starts the delays
// again from the base.
func TestFaultBackoff(t *testing.T) {
	type answer struct {
		status  int           // 0: refuse the connection
		stayFor time.Duration // for a 200: how long the stream lasts
	}
	tests := []struct {
		name      string
		strategy  sse.ErrorStrategy
		answers   []answer // the last one repeats
		faults    []string
		requestAt []time.Duration // when each request arrived
	}{
		{"503 storm then a long connection",
			sse.AlwaysContinue(),
			[]answer{{503, 0}, {503, 0}, {503, 0}, {503, 0}, {503, 0}, {503, 0}, {200, 0}, {200, 2 * time.Minute}, {503, 0}, {200, 10 * time.Second}, {204, 0}},
			[]string{
				"fault status 503 final=false delay=1s", "fault status 503 final=false delay=2s",
				"fault status 503 final=false delay=4s", "fault status 503 final=false delay=8s",
				"fault status 503 final=false delay=8s", "fault status 503 final=false delay=8s",
				"fault end final=false delay=8s", // up for no time: the backoff goes on
				"fault end final=false delay=1s", // up for 2m >= 1m: reset
				"fault status 503 final=false delay=2s",
				"fault end final=false delay=4s", // up for 10s < 1m: no reset
				"fault status 204 final=true delay=0s",
			},
			[]time.Duration{0, 1 * time.Second, 3 * time.Second, 7 * time.Second, 15 * time.Second, 23 * time.Second, 31 * time.Second,
				39 * time.Second, 39*time.Second + 2*time.Minute + 1*time.Second, 42*time.Second + 2*time.Minute,
				56*time.Second + 2*time.Minute},
		},
		{"reset after a custom threshold",
			sse.AlwaysContinue(),
			[]answer{{503, 0}, {503, 0}, {200, 10 * time.Second}, {503, 0}, {204, 0}},
			[]string{
				"fault status 503 final=false delay=1s", "fault status 503 final=false delay=2s",
				"fault end final=false delay=1s", // up for 10s >= 5s: reset
				"fault status 503 final=false delay=2s",
				"fault status 204 final=true delay=0s",
			},
			[]time.Duration{0, 1 * time.Second, 3 * time.Second, 14 * time.Second, 16 * time.Second},
		},
		{"refusals until the attempts run out",
			sse.ContinueWithMaxAttempts(3),
			[]answer{{0, 0}},
			[]string{
				"fault refused final=false delay=1s", "fault refused final=false delay=2s",
				"fault refused final=false delay=4s", "fault refused final=true delay=0s",
			},
			[]time.Duration{0, 1 * time.Second, 3 * time.Second, 7 * time.Second},
		},
		{"503 and refusals until the time limit",
			sse.ContinueWithTimeLimit(10 * time.Second),
			[]answer{{503, 0}, {0, 0}},
			[]string{
				"fault status 503 final=false delay=1s", "fault refused final=false delay=2s",
				"fault refused final=false delay=4s", "fault refused final=false delay=8s",
				"fault refused final=true delay=0s", // 15s after the first failure
			},
			[]time.Duration{0, 1 * time.Second, 3 * time.Second, 7 * time.Second, 15 * time.Second},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				begin := time.Now()
				var at []time.Duration
				tr := &ssetest.Transport{Handler: ssetest.Responder(func(*http.Request) ssetest.Response {
					a := tt.answers[min(len(at)-1, len(tt.answers)-1)]
					return ssetest.Response{Status: a.status, Steps: []ssetest.Step{ssetest.Write("data: up\n\n"), ssetest.Sleep(a.stayFor)}}
				})}
				client := &http.Client{Transport: faultRoundTripper(func(r *http.Request) (*http.Response, error) {
					at = append(at, time.Since(begin))
					if tt.answers[min(len(at)-1, len(tt.answers)-1)].status == 0 {
						return nil, faultRefused()
					}
					return tr.RoundTrip(r)
				})}
				resetAfter := time.Minute // the default
				if tt.name == "reset after a custom threshold" {
					resetAfter = 5 * time.Second
				}
				d, err := sse.New("http://sse.test/", sse.WithErrorStrategy(sse.AlwaysFail()), sse.WithHTTPClient(client), sse.WithErrorStrategy(tt.strategy),
					sse.WithJitter(0), sse.WithMaxDelay(8*time.Second), sse.WithResetAfter(resetAfter))
				if err != nil {
					t.Fatal(err)
				}
				var faults []string
				d.OnFault(func(_ context.Context, f sse.Fault) {
					faults = append(faults, faultText(f))
					if got := d.NextRetryDelay(); got != f.RetryDelay {
						t.Errorf("NextRetryDelay() = %v in OnFault; want the Fault's %v", got, f.RetryDelay)
					}
				})
				// A final 204 is the server's stop, which Run does not report.
				serverStop := strings.Contains(tt.faults[len(tt.faults)-1], "status 204")
				if err := d.Run(context.Background()); (err == nil) != serverStop {
					t.Errorf("Run: got %v; want nil exactly when the server asked to stop", err)
				}
				faultDiff(t, "faults", faults, tt.faults)
				if !slices.Equal(at, tt.requestAt) {
					t.Errorf("requests at\ngot  %v\nwant %v", at, tt.requestAt)
				}
			})
		})
	}
}

// TestFaultRefusedHTTP is scenario 5 against a real closed port.
func TestFaultRefusedHTTP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String() + "/"
	ln.Close()
	d, err := sse.New(url, sse.WithErrorStrategy(sse.AlwaysFail()), sse.WithHTTPClient(faultClient(t)), sse.WithErrorStrategy(sse.ContinueWithMaxAttempts(2)),
		sse.WithInitialDelay(time.Millisecond), sse.WithMinDelay(0), sse.WithJitter(0))
	if err != nil {
		t.Fatal(err)
	}
	var faults []string
	d.OnFault(func(_ context.Context, f sse.Fault) { faults = append(faults, faultText(f)) })
	if err := d.Start(context.Background()); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("Start: got %v; want ECONNREFUSED", err)
	}
	if err := d.Wait(); !errors.Is(err, syscall.ECONNREFUSED) { // Start may return before OnFault runs
		t.Errorf("Wait: got %v; want ECONNREFUSED", err)
	}
	faultDiff(t, "faults", faults, []string{"fault refused final=false delay=1ms", "fault refused final=false delay=2ms", "fault refused final=true delay=0s"})
}

// TestFaultRedirectLoop is scenario 6, first half: a redirect loop fails
// with a *RedirectError once the bound is passed, after exactly bound+1
// requests.
func TestFaultRedirectLoop(t *testing.T) {
	for _, bound := range []int{0, 3, 10} {
		t.Run(strconv.Itoa(bound), func(t *testing.T) {
			srv := ssetest.NewServer(ssetest.Sequence(ssetest.Redirect(http.StatusFound, "/loop")))
			defer srv.Close()
			opts := []sse.Option{sse.WithErrorStrategy(sse.AlwaysFail()), sse.WithHTTPClient(faultClient(t))}
			if bound != 10 {
				opts = append(opts, sse.WithMaxRedirects(bound)) // 10 is the default
			}
			d, err := sse.New(srv.URL+"/start", opts...)
			if err != nil {
				t.Fatal(err)
			}
			var re *sse.RedirectError
			if err := d.Start(context.Background()); !errors.As(err, &re) {
				t.Fatalf("Start: got %v; want a *RedirectError", err)
			}
			if re.Limit != bound || !strings.HasSuffix(re.URL, "/loop") {
				t.Errorf("got %+v; want Limit %d and a URL ending in /loop", re, bound)
			}
			if n := len(srv.Requests()); n != bound+1 {
				t.Errorf("server saw %d requests; want %d", n, bound+1)
			}
		})
	}
}

// TestFaultRedirectCredentials is scenario 6, second half: a redirect to
// another host (127.0.0.1 to localhost) drops Authorization, Cookie and
// other headers of the caller's (they may carry a key); a redirect on the
// same host keeps them all.
func TestFaultRedirectCredentials(t *testing.T) {
	// stream serves the events at /stream and redirects /moved to to.
	stream := func(to string) *ssetest.Server {
		return ssetest.NewServer(ssetest.Responder(func(r *http.Request) ssetest.Response {
			if r.URL.Path == "/moved" {
				return ssetest.Redirect(http.StatusTemporaryRedirect, to)
			}
			return ssetest.Response{Steps: []ssetest.Step{ssetest.Write("data: here\n\n")}}
		}))
	}
	target := stream("")
	defer target.Close()
	otherHost := stream(strings.Replace(target.URL, "127.0.0.1", "localhost", 1) + "/stream")
	defer otherHost.Close()
	sameHost := stream("/stream")
	defer sameHost.Close()

	tests := []struct {
		name        string
		from, final *ssetest.Server
		want        [3]string // Authorization, Cookie, X-Keep at the final request
	}{
		{"other host", otherHost, target, [3]string{"", "", ""}},
		{"same host", sameHost, sameHost, [3]string{"Bearer secret", "session=1", "yes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := sse.New(tt.from.URL+"/moved", sse.WithErrorStrategy(sse.AlwaysFail()), sse.WithHTTPClient(faultClient(t)),
				sse.WithHeader("Authorization", "Bearer secret"), sse.WithHeader("Cookie", "session=1"),
				sse.WithHeader("X-Keep", "yes"))
			if err != nil {
				t.Fatal(err)
			}
			var l faultLog
			l.record(d)
			if err := d.Run(context.Background()); err != nil {
				t.Fatalf("Run: got %v; want nil", err)
			}
			faultDiff(t, "actions", l.lines(), []string{"start 1", `event message id="" last="" "here"`, "fault end final=true delay=0s"})
			reqs := tt.final.Requests()
			last := reqs[len(reqs)-1]
			if last.URL.Path != "/stream" {
				t.Fatalf("last request to %s; want /stream", last.URL.Path)
			}
			got := [3]string{last.Header.Get("Authorization"), last.Header.Get("Cookie"), last.Header.Get("X-Keep")}
			if got != tt.want {
				t.Errorf("Authorization, Cookie, X-Keep after the redirect: got %q; want %q", got, tt.want)
			}
			first := tt.from.Requests()[0]
			if first.Header.Get("Authorization") != "Bearer secret" || first.Header.Get("Cookie") != "session=1" {
				t.Errorf("first request lacks the credentials: %v", first.Header)
			}
		})
	}
}

// faultChunks splits s into reads of n bytes.
type faultChunks struct {
	s string
	n int
}

func (c *faultChunks) Read(p []byte) (int, error) {
	if len(c.s) == 0 {
		return 0, io.EOF
	}
	k := copy(p[:min(len(p), c.n)], c.s)
	c.s = c.s[k:]
	return k, nil
}

// TestFaultHostileBytes is scenario 7: invalid UTF-8 is replaced as the
// WHATWG decoder does (one U+FFFD per maximal subpart), NUL bytes pass
// through data but void an id, and a BOM is stripped only at the very start:
// in a value it is U+FEFF, at the start of a later line it spoils the field
// name. Every read size gives the same result.
func TestFaultHostileBytes(t *testing.T) {
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
		return actionText(sse.Event{Type: typ, ID: id, LastEventID: id, Data: data})
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
		s, err := sse.NewStream("", sse.WithErrorStrategy(sse.AlwaysFail()), sse.WithSource(sse.SourceFunc(func(context.Context, string) (io.ReadCloser, error) {
			return io.NopCloser(&faultChunks{s: in, n: n}), nil
		})))
		if err != nil {
			t.Fatal(err)
		}
		got := faultActions(t, s)
		if !slices.Equal(got, want) {
			t.Fatalf("reads of %d bytes:\ngot  %q\nwant %q", n, got, want)
		}
	}
}

// TestFaultRandomBytes is scenario 7 at scale: a megabyte of seeded random
// bytes, with line breaks and field names mixed in, crashes nothing, and
// every string handed out is valid UTF-8.
func TestFaultRandomBytes(t *testing.T) {
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
	d, err := sse.New(srv.URL, sse.WithErrorStrategy(sse.AlwaysFail()), sse.WithHTTPClient(faultClient(t)))
	if err != nil {
		t.Fatal(err)
	}
	events, comments := 0, 0
	d.OnEvent(func(_ context.Context, ev sse.Event) {
		events++
		for _, s := range []string{ev.Type, ev.Data, ev.ID, ev.LastEventID} {
			if !utf8.ValidString(s) {
				t.Errorf("event %d has invalid UTF-8: %+q", events, s)
			}
		}
	})
	d.OnComment(func(_ context.Context, c sse.Comment) {
		comments++
		if !utf8.ValidString(c.Text) {
			t.Errorf("comment %d has invalid UTF-8: %+q", comments, c.Text)
		}
	})
	var final sse.Fault
	d.OnFault(func(_ context.Context, f sse.Fault) { final = f })
	if err := d.Run(context.Background()); err != nil {
		t.Fatalf("Run: got %v; want an orderly end", err)
	}
	if !final.Final || final.Err != nil || events < 1000 || comments < 1000 {
		t.Errorf("got %d events, %d comments, last fault %+v; want over 1000 of each, then an orderly end", events, comments, final)
	}
}

// TestFaultHandlers is scenario 8: handlers that panic, in OnEvent,
// OnStart or OnFault, become Faults (or a log entry, for OnFault) and
// change nothing else; the other handlers still run, in order.
func TestFaultHandlers(t *testing.T) {
	srv := ssetest.NewServer(ssetest.Sequence(ssetest.Response{Steps: []ssetest.Step{
		ssetest.Write(ssetest.Encode(ssetest.Event{ID: "1", Data: "a"}, ssetest.Event{ID: "2", Data: "boom"}, ssetest.Event{ID: "3", Data: "c"}))}}))
	defer srv.Close()
	logger, hook := logtest.NewNullLogger()
	d, err := sse.New(srv.URL, sse.WithErrorStrategy(sse.AlwaysFail()), sse.WithHTTPClient(faultClient(t)), sse.WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	var l faultLog
	d.OnStart(func(context.Context, sse.Start) { panic("start") })
	d.OnEvent(func(_ context.Context, ev sse.Event) {
		l.add("first %s", ev.Data)
		if ev.Data == "boom" {
			panic(ev.Data)
		}
	})
	d.OnFault(func(_ context.Context, f sse.Fault) {
		l.add("%s", faultText(f))
		if !f.Final {
			panic("in OnFault")
		}
	})
	d.OnEvent(func(_ context.Context, ev sse.Event) { l.add("second %s", ev.Data) })
	if err := d.Run(context.Background()); err != nil {
		t.Fatalf("Run: got %v; want nil", err)
	}
	faultDiff(t, "handler calls", l.lines(), []string{
		"fault panic start final=false delay=0s",
		"first a", "second a",
		"first boom", "fault panic boom final=false delay=0s", "second boom",
		"first c", "second c",
		"fault end final=true delay=0s",
	})
	var onFaultPanics int
	for _, e := range hook.AllEntries() {
		if e.Level == logrus.ErrorLevel && e.Message == "sse: OnFault handler panicked" {
			onFaultPanics++
		}
	}
	if onFaultPanics != 2 {
		t.Errorf("logged %d OnFault panics; want 2", onFaultPanics)
	}
}

// TestFaultSlowHandler is scenario 8: a handler that blocks stalls the
// stream and loses nothing; a handler blocked when Close comes is released
// by its context, whose cause is ErrClosed.
func TestFaultSlowHandler(t *testing.T) {
	const n = 200
	events := make([]ssetest.Event, n)
	for i := range events {
		events[i] = ssetest.Event{ID: strconv.Itoa(i + 1), Data: strings.Repeat("x", i)}
	}
	srv := ssetest.NewServer(ssetest.Responder(func(r *http.Request) ssetest.Response {
		if r.URL.Path == "/stall" {
			return ssetest.Response{Steps: []ssetest.Step{ssetest.Write("data: wait\n\n"), ssetest.Stall()}}
		}
		return ssetest.Response{Steps: []ssetest.Step{ssetest.Write(ssetest.Encode(events...))}}
	}))
	defer srv.Close()

	t.Run("slow", func(t *testing.T) {
		d, err := sse.New(srv.URL, sse.WithErrorStrategy(sse.AlwaysFail()), sse.WithHTTPClient(faultClient(t)))
		if err != nil {
			t.Fatal(err)
		}
		release := make(chan struct{})
		var got []string
		d.OnEvent(func(_ context.Context, ev sse.Event) {
			if ev.ID == "1" {
				<-release
			}
			got = append(got, ev.ID)
		})
		if err := d.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		close(release)
		if err := d.Wait(); err != nil {
			t.Fatalf("Wait: got %v; want nil", err)
		}
		if len(got) != n || got[0] != "1" || got[n-1] != strconv.Itoa(n) {
			t.Fatalf("got %d events; want %d", len(got), n)
		}
		for i, id := range got {
			if id != strconv.Itoa(i+1) {
				t.Fatalf("event %d has id %s", i+1, id)
			}
		}
	})

	t.Run("blocked at Close", func(t *testing.T) {
		d, err := sse.New(srv.URL+"/stall", sse.WithErrorStrategy(sse.AlwaysFail()), sse.WithHTTPClient(faultClient(t)))
		if err != nil {
			t.Fatal(err)
		}
		entered := make(chan struct{})
		var cause error
		d.OnEvent(func(ctx context.Context, _ sse.Event) {
			close(entered)
			<-ctx.Done()
			cause = context.Cause(ctx)
		})
		d.OnFault(func(_ context.Context, f sse.Fault) { t.Errorf("got %s; want no Fault after Close", faultText(f)) })
		if err := d.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		<-entered
		d.Close() // returns once the handler has
		if !errors.Is(cause, sse.ErrClosed) {
			t.Errorf("handler's context ended with %v; want ErrClosed", cause)
		}
		if err := d.Wait(); err != nil {
			t.Errorf("Wait: got %v; want nil", err)
		}
	})
}

// TestFaultCloseFromHandler is scenario 8: Close called by a handler
// returns at once, no later handler runs, and Wait from a handler refuses
// to wait for itself.
func TestFaultCloseFromHandler(t *testing.T) {
	srv := ssetest.NewServer(ssetest.Sequence(ssetest.Response{Steps: []ssetest.Step{
		ssetest.Write(ssetest.Encode(ssetest.Event{ID: "1"}, ssetest.Event{ID: "2"}, ssetest.Event{ID: "3"})), ssetest.Stall()}}))
	defer srv.Close()
	d, err := sse.New(srv.URL, sse.WithErrorStrategy(sse.AlwaysFail()), sse.WithHTTPClient(faultClient(t)))
	if err != nil {
		t.Fatal(err)
	}
	var l faultLog
	d.OnEvent(func(_ context.Context, ev sse.Event) {
		l.add("first %s", ev.ID)
		if ev.ID == "2" {
			l.add("wait %v", d.Wait())
			l.add("close %v", d.Close())
			l.add("close again %v", d.Close())
		}
	})
	d.OnEvent(func(_ context.Context, ev sse.Event) { l.add("second %s", ev.ID) })
	d.OnFault(func(_ context.Context, f sse.Fault) { l.add("%s", faultText(f)) })
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the dispatcher did not stop after Close from a handler")
	}
	if err := d.Wait(); err != nil {
		t.Errorf("Wait: got %v; want nil", err)
	}
	faultDiff(t, "handler calls", l.lines(), []string{
		"first 1", "second 1", "first 2", "wait sse: already started", "close <nil>", "close again <nil>",
	})
}

// TestFaultInterruptFromHandler is scenario 8: Interrupt called by a
// handler reconnects with the last event ID, every event arrives exactly
// once, in order, and an event without an id after the reconnection
// reports the ID from before it.
func TestFaultInterruptFromHandler(t *testing.T) {
	events := make([]ssetest.Event, 10)
	for i := range events {
		events[i] = ssetest.Event{ID: strconv.Itoa(i + 1), Data: "e" + strconv.Itoa(i+1)}
	}
	var (
		mu    sync.Mutex
		calls int
	)
	srv := ssetest.NewServer(ssetest.Responder(func(r *http.Request) ssetest.Response {
		mu.Lock()
		defer mu.Unlock()
		calls++
		rest := ssetest.After(events, r.Header.Get("Last-Event-ID"))
		switch {
		case len(rest) == 0:
			return ssetest.Response{Status: http.StatusNoContent}
		case calls == 1:
			return ssetest.Response{Steps: []ssetest.Step{ssetest.Write(ssetest.Encode(rest[:3]...)), ssetest.Stall()}}
		}
		// An event without an id keeps the last event ID of the stream.
		return ssetest.Response{Steps: []ssetest.Step{ssetest.Write(ssetest.Encode(rest...) + "data: tail\n\n")}}
	}))
	defer srv.Close()
	d, err := sse.New(srv.URL, sse.WithErrorStrategy(sse.AlwaysFail()), sse.WithHTTPClient(faultClient(t)), sse.WithErrorStrategy(sse.AlwaysContinue()),
		sse.WithInitialDelay(time.Millisecond), sse.WithMinDelay(0), sse.WithJitter(0))
	if err != nil {
		t.Fatal(err)
	}
	var l faultLog
	l.record(d)
	d.OnEvent(func(_ context.Context, ev sse.Event) {
		if ev.ID == "3" {
			d.Interrupt()
		}
	})
	if err := d.Run(context.Background()); err != nil {
		t.Fatalf("Run: got %v; want nil: the final 204 is the server's stop", err)
	}
	want := []string{"start 1"}
	for i := range 3 {
		want = append(want, fmt.Sprintf(`event message id="%d" last="%d" "e%d"`, i+1, i+1, i+1))
	}
	want = append(want, "fault interrupted final=false delay=1ms", "start 2")
	for i := 3; i < 10; i++ {
		want = append(want, fmt.Sprintf(`event message id="%d" last="%d" "e%d"`, i+1, i+1, i+1))
	}
	// The Interrupt was the caller's, so it does not add to the backoff's growth.
	want = append(want, `event message id="" last="10" "tail"`, "fault end final=false delay=1ms", "fault status 204 final=true delay=0s")
	faultDiff(t, "actions", l.lines(), want)
	faultDiff(t, "Last-Event-ID headers", headerValues(srv.Requests(), "Last-Event-ID"), []string{"", "3", "10"})
}

// faultWaitFor polls cond until it holds, for liveness only: it fails the
// test after 10 seconds.
func faultWaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
	}
}

// faultInPhase waits, for up to two seconds, until some goroutine runs one
// of the functions named, to stop a dispatcher in the middle of what they
// do. A refactoring may rename them: the test then goes on without
// waiting, and checks liveness at whatever point the dispatcher is.
func faultInPhase(t *testing.T, fns ...string) {
	t.Helper()
	buf := make([]byte, 1<<20)
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); runtime.Gosched() {
		stacks := buf[:runtime.Stack(buf, true)]
		for _, fn := range fns {
			if bytes.Contains(stacks, []byte(fn)) {
				return
			}
		}
	}
	t.Logf("no goroutine runs any of %q; stopping the dispatcher anyway", fns)
}

// TestFaultStop is scenario 9: Close, and cancelling the context, while
// connecting, while reading and while waiting to reconnect all stop the
// dispatcher within 100 ms, without a Fault, and leave no goroutine behind.
func TestFaultStop(t *testing.T) {
	const limit = 100 * time.Millisecond
	phases := []struct {
		name  string
		steps []ssetest.Step
		// reached waits until the dispatcher is in the phase; faults
		// counts the Faults delivered so far.
		reached func(t *testing.T, srv *ssetest.Server, faults func() int)
		faults  []string
	}{
		{"connect", []ssetest.Step{ssetest.Stall()}, func(t *testing.T, srv *ssetest.Server, _ func() int) {
			faultWaitFor(t, "the request", func() bool { return len(srv.Requests()) == 1 })
		}, nil},
		{"read", []ssetest.Step{ssetest.Write(": hi\n"), ssetest.Stall()}, func(t *testing.T, _ *ssetest.Server, _ func() int) {
			faultInPhase(t, "parser.(*Parser).fill", "net/http.(*body).Read")
		}, nil},
		{"backoff", nil, func(t *testing.T, _ *ssetest.Server, faults func() int) {
			faultWaitFor(t, "the 503", func() bool { return faults() == 1 })
			faultInPhase(t, "sse.(*Stream).sleep")
		}, []string{"fault status 503 final=false delay=1h0m0s"}},
	}
	for _, ph := range phases {
		for _, how := range []string{"Close", "cancel"} {
			t.Run(ph.name+" "+how, func(t *testing.T) {
				defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
				resp := ssetest.Response{Steps: ph.steps}
				if ph.steps == nil {
					resp = ssetest.Response{Status: http.StatusServiceUnavailable}
				}
				srv := ssetest.NewServer(ssetest.Sequence(resp))
				defer srv.Close()
				client := faultClient(t)
				defer client.Transport.(*http.Transport).CloseIdleConnections()
				d, err := sse.New(srv.URL, sse.WithErrorStrategy(sse.AlwaysFail()), sse.WithHTTPClient(client), sse.WithErrorStrategy(sse.AlwaysContinue()),
					sse.WithInitialDelay(time.Hour), sse.WithMaxDelay(time.Hour), sse.WithJitter(0))
				if err != nil {
					t.Fatal(err)
				}
				var l faultLog
				d.OnFault(func(_ context.Context, f sse.Fault) { l.add("%s", faultText(f)) })
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				started := make(chan error, 1)
				go func() { started <- d.Start(ctx) }()
				ph.reached(t, srv, func() int { return len(l.lines()) })

				begin := time.Now()
				if how == "Close" {
					d.Close()
				} else {
					cancel()
				}
				select {
				case <-d.Done():
				case <-time.After(10 * time.Second):
					t.Fatal("the dispatcher did not stop")
				}
				took := time.Since(begin)
				t.Logf("stopped in %v", took)
				if took > limit {
					t.Errorf("%s took %v to stop the dispatcher; want under %v", how, took, limit)
				}
				if err := d.Wait(); err != nil {
					t.Errorf("Wait: got %v; want nil", err)
				}
				err = <-started
				if ph.name == "read" {
					if err != nil {
						t.Errorf("Start: got %v; want nil, the connection succeeded", err)
					}
				} else if want := map[string]error{"Close": sse.ErrClosed, "cancel": context.Canceled}[how]; !errors.Is(err, want) {
					t.Errorf("Start: got %v; want %v", err, want)
				}
				faultDiff(t, "faults", l.lines(), ph.faults)
			})
		}
	}
}

// TestFaultManyDispatchers is scenario 10: 500 dispatchers read one
// server at once, and every stream arrives complete and in order.
func TestFaultManyDispatchers(t *testing.T) {
	const streams, events = 500, 20
	srv := ssetest.NewServer(ssetest.Responder(func(r *http.Request) ssetest.Response {
		evs := make([]ssetest.Event, events)
		for i := range evs {
			evs[i] = ssetest.Event{ID: strconv.Itoa(i + 1), Data: r.URL.Path + "/" + strconv.Itoa(i+1)}
		}
		return ssetest.Response{Steps: []ssetest.Step{ssetest.Write(ssetest.Encode(evs[:events/2]...)), ssetest.Write(ssetest.Encode(evs[events/2:]...))}}
	}))
	defer srv.Close()
	client := faultClient(t)
	var wg sync.WaitGroup
	errs := make(chan error, streams)
	for k := range streams {
		wg.Go(func() {
			path := "/s" + strconv.Itoa(k)
			d, err := sse.New(srv.URL+path, sse.WithErrorStrategy(sse.AlwaysFail()), sse.WithHTTPClient(client))
			if err != nil {
				errs <- err
				return
			}
			var got []string
			d.OnEvent(func(_ context.Context, ev sse.Event) { got = append(got, ev.Data) })
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

// TestFaultLargeEvents checks that events large enough for the parser to
// hand its buffer over keep their Data and ID intact, even after later
// events reuse or replace the buffers.
func TestFaultLargeEvents(t *testing.T) {
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
		s, err := sse.NewStream("", sse.WithErrorStrategy(sse.AlwaysFail()), sse.WithSource(sse.SourceFunc(func(context.Context, string) (io.ReadCloser, error) {
			return io.NopCloser(&faultChunks{s: wire, n: n}), nil
		})))
		if err != nil {
			t.Fatal(err)
		}
		var got []sse.Event
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
			want := sse.Event{Type: "message", Data: events[i].Data, ID: events[i].ID, HasID: events[i].ID != "", LastEventID: last}
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

// TestFaultSlowHandlerReadTimeout is scenario 8 with a read timeout: a
// handler that takes longer than the timeout is not mistaken for a silent
// server, so no TimeoutError cuts the connection.
func TestFaultSlowHandlerReadTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client := &http.Client{Transport: &ssetest.Transport{Handler: ssetest.Sequence(ssetest.Response{Steps: []ssetest.Step{
			ssetest.Write("id: 1\ndata: slow\n\n"),
			ssetest.Trickle(": ping\n: ping\n: ping\n", 7, time.Second),
			ssetest.Write("id: 2\ndata: after\n\n"),
		}})}}
		d, err := sse.New("http://sse.test/", sse.WithErrorStrategy(sse.AlwaysFail()), sse.WithHTTPClient(client), sse.WithReadTimeout(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		var l faultLog
		l.record(d)
		d.OnEvent(func(context.Context, sse.Event) { time.Sleep(time.Minute) }, "message")
		if err := d.Run(context.Background()); err != nil {
			t.Fatalf("Run: got %v; want nil", err)
		}
		faultDiff(t, "actions", l.lines(), []string{"start 1", `event message id="1" last="1" "slow"`,
			`comment " ping"`, `comment " ping"`, `comment " ping"`, `event message id="2" last="2" "after"`,
			"fault end final=true delay=0s"})
	})
}
