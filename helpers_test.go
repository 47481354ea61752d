package sse

// The helpers every test of the root package shares: one way to describe
// an action, one recorder of what handlers see, one runner over HTTP/1.1
// and HTTP/2, one in-memory RoundTripper, and the scripted in-memory Source
// that timed tests run on inside testing/synctest. The external test
// package (fuzz and telemetry tests) reaches the few it needs through
// export_test.go.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"
)

// describe writes an action as one line, for exact comparisons of what a
// stream yields or what handlers see. A Fault's error is named by its kind
// and the data that kind carries, not by its text; an Event with an id
// field of its own ends in has_id, which an empty ID alone does not show.
func describe(a Action) string {
	switch a := a.(type) {
	case Start:
		return fmt.Sprintf("start %d", a.Attempt)
	case Event:
		s := fmt.Sprintf("event %s id=%q last=%q %q", a.Type, a.ID, a.LastEventID, a.Data)
		if a.HasID {
			s += " has_id"
		}
		return s
	case Comment:
		return fmt.Sprintf("comment %q", a.Text)
	case Fault:
		return fmt.Sprintf("fault %s final=%v delay=%v", errorKind(a.Err), a.Final, a.RetryDelay)
	}
	return fmt.Sprintf("unknown action %T", a)
}

// errorKind names how a connection ended, for describe.
func errorKind(err error) string {
	var (
		se *StatusError
		te *TimeoutError
		tl *TooLargeError
		re *RedirectError
		pe *PanicError
	)
	switch {
	case err == nil:
		return "end"
	case errors.As(err, &se):
		return fmt.Sprintf("status %d", se.Code)
	case errors.As(err, &te):
		return fmt.Sprintf("timeout %v", te.After)
	case errors.As(err, &tl):
		return fmt.Sprintf("too large %d", tl.Limit)
	case errors.As(err, &re):
		return fmt.Sprintf("redirects %d", re.Limit)
	case errors.As(err, &pe):
		return fmt.Sprintf("panic %v", pe.Value)
	case errors.Is(err, ErrInterrupted):
		return "interrupted"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "cut"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	}
	return "other " + err.Error()
}

// faultOf describes the Fault with err, final and delay.
func faultOf(err error, final bool, delay time.Duration) string {
	return describe(Fault{Err: err, Final: final, RetryDelay: delay})
}

// msg describes an event of the default type with data and no id.
func msg(data string) string { return describe(Event{Type: "message", Data: data}) }

// diffActions returns "" when got and want are equal, and otherwise where
// they first differ (with both lists, when they are short enough to read).
func diffActions(got, want []string) string {
	if slices.Equal(got, want) {
		return ""
	}
	i := 0
	for i < min(len(got), len(want)) && got[i] == want[i] {
		i++
	}
	at := func(l []string) string {
		if i < len(l) {
			return fmt.Sprintf("%.300q", l[i])
		}
		return "nothing"
	}
	s := fmt.Sprintf("action %d of %d (want %d):\ngot  %s\nwant %s", i, len(got), len(want), at(got), at(want))
	if len(got) <= 30 && len(want) <= 30 {
		s += fmt.Sprintf("\nall:\ngot  %q\nwant %q", got, want)
	}
	return s
}

// checkActions fails t when got is not want, naming what was compared.
func checkActions(t *testing.T, what string, got, want []string) {
	t.Helper()
	if d := diffActions(got, want); d != "" {
		t.Errorf("%s: %s", what, d)
	}
}

// recorder keeps lines of text in order of arrival from any goroutine:
// what handlers see on the dispatcher goroutine, for the test to read.
type recorder struct {
	mu    sync.Mutex
	lines []string
}

func (r *recorder) add(format string, args ...any) {
	r.mu.Lock()
	r.lines = append(r.lines, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

func (r *recorder) get() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.lines)
}

// record registers handlers on d that add every action, described.
func (r *recorder) record(d *Dispatcher) {
	d.OnStart(func(_ context.Context, s Start) { r.add("%s", describe(s)) })
	d.OnEvent(func(_ context.Context, ev Event) { r.add("%s", describe(ev)) })
	d.OnComment(func(_ context.Context, c Comment) { r.add("%s", describe(c)) })
	d.OnFault(func(_ context.Context, f Fault) { r.add("%s", describe(f)) })
}

// The HTTP modes run runs a test in.
const (
	http1 = "HTTP/1.1"
	http2 = "HTTP/2"
)

