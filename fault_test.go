package sse

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

	"github.com/ssekit/sse/ssetest"
)

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
		d, err := New(srv.URL, WithErrorStrategy(AlwaysFail()), WithHTTPClient(srv.Client()),
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
			[]string{"start 1", `event message id="1" last="1" "a" has_id`, `comment " ping"`, "fault timeout 30s final=false delay=1s", "start 2", `event message id="2" last="2" "b" has_id`, "fault end final=true delay=0s"}},
		{"during connect", ssetest.Response{Steps: []ssetest.Step{ssetest.Stall()}},
			[]string{"fault timeout 30s final=false delay=1s", "start 2", `event message id="2" last="2" "b" has_id`, "fault end final=true delay=0s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				begin := time.Now()
				var at []time.Duration // when each request arrived
				tr := &ssetest.Transport{Handler: ssetest.Sequence(tt.first, ssetest.Response{Steps: []ssetest.Step{ssetest.Write("id: 2\ndata: b\n\n")}})}
				client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
					at = append(at, time.Since(begin)) // on the dispatcher goroutine
					return tr.RoundTrip(r)
				})}
				d, err := New("http://test/", WithErrorStrategy(AlwaysFail()), WithHTTPClient(client), WithReadTimeout(30*time.Second),
					WithJitter(0), WithErrorStrategy(func(err error, _ int, _ time.Duration) bool { return err != nil }))
				if err != nil {
					t.Fatal(err)
				}
				var l recorder
				l.record(d)
				var faultAt time.Duration
				d.OnFault(func(context.Context, Fault) {
					if faultAt == 0 {
						faultAt = time.Since(begin)
					}
				})
				if err := d.Run(context.Background()); err != nil {
					t.Fatalf("Run: got %v; want nil after the orderly end", err)
				}
				checkActions(t, "actions", l.get(), tt.want)
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
	d, err := New(srv.URL, WithErrorStrategy(AlwaysFail()), WithHTTPClient(testClient(t)), WithReadTimeout(timeout),
		WithInitialDelay(time.Millisecond), WithMinDelay(0), WithJitter(0),
		WithErrorStrategy(func(err error, _ int, _ time.Duration) bool { return err != nil }))
	if err != nil {
		t.Fatal(err)
	}
	var l recorder
	l.record(d)
	if err := d.Run(context.Background()); err != nil {
		t.Fatalf("Run: got %v; want nil", err)
	}
	checkActions(t, "actions", l.get(), []string{"start 1", `event message id="1" last="1" "a" has_id`,
		"fault timeout 50ms final=false delay=1ms", "start 2", `event message id="2" last="2" "b" has_id`, "fault end final=true delay=0s"})
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
	`event add id="1" last="1" "one\ntwo" has_id`,
	`event message id="" last="1" "plain"`,
	`event message id="" last="2" "\n\n spaced"`,
	`comment " bye"`,
	`event x id="" last="" "no id" has_id`,
	"fault end final=false delay=250ms",
}

// TestFaultOneByte is scenario 3: a stream sent one byte per write gives
// the same actions as the same stream sent in one write, in memory (one
// byte per read, guaranteed) and over a socket.
func TestFaultOneByte(t *testing.T) {
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
		{"memory one write", func(*testing.T) (string, []Option) { return memory(ssetest.Write(faultStream)) }},
		{"memory one byte per write", func(*testing.T) (string, []Option) { return memory(ssetest.Trickle(faultStream, 1, 0)) }},
		{"source one byte per read", func(*testing.T) (string, []Option) {
			return "", []Option{WithSource(SourceFunc(func(context.Context, string) (io.ReadCloser, error) {
				return io.NopCloser(iotest.OneByteReader(strings.NewReader(faultStream))), nil
			}))}
		}},
		{"http one write", func(t *testing.T) (string, []Option) { return socket(t, ssetest.Write(faultStream)) }},
		{"http one byte per write", func(t *testing.T) (string, []Option) { return socket(t, ssetest.Trickle(faultStream, 1, 0)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url, opts := tt.open(t)
			s, err := NewStream(url, append(opts, WithJitter(0), WithErrorStrategy(AlwaysContinue()))...)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			checkActions(t, tt.name, pullToFault(t, s), faultStreamWant)
		})
	}
}

