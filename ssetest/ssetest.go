// Package ssetest scripts Server-Sent Events servers for tests: of this
// module, and of the handlers its users write.
//
// A [Responder] decides how to answer each request with a [Response]: a
// status, headers, and a list of [Step]s that write bytes (flushed at once),
// trickle them, pause, stall or drop the connection in the middle of an
// event. [NewServer] serves a Responder, or any http.Handler, on a loopback
// httptest server; a [Transport] serves it in memory, without sockets, so
// that tests can run it inside a testing/synctest bubble under fake time.
// [Encode] and [After] build streams that resume after a Last-Event-ID.
// Since a Responder is an http.Handler, it also runs on any other server,
// such as an httptest server with HTTP/2 enabled.
//
//	srv := ssetest.NewServer(ssetest.Sequence(
//		ssetest.Response{Steps: []ssetest.Step{ssetest.Write("id: 1\ndata: a\n\ndata: cut"), ssetest.Drop()}},
//		ssetest.Response{Status: http.StatusServiceUnavailable},
//	))
//	defer srv.Close()
package ssetest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Event is one event for a scripted stream to send; see [Encode].
type Event struct {
	Type  string        // the event field; none when empty
	ID    string        // the id field; none when empty
	Data  string        // one data field per line of Data
	Retry time.Duration // the retry field, in whole milliseconds; none when zero
}

// Encode returns the wire form of events: each event's fields, one data
// field per line of its Data (LF, CR and CRLF all split lines), and the
// blank line that dispatches it.
func Encode(events ...Event) string {
	var b strings.Builder
	for _, ev := range events {
		if ev.Type != "" {
			b.WriteString("event: " + ev.Type + "\n")
		}
		if ev.ID != "" {
			b.WriteString("id: " + ev.ID + "\n")
		}
		if ev.Retry > 0 {
			b.WriteString("retry: " + strconv.FormatInt(ev.Retry.Milliseconds(), 10) + "\n")
		}
		data := strings.ReplaceAll(strings.ReplaceAll(ev.Data, "\r\n", "\n"), "\r", "\n")
		for line := range strings.SplitSeq(data, "\n") {
			b.WriteString("data: " + line + "\n")
		}
		b.WriteString("\n")
	}
	return b.String()
}

// After returns the events that follow the last one whose ID is lastEventID,
// which is what a server replays to a client that reconnects with that
// Last-Event-ID header. It returns all events when lastEventID is empty or
// names none of them.
func After(events []Event, lastEventID string) []Event {
	if lastEventID == "" {
		return events
	}
	for i := len(events) - 1; i >= 0; i-- {
		if events[i].ID == lastEventID {
			return events[i+1:]
		}
	}
	return events
}

// Response is a scripted answer to one request.
//
// The status line and headers go out with the first Step that writes, or
// when the Steps end, so a [Sleep] or [Stall] before any write keeps the
// client waiting for the response itself; Write("") sends them alone.
type Response struct {
	// Status is the HTTP status code; zero means 200.
	Status int
	// Header holds the response headers. For a 2xx status without a
	// Content-Type, the Content-Type is text/event-stream.
	Header http.Header
	// Steps run in order; the response ends when they do.
	Steps []Step
}

// Redirect returns a Response that redirects to location with code, such
// as http.StatusFound.
func Redirect(code int, location string) Response {
	return Response{Status: code, Header: http.Header{"Location": {location}}}
}

// Responder decides the Response to each request. It is an http.Handler:
// ServeHTTP runs the Response it returns. A Responder may be called from
// many goroutines at once.
type Responder func(r *http.Request) Response

// ServeHTTP answers r with the Response f returns, running its Steps until
// they end, the client goes away, or the Server closes.
func (f Responder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	resp := f(r)
	h := w.Header()
	for k, vs := range resp.Header {
		h[k] = append([]string(nil), vs...)
	}
	status := resp.Status
	if status == 0 {
		status = http.StatusOK
	}
	if status >= 200 && status <= 299 && h.Get("Content-Type") == "" {
		h.Set("Content-Type", "text/event-stream")
	}
	sw := &stepWriter{w: w, ctx: r.Context(), status: status}
	for _, s := range resp.Steps {
		if !s.run(sw) {
			return
		}
	}
	sw.sendHeader()
}