// run runs f once per HTTP mode, as a subtest named for the mode, with a
// loopback server serving h: HTTP/1.1 in the clear, HTTP/2 over TLS. f
// reaches the server through srv.Client(); srv.EnableHTTP2 tells the mode.
// Without modes, run uses both.
func run(t *testing.T, h http.Handler, f func(t *testing.T, srv *httptest.Server), modes ...string) {
	t.Helper()
	if len(modes) == 0 {
		modes = []string{http1, http2}
	}
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			srv := httptest.NewUnstartedServer(h)
			if mode == http2 {
				srv.EnableHTTP2 = true
				srv.StartTLS()
			} else {
				srv.Start()
			}
			defer srv.Close()
			defer srv.Client().CloseIdleConnections()
			f(t, srv)
		})
	}
}

// testClient returns an HTTP client with a transport of its own, whose idle
// connections close when the test ends, so no keep-alive goroutine outlives
// it. It suits ssetest servers, whose handlers it reaches on loopback.
func testClient(t testing.TB) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 1000}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// roundTripFunc is an in-memory http.RoundTripper, usable in a synctest
// bubble where fake time does not reach real sockets.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// memResponse returns an event stream response whose body is fed from the
// returned writer; the body fails once the request's context ends.
func memResponse(r *http.Request) (*http.Response, *io.PipeWriter) {
	pr, pw := io.Pipe()
	context.AfterFunc(r.Context(), func() { pw.CloseWithError(context.Cause(r.Context())) })
	return &http.Response{
		StatusCode: 200,
		Header:     http.Header{"Content-Type": {"text/event-stream"}},
		Body:       pr,
		Request:    r,
	}, pw
}

// refusedError is the error a dial to a closed port returns.
func refusedError() error {
	return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
}

// requestLog records what a server received.
type requestLog struct {
	mu   sync.Mutex
	reqs []recordedRequest
}

type recordedRequest struct {
	proto  int
	method string
	path   string
	header http.Header
	body   string
}

// record keeps r, body included, and returns how many requests came so far.
func (l *requestLog) record(r *http.Request) int {
	body, _ := io.ReadAll(r.Body)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reqs = append(l.reqs, recordedRequest{r.ProtoMajor, r.Method, r.URL.Path, r.Header.Clone(), string(body)})
	return len(l.reqs)
}

func (l *requestLog) get() []recordedRequest {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.reqs)
}

func (l *requestLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.reqs)
}

// headerValues returns the value of the header name in each request.
func headerValues(reqs []*http.Request, name string) []string {
	var out []string
	for _, r := range reqs {
		out = append(out, r.Header.Get(name))
	}
	return out
}

// eventStream writes the head of a successful event stream response.
func eventStream(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
}

// pullHTTP ranges over a Stream for srv's URL (plus path) with srv's client,
// and returns its actions.
func pullHTTP(t *testing.T, srv *httptest.Server, path string, n int, opts ...Option) ([]Action, *Stream) {
	t.Helper()
	s, err := NewStream(srv.URL+path, append([]Option{WithHTTPClient(srv.Client()), WithJitter(0), WithErrorStrategy(AlwaysFail())}, opts...)...)
	if err != nil {
		t.Fatalf("NewStream: %v", err)
	}
	defer s.Close()
	var got []Action
	for a := range s.All(t.Context()) {
		got = append(got, a)
		if len(got) == n {
			break
		}
	}
	return got, s
}

// lastFault returns the last Fault among actions.
func lastFault(actions []Action) (Fault, bool) {
	for i := len(actions) - 1; i >= 0; i-- {
		if f, ok := actions[i].(Fault); ok {
			return f, true
		}
	}
	return Fault{}, false
}

// pull ranges over s.All until it ends or n actions have arrived, and
// describes them.
func pull(ctx context.Context, s *Stream, n int) []string {
	var got []string
	for a := range s.All(ctx) {
		got = append(got, describe(a))
		if len(got) == n {
			break
		}
	}
	return got
}

// pullToFault ranges over s until its first Fault and describes every
// action, that Fault included.
func pullToFault(t testing.TB, s *Stream) []string {
	t.Helper()
	var out []string
	for a := range s.All(context.Background()) {
		out = append(out, describe(a))
		if _, ok := a.(Fault); ok {
			return out
		}
	}
	return out
}

// seconds returns each value as a Duration of that many seconds.
func seconds(s ...float64) []time.Duration {
	var d []time.Duration
	for _, v := range s {
		d = append(d, time.Duration(v*float64(time.Second)))
	}
	return d
}

// waitFor polls cond until it holds, for liveness only: it fails the test
// after 10 seconds, a bound no healthy run comes near.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
	}
}