// TestFaultHugeLine is scenario 4: a 64 MiB line against a 1 MiB limit
// fails the connection with a *TooLargeError after reading little more than
// the limit, and the heap grows by a small fraction of the line. So does
// event data of many lines that add up past the limit.
func TestFaultHugeLine(t *testing.T) {
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
		strategy  ErrorStrategy
		answers   []answer // the last one repeats
		faults    []string
		requestAt []time.Duration // when each request arrived
	}{
		{"503 storm then a long connection",
			AlwaysContinue(),
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
			AlwaysContinue(),
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
			ContinueWithMaxAttempts(3),
			[]answer{{0, 0}},
			[]string{
				"fault refused final=false delay=1s", "fault refused final=false delay=2s",
				"fault refused final=false delay=4s", "fault refused final=true delay=0s",
			},
			[]time.Duration{0, 1 * time.Second, 3 * time.Second, 7 * time.Second},
		},
		{"503 and refusals until the time limit",
			ContinueWithTimeLimit(10 * time.Second),
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
				client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
					at = append(at, time.Since(begin))
					if tt.answers[min(len(at)-1, len(tt.answers)-1)].status == 0 {
						return nil, refusedError()
					}
					return tr.RoundTrip(r)
				})}
				resetAfter := time.Minute // the default
				if tt.name == "reset after a custom threshold" {
					resetAfter = 5 * time.Second
				}
				d, err := New("http://test/", WithErrorStrategy(AlwaysFail()), WithHTTPClient(client), WithErrorStrategy(tt.strategy),
					WithJitter(0), WithMaxDelay(8*time.Second), WithResetAfter(resetAfter))
				if err != nil {
					t.Fatal(err)
				}
				var faults []string
				d.OnFault(func(_ context.Context, f Fault) {
					faults = append(faults, describe(f))
					if got := d.NextRetryDelay(); got != f.RetryDelay {
						t.Errorf("NextRetryDelay() = %v in OnFault; want the Fault's %v", got, f.RetryDelay)
					}
				})
				// A final 204 is the server's stop, which Run does not report.
				serverStop := strings.Contains(tt.faults[len(tt.faults)-1], "status 204")
				if err := d.Run(context.Background()); (err == nil) != serverStop {
					t.Errorf("Run: got %v; want nil exactly when the server asked to stop", err)
				}
				checkActions(t, "faults", faults, tt.faults)
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
	d, err := New(url, WithErrorStrategy(AlwaysFail()), WithHTTPClient(testClient(t)), WithErrorStrategy(ContinueWithMaxAttempts(2)),
		WithInitialDelay(time.Millisecond), WithMinDelay(0), WithJitter(0))
	if err != nil {
		t.Fatal(err)
	}
	var faults []string
	d.OnFault(func(_ context.Context, f Fault) { faults = append(faults, describe(f)) })
	if err := d.Start(context.Background()); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("Start: got %v; want ECONNREFUSED", err)
	}
	if err := d.Wait(); !errors.Is(err, syscall.ECONNREFUSED) { // Start may return before OnFault runs
		t.Errorf("Wait: got %v; want ECONNREFUSED", err)
	}
	checkActions(t, "faults", faults, []string{"fault refused final=false delay=1ms", "fault refused final=false delay=2ms", "fault refused final=true delay=0s"})
}