// Sequence returns a Responder that answers the first request with the
// first Response, the second with the second, and so on; once they run out,
// it repeats the last one. It panics if responses is empty.
func Sequence(responses ...Response) Responder {
	if len(responses) == 0 {
		panic("ssetest: Sequence needs at least one Response")
	}
	var mu sync.Mutex
	next := 0
	return func(*http.Request) Response {
		mu.Lock()
		defer mu.Unlock()
		r := responses[min(next, len(responses)-1)]
		next++
		return r
	}
}

// A Step is one action of a scripted [Response]; the functions of this
// package make them.
type Step struct {
	run func(*stepWriter) bool // false: stop the response
}

// stepWriter is what Steps act on: the response, and the context that ends
// it when the client goes away or the server closes.
type stepWriter struct {
	w          http.ResponseWriter
	ctx        context.Context
	status     int
	headerSent bool
}

func (sw *stepWriter) sendHeader() {
	if !sw.headerSent {
		sw.headerSent = true
		sw.w.WriteHeader(sw.status)
	}
}

// write sends b and flushes it; false means the client is gone.
func (sw *stepWriter) write(b string) bool {
	sw.sendHeader()
	if len(b) > 0 {
		if _, err := io.WriteString(sw.w, b); err != nil {
			return false
		}
	}
	if err := http.NewResponseController(sw.w).Flush(); err != nil {
		return false
	}
	return sw.ctx.Err() == nil
}

// wait pauses for d; false means the client went away or the server closed.
func (sw *stepWriter) wait(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-sw.ctx.Done():
		return false
	}
}

// Write returns a Step that writes s in one Write call and flushes it, so
// the client can read it at once (how it splits s into reads is up to the
// network).
func Write(s string) Step {
	return Step{run: func(sw *stepWriter) bool { return sw.write(s) }}
}

// Trickle returns a Step that writes s n bytes at a time, flushing each
// piece and pausing every between pieces (no pause when every is zero).
// Trickle(s, 1, 0) sends a stream one byte per write. n below 1 counts as 1.
func Trickle(s string, n int, every time.Duration) Step {
	n = max(n, 1)
	return Step{run: func(sw *stepWriter) bool {
		for i := 0; i < len(s); i += n {
			if i > 0 && every > 0 && !sw.wait(every) {
				return false
			}
			if !sw.write(s[i:min(i+n, len(s))]) {
				return false
			}
		}
		return true
	}}
}

// Sleep returns a Step that pauses for d, or until the client goes away or
// the Server closes.
func Sleep(d time.Duration) Step {
	return Step{run: func(sw *stepWriter) bool { return sw.wait(d) }}
}

// Stall returns a Step that sends nothing more and holds the connection open
// until the client goes away or the Server closes: a hung server, for
// testing read timeouts.
func Stall() Step {
	return Step{run: func(sw *stepWriter) bool {
		<-sw.ctx.Done()
		return false
	}}
}

// Drop returns a Step that cuts the connection at once, without ending the
// response properly: the client sees an unexpected end of the body in the
// middle of whatever was written. On HTTP/2 it resets the stream.
func Drop() Step {
	return Step{run: func(sw *stepWriter) bool {
		sw.sendHeader()
		http.NewResponseController(sw.w).Flush()
		panic(http.ErrAbortHandler) // net/http drops the connection silently
	}}
}

// Server is a loopback HTTP server for tests, built on httptest.Server. Its
// Close also ends responses that stall or sleep.
type Server struct {
	// URL is the server's base URL, http://127.0.0.1:port.
	URL string

	srv  *httptest.Server
	ctx  context.Context
	stop context.CancelFunc

	mu       sync.Mutex
	requests []*http.Request
}

// NewServer starts a Server that serves h, typically a [Responder] or
// [Sequence]. Close it when done.
func NewServer(h http.Handler) *Server {
	s := &Server{}
	s.ctx, s.stop = context.WithCancel(context.Background())
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.record(r)
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		defer context.AfterFunc(s.ctx, cancel)()
		h.ServeHTTP(w, r.WithContext(ctx))
		if s.ctx.Err() != nil {
			panic(http.ErrAbortHandler) // Close cuts a response in progress; it does not end it cleanly
		}
	}))
	s.URL = s.srv.URL
	return s
}