// waitInPhase waits, for up to two seconds, until some goroutine runs one
// of the functions named, to stop a dispatcher in the middle of what they
// do. A refactoring may rename them: the test then goes on without
// waiting, and checks liveness at whatever point the dispatcher is.
func waitInPhase(t *testing.T, fns ...string) {
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

// readsEvery returns a Reader that hands out s in reads of at most n bytes.
func readsEvery(s string, n int) io.Reader {
	return &chunkReader{[]byte(s), n}
}

// repeatReader reads n copies of one byte, holding no more than one read's
// worth of memory, and counts what was read.
type repeatReader struct {
	b    byte
	n    int64
	read int64
}

func (r *repeatReader) Read(p []byte) (int, error) {
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

var errRefused = errors.New("connection refused")

// scriptStep is what one connection attempt of a scriptedSource does.
type scriptStep struct {
	err  error         // Open fails with err; otherwise
	body string        // the body sends these bytes at once,
	open time.Duration // then stays open this long (-1: until the stream drops it) and ends with io.EOF
	// dribble, when set, is sent after body every dribbleEvery, before open counts.
	dribble      []string
	dribbleEvery time.Duration
	// feed, when set, is read after the dribble until it is closed; each
	// string received is sent as one read.
	feed <-chan string
}

// scriptOpen records one call of Open.
type scriptOpen struct {
	at     time.Time
	lastID string
}

// scriptedSource is an in-memory Source: attempt i follows steps[i], and the
// last step repeats. It works inside a synctest bubble, where its waits
// use fake time.
type scriptedSource struct {
	mu    sync.Mutex
	steps []scriptStep
	opens []scriptOpen
}

func script(steps ...scriptStep) *scriptedSource { return &scriptedSource{steps: steps} }

func (s *scriptedSource) Open(ctx context.Context, lastID string) (io.ReadCloser, error) {
	s.mu.Lock()
	i := len(s.opens)
	s.opens = append(s.opens, scriptOpen{time.Now(), lastID})
	st := s.steps[min(i, len(s.steps)-1)]
	s.mu.Unlock()
	if st.err != nil {
		return nil, st.err
	}
	b := &scriptedBody{ctx: ctx, step: st, closed: make(chan struct{})}
	if st.body != "" {
		b.pending = append(b.pending, st.body)
	}
	return b, nil
}

// lastIDs returns the last event ID each attempt was opened with.
func (s *scriptedSource) lastIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for _, o := range s.opens {
		ids = append(ids, o.lastID)
	}
	return ids
}

// gaps returns the time between consecutive calls of Open.
func (s *scriptedSource) gaps() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	var d []time.Duration
	for i := 1; i < len(s.opens); i++ {
		d = append(d, s.opens[i].at.Sub(s.opens[i-1].at))
	}
	return d
}

func (s *scriptedSource) attempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.opens)
}

var errBodyClosed = errors.New("test body closed")

type scriptedBody struct {
	ctx       context.Context
	step      scriptStep
	pending   []string
	dribbled  int
	waited    bool
	closeOnce sync.Once
	closed    chan struct{}
}

func (b *scriptedBody) Read(p []byte) (int, error) {
	if len(b.pending) > 0 {
		n := copy(p, b.pending[0])
		if b.pending[0] = b.pending[0][n:]; b.pending[0] == "" {
			b.pending = b.pending[1:]
		}
		return n, nil
	}
	if b.dribbled < len(b.step.dribble) {
		if err := b.wait(b.step.dribbleEvery); err != nil {
			return 0, err
		}
		b.pending = append(b.pending, b.step.dribble[b.dribbled])
		b.dribbled++
		return b.Read(p)
	}
	if b.step.feed != nil {
		select {
		case chunk, ok := <-b.step.feed:
			if ok {
				b.pending = append(b.pending, chunk)
				return b.Read(p)
			}
			b.step.feed = nil
		case <-b.closed:
			return 0, errBodyClosed
		case <-b.ctx.Done():
			return 0, context.Cause(b.ctx)
		}
	}
	if !b.waited && b.step.open != 0 {
		b.waited = true
		d := b.step.open
		if d < 0 {
			d = time.Duration(1<<63 - 1)
		}
		if err := b.wait(d); err != nil {
			return 0, err
		}
	}
	return 0, io.EOF
}

func (b *scriptedBody) wait(d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-b.closed:
		return errBodyClosed
	case <-b.ctx.Done():
		return context.Cause(b.ctx)
	}
}

func (b *scriptedBody) Close() error {
	b.closeOnce.Do(func() { close(b.closed) })
	return nil
}

// newScripted returns a Stream over src with jitter off, so delays are exact.
func newScripted(t *testing.T, src Source, opts ...Option) *Stream {
	t.Helper()
	s, err := NewStream("mem://test", append([]Option{WithSource(src), WithJitter(0), WithErrorStrategy(AlwaysFail())}, opts...)...)
	if err != nil {
		t.Fatalf("NewStream: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// newScriptedDispatcher returns a Dispatcher over src with jitter off.
func newScriptedDispatcher(t *testing.T, src Source, opts ...Option) *Dispatcher {
	t.Helper()
	d, err := New("mem://test", append([]Option{WithSource(src), WithJitter(0), WithErrorStrategy(AlwaysFail())}, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// refusedAddr returns a loopback address where nothing listens.
func refusedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