// TestFaultRedirectLoop is scenario 6, first half: a redirect loop fails
// with a *RedirectError once the bound is passed, after exactly bound+1
// requests.
func TestFaultRedirectLoop(t *testing.T) {
	for _, bound := range []int{0, 3, 10} {
		t.Run(strconv.Itoa(bound), func(t *testing.T) {
			srv := ssetest.NewServer(ssetest.Sequence(ssetest.Redirect(http.StatusFound, "/loop")))
			defer srv.Close()
			opts := []Option{WithErrorStrategy(AlwaysFail()), WithHTTPClient(testClient(t))}
			if bound != 10 {
				opts = append(opts, WithMaxRedirects(bound)) // 10 is the default
			}
			d, err := New(srv.URL+"/start", opts...)
			if err != nil {
				t.Fatal(err)
			}
			var re *RedirectError
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
			d, err := New(tt.from.URL+"/moved", WithErrorStrategy(AlwaysFail()), WithHTTPClient(testClient(t)),
				WithHeader("Authorization", "Bearer secret"), WithHeader("Cookie", "session=1"),
				WithHeader("X-Keep", "yes"))
			if err != nil {
				t.Fatal(err)
			}
			var l recorder
			l.record(d)
			if err := d.Run(context.Background()); err != nil {
				t.Fatalf("Run: got %v; want nil", err)
			}
			checkActions(t, "actions", l.get(), []string{"start 1", `event message id="" last="" "here"`, "fault end final=true delay=0s"})
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

// TestFaultHandlers is scenario 8: handlers that panic, in OnEvent,
// OnStart or OnFault, become Faults (or a log entry, for OnFault) and
// change nothing else; the other handlers still run, in order.
func TestFaultHandlers(t *testing.T) {
	srv := ssetest.NewServer(ssetest.Sequence(ssetest.Response{Steps: []ssetest.Step{
		ssetest.Write(ssetest.Encode(ssetest.Event{ID: "1", Data: "a"}, ssetest.Event{ID: "2", Data: "boom"}, ssetest.Event{ID: "3", Data: "c"}))}}))
	defer srv.Close()
	logger, hook := logtest.NewNullLogger()
	d, err := New(srv.URL, WithErrorStrategy(AlwaysFail()), WithHTTPClient(testClient(t)), WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	var l recorder
	d.OnStart(func(context.Context, Start) { panic("start") })
	d.OnEvent(func(_ context.Context, ev Event) {
		l.add("first %s", ev.Data)
		if ev.Data == "boom" {
			panic(ev.Data)
		}
	})
	d.OnFault(func(_ context.Context, f Fault) {
		l.add("%s", describe(f))
		if !f.Final {
			panic("in OnFault")
		}
	})
	d.OnEvent(func(_ context.Context, ev Event) { l.add("second %s", ev.Data) })
	if err := d.Run(context.Background()); err != nil {
		t.Fatalf("Run: got %v; want nil", err)
	}
	checkActions(t, "handler calls", l.get(), []string{
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
		d, err := New(srv.URL, WithErrorStrategy(AlwaysFail()), WithHTTPClient(testClient(t)))
		if err != nil {
			t.Fatal(err)
		}
		release := make(chan struct{})
		var got []string
		d.OnEvent(func(_ context.Context, ev Event) {
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
		d, err := New(srv.URL+"/stall", WithErrorStrategy(AlwaysFail()), WithHTTPClient(testClient(t)))
		if err != nil {
			t.Fatal(err)
		}
		entered := make(chan struct{})
		var cause error
		d.OnEvent(func(ctx context.Context, _ Event) {
			close(entered)
			<-ctx.Done()
			cause = context.Cause(ctx)
		})
		d.OnFault(func(_ context.Context, f Fault) { t.Errorf("got %s; want no Fault after Close", describe(f)) })
		if err := d.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		<-entered
		d.Close() // returns once the handler has
		if !errors.Is(cause, ErrClosed) {
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
	d, err := New(srv.URL, WithErrorStrategy(AlwaysFail()), WithHTTPClient(testClient(t)))
	if err != nil {
		t.Fatal(err)
	}
	var l recorder
	d.OnEvent(func(_ context.Context, ev Event) {
		l.add("first %s", ev.ID)
		if ev.ID == "2" {
			l.add("wait %v", d.Wait())
			l.add("close %v", d.Close())
			l.add("close again %v", d.Close())
		}
	})
	d.OnEvent(func(_ context.Context, ev Event) { l.add("second %s", ev.ID) })
	d.OnFault(func(_ context.Context, f Fault) { l.add("%s", describe(f)) })
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
	checkActions(t, "handler calls", l.get(), []string{
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
	d, err := New(srv.URL, WithErrorStrategy(AlwaysFail()), WithHTTPClient(testClient(t)), WithErrorStrategy(AlwaysContinue()),
		WithInitialDelay(time.Millisecond), WithMinDelay(0), WithJitter(0))
	if err != nil {
		t.Fatal(err)
	}
	var l recorder
	l.record(d)
	d.OnEvent(func(_ context.Context, ev Event) {
		if ev.ID == "3" {
			d.Interrupt()
		}
	})
	if err := d.Run(context.Background()); err != nil {
		t.Fatalf("Run: got %v; want nil: the final 204 is the server's stop", err)
	}
	want := []string{"start 1"}
	for i := range 3 {
		want = append(want, fmt.Sprintf(`event message id="%d" last="%d" "e%d" has_id`, i+1, i+1, i+1))
	}
	want = append(want, "fault interrupted final=false delay=1ms", "start 2")
	for i := 3; i < 10; i++ {
		want = append(want, fmt.Sprintf(`event message id="%d" last="%d" "e%d" has_id`, i+1, i+1, i+1))
	}
	// The Interrupt was the caller's, so it does not add to the backoff's growth.
	want = append(want, `event message id="" last="10" "tail"`, "fault end final=false delay=1ms", "fault status 204 final=true delay=0s")
	checkActions(t, "actions", l.get(), want)
	checkActions(t, "Last-Event-ID headers", headerValues(srv.Requests(), "Last-Event-ID"), []string{"", "3", "10"})
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
			waitFor(t, "the request", func() bool { return len(srv.Requests()) == 1 })
		}, nil},
		{"read", []ssetest.Step{ssetest.Write(": hi\n"), ssetest.Stall()}, func(t *testing.T, _ *ssetest.Server, _ func() int) {
			waitInPhase(t, "parser.(*Parser).fill", "net/http.(*body).Read")
		}, nil},
		{"backoff", nil, func(t *testing.T, _ *ssetest.Server, faults func() int) {
			waitFor(t, "the 503", func() bool { return faults() == 1 })
			waitInPhase(t, "sse.(*Stream).sleep")
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
				client := testClient(t)
				defer client.Transport.(*http.Transport).CloseIdleConnections()
				d, err := New(srv.URL, WithErrorStrategy(AlwaysFail()), WithHTTPClient(client), WithErrorStrategy(AlwaysContinue()),
					WithInitialDelay(time.Hour), WithMaxDelay(time.Hour), WithJitter(0))
				if err != nil {
					t.Fatal(err)
				}
				var l recorder
				d.OnFault(func(_ context.Context, f Fault) { l.add("%s", describe(f)) })
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				started := make(chan error, 1)
				go func() { started <- d.Start(ctx) }()
				ph.reached(t, srv, func() int { return len(l.get()) })

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
				} else if want := map[string]error{"Close": ErrClosed, "cancel": context.Canceled}[how]; !errors.Is(err, want) {
					t.Errorf("Start: got %v; want %v", err, want)
				}
				checkActions(t, "faults", l.get(), ph.faults)
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
		d, err := New("http://test/", WithErrorStrategy(AlwaysFail()), WithHTTPClient(client), WithReadTimeout(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		var l recorder
		l.record(d)
		d.OnEvent(func(context.Context, Event) { time.Sleep(time.Minute) }, "message")
		if err := d.Run(context.Background()); err != nil {
			t.Fatalf("Run: got %v; want nil", err)
		}
		checkActions(t, "actions", l.get(), []string{"start 1", `event message id="1" last="1" "slow" has_id`,
			`comment " ping"`, `comment " ping"`, `comment " ping"`, `event message id="2" last="2" "after" has_id`,
			"fault end final=true delay=0s"})
	})
}