func (s *Server) record(r *http.Request) {
	c := r.Clone(context.Background())
	c.Body = http.NoBody // the handler reads the body, if anything does
	s.mu.Lock()
	s.requests = append(s.requests, c)
	s.mu.Unlock()
}

// Requests returns the requests received so far, in order of arrival,
// with their headers (Last-Event-ID, Authorization, Cookie) but without
// their bodies.
func (s *Server) Requests() []*http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*http.Request(nil), s.requests...)
}

// Close cuts every response in progress (its client sees the connection
// drop, not an orderly end), closes all connections, shuts the server down
// and waits for its handlers to return.
func (s *Server) Close() {
	s.stop()
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// Transport is an http.RoundTripper that answers requests by calling
// Handler in memory, without sockets or goroutines outside the caller's
// control, so it also works inside a testing/synctest bubble, where
// timeouts and backoff delays run on fake time. The response streams: the
// client reads each flushed write as the handler makes it. Closing the
// response body, or cancelling the request's context, ends the handler's
// request context. A handler that panics with http.ErrAbortHandler (as
// [Drop] does) ends the body with io.ErrUnexpectedEOF.
type Transport struct {
	// Handler answers every request, typically a [Responder] or [Sequence].
	Handler http.Handler
}

// RoundTrip runs t.Handler for req and returns its response once the
// handler has written its headers, or has returned.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	body := []byte(nil)
	if req.Body != nil {
		b, err := io.ReadAll(req.Body) // the handler gets a copy: a RoundTripper must close req.Body
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
	}
	ctx, cancel := context.WithCancel(req.Context())
	pr, pw := io.Pipe()
	w := &pipeWriter{header: make(http.Header), pw: pw, ready: make(chan struct{})}
	sreq := req.Clone(ctx)
	sreq.RequestURI = req.URL.RequestURI()
	sreq.Body = io.NopCloser(bytes.NewReader(body))
	unwatch := context.AfterFunc(ctx, func() { pw.CloseWithError(context.Cause(ctx)) })
	go func() {
		err := io.EOF
		defer func() {
			if v := recover(); v != nil {
				err = io.ErrUnexpectedEOF
				if v != http.ErrAbortHandler {
					err = fmt.Errorf("ssetest: handler panicked: %v", v)
				}
			}
			if ctx.Err() != nil {
				err = context.Cause(ctx) // the client's cancellation, not the handler's end
			}
			w.WriteHeader(http.StatusOK)
			pw.CloseWithError(err)
		}()
		t.Handler.ServeHTTP(w, sreq)
	}()
	select {
	case <-w.ready:
	case <-ctx.Done():
		cancel()
		return nil, context.Cause(req.Context())
	}
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", w.status, http.StatusText(w.status)),
		StatusCode:    w.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        w.sent,
		Body:          &pipeBody{pr: pr, stop: func() { unwatch(); cancel() }},
		ContentLength: -1,
		Request:       req,
	}, nil
}

// pipeWriter is the in-memory http.ResponseWriter of a Transport.
type pipeWriter struct {
	header http.Header
	sent   http.Header // the header as it was when written
	status int
	pw     *io.PipeWriter
	once   sync.Once
	ready  chan struct{}
}

func (w *pipeWriter) Header() http.Header { return w.header }

func (w *pipeWriter) WriteHeader(code int) {
	w.once.Do(func() {
		w.status, w.sent = code, w.header.Clone()
		close(w.ready)
	})
}

// Write blocks until the client reads b, so every write is flushed.
func (w *pipeWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.pw.Write(b)
}

// Flush does nothing: writes reach the client unbuffered.
func (w *pipeWriter) Flush() {}

// pipeBody is the body of a Transport's response.
type pipeBody struct {
	pr   *io.PipeReader
	stop func()
}

func (b *pipeBody) Read(p []byte) (int, error) { return b.pr.Read(p) }

func (b *pipeBody) Close() error {
	b.stop()
	return b.pr.Close()
}
