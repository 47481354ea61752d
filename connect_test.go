package sse

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// onHTTPServers runs fn against an HTTP/1.1 server and an HTTP/2 (TLS)
// server, both on loopback, with h as their handler.
func onHTTPServers(t *testing.T, h http.Handler, fn func(t *testing.T, srv *httptest.Server)) {
	t.Run("HTTP/1.1", func(t *testing.T) {
		srv := httptest.NewServer(h)
		defer srv.Close()
		fn(t, srv)
	})
	t.Run("HTTP/2", func(t *testing.T) {
		srv := httptest.NewUnstartedServer(h)
		srv.EnableHTTP2 = true
		srv.StartTLS()
		defer srv.Close()
		fn(t, srv)
	})
}

// requestLog records what the server received.
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

func lastFault(actions []Action) (Fault, bool) {
	for i := len(actions) - 1; i >= 0; i-- {
		if f, ok := actions[i].(Fault); ok {
			return f, true
		}
	}
	return Fault{}, false
}

func TestHTTPRequest(t *testing.T) {
	var log requestLog
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := log.record(r)
		eventStream(w)
		fmt.Fprintf(w, "id: %d\ndata: x\n\n", n)
	})
	onHTTPServers(t, h, func(t *testing.T, srv *httptest.Server) {
		log = requestLog{}
		got, _ := pullHTTP(t, srv, "/stream", 100,
			WithMethod(http.MethodPost),
			WithBody([]byte(`{"q":1}`)),
			WithHeader("Content-Type", "application/json"),
			WithHeader("X-Multi", "a"),
			WithHeader("X-Multi", "b"),
			WithRequestHook(func(r *http.Request) error {
				r.Header.Set("X-Hook", r.Method)
				return nil
			}),
			WithInitialDelay(0), WithMinDelay(0),
			WithErrorStrategy(func(_ error, _ int, _ time.Duration) bool { return log.count() < 3 }),
		)
		reqs := log.get()
		if len(reqs) != 3 {
			t.Fatalf("requests: got %d; want 3 (actions %v)", len(reqs), got)
		}
		wantProto := 1
		if strings.HasPrefix(t.Name(), "TestHTTPRequest/HTTP/2") {
			wantProto = 2
		}
		for i, r := range reqs {
			checks := []struct {
				what, got, want string
			}{
				{"protocol", strconv.Itoa(r.proto), strconv.Itoa(wantProto)},
				{"method", r.method, http.MethodPost},
				{"path", r.path, "/stream"},
				{"body", r.body, `{"q":1}`},
				{"Accept", r.header.Get("Accept"), "text/event-stream"},
				{"Cache-Control", r.header.Get("Cache-Control"), "no-cache"},
				{"Content-Type", r.header.Get("Content-Type"), "application/json"},
				{"X-Multi", strings.Join(r.header.Values("X-Multi"), ","), "a,b"},
				{"X-Hook", r.header.Get("X-Hook"), http.MethodPost},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("request %d: %s: got %q; want %q", i+1, c.what, c.got, c.want)
				}
			}
			lastID, sent := r.header["Last-Event-Id"]
			switch {
			case i == 0 && sent:
				t.Errorf("request 1: Last-Event-ID sent as %q; want no header", lastID)
			case i > 0 && r.header.Get("Last-Event-ID") != strconv.Itoa(i):
				t.Errorf("request %d: Last-Event-ID: got %q; want %q", i+1, r.header.Get("Last-Event-ID"), strconv.Itoa(i))
			}
		}
	})
}

func (l *requestLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.reqs)
}

// User headers may replace the defaults, and WithLastEventID presets the
// first request's Last-Event-ID.
func TestHTTPHeaderOverrides(t *testing.T) {
	var log requestLog
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.record(r)
		eventStream(w)
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	pullHTTP(t, srv, "", 100, WithHeader("Accept", "text/event-stream, application/json"),
		WithHeader("Cache-Control", "no-store"), WithLastEventID("41"))
	reqs := log.get()
	if len(reqs) != 1 {
		t.Fatalf("requests: got %d; want 1", len(reqs))
	}
	h0 := reqs[0].header
	if got := h0.Values("Accept"); !slices.Equal(got, []string{"text/event-stream, application/json"}) {
		t.Errorf("Accept: got %q; want only the user's value", got)
	}
	if got := h0.Values("Cache-Control"); !slices.Equal(got, []string{"no-store"}) {
		t.Errorf("Cache-Control: got %q; want only the user's value", got)
	}
	if got := h0.Get("Last-Event-ID"); got != "41" {
		t.Errorf("Last-Event-ID: got %q; want 41", got)
	}
}

// An emptied last event ID is not sent: no header, not an empty one.
func TestHTTPEmptyLastEventIDNotSent(t *testing.T) {
	var log requestLog
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := log.record(r)
		eventStream(w)
		if n == 1 {
			io.WriteString(w, "id: 1\ndata: a\n\nid\n\n")
		}
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	pullHTTP(t, srv, "", 100, WithInitialDelay(0), WithMinDelay(0), WithErrorStrategy(ContinueWithMaxAttempts(1)),
		WithRequestHook(func(*http.Request) error {
			if log.count() == 2 {
				return errRefused // end the test after two requests
			}
			return nil
		}))
	reqs := log.get()
	if len(reqs) != 2 {
		t.Fatalf("requests: got %d; want 2", len(reqs))
	}
	if v, ok := reqs[1].header["Last-Event-Id"]; ok {
		t.Errorf("second request: Last-Event-ID sent as %q; want no header", v)
	}
}

func TestHTTPRequestHookError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("request sent although the hook failed")
	}))
	defer srv.Close()
	hookErr := errors.New("no token")
	got, _ := pullHTTP(t, srv, "", 100, WithRequestHook(func(*http.Request) error { return hookErr }))
	if f, ok := lastFault(got); !ok || !errors.Is(f.Err, hookErr) || !f.Final {
		t.Errorf("actions: got %v; want a final Fault with the hook's error", got)
	}
}

func TestHTTPStatusAndContentType(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		contentType string // "-" for no header at all
		wantStatus  int    // a *StatusError with this code
		wantCT      string // a *ContentTypeError with this content type
		wantStart   bool
	}{
		{name: "200 event stream", status: 200, contentType: "text/event-stream", wantStart: true},
		{name: "charset parameter", status: 200, contentType: "text/event-stream; charset=utf-8", wantStart: true},
		{name: "upper case", status: 200, contentType: "Text/Event-Stream", wantStart: true},
		{name: "201 is a success", status: 201, contentType: "text/event-stream", wantStart: true},
		{name: "500", status: 500, contentType: "text/event-stream", wantStatus: 500},
		{name: "404", status: 404, contentType: "text/plain", wantStatus: 404},
		{name: "204", status: 204, contentType: "text/event-stream", wantStatus: 204},
		{name: "304", status: 304, contentType: "text/event-stream", wantStatus: 304},
		{name: "text/plain", status: 200, contentType: "text/plain", wantCT: "text/plain"},
		{name: "similar type", status: 200, contentType: "text/event-streams", wantCT: "text/event-streams"},
		{name: "no content type", status: 200, contentType: "-", wantCT: ""},
		{name: "invalid parameter ignored", status: 200, contentType: "text/event-stream; charset", wantStart: true},
		{name: "invalid type", status: 200, contentType: "text/event-stream/x", wantCT: "text/event-stream/x"},
	}
	for _, tt := range tests {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if tt.contentType == "-" {
				w.Header()["Content-Type"] = nil // no sniffing either
			} else {
				w.Header().Set("Content-Type", tt.contentType)
			}
			w.WriteHeader(tt.status)
			if tt.status != 204 && tt.status != 304 {
				io.WriteString(w, "data: x\n\n")
			}
		})
		t.Run(tt.name, func(t *testing.T) {
			onHTTPServers(t, h, func(t *testing.T, srv *httptest.Server) {
				got, _ := pullHTTP(t, srv, "", 100)
				if tt.wantStart {
					if len(got) < 2 || got[1] != (Event{Type: "message", Data: "x"}) {
						t.Errorf("actions: got %v; want start, the event, the end", got)
					}
					return
				}
				f, _ := lastFault(got)
				if len(got) != 1 || !f.Final {
					t.Fatalf("actions: got %v; want one final Fault", got)
				}
				var se *StatusError
				var ce *ContentTypeError
				switch {
				case tt.wantStatus != 0:
					if !errors.As(f.Err, &se) || se.Code != tt.wantStatus {
						t.Errorf("error: got %v; want a *StatusError %d", f.Err, tt.wantStatus)
					}
				default:
					if !errors.As(f.Err, &ce) || ce.ContentType != tt.wantCT {
						t.Errorf("error: got %v; want a *ContentTypeError for %q", f.Err, tt.wantCT)
					}
				}
			})
		})
	}
}

// A 204 stops the stream even when the error strategy would continue; other
// bad statuses are retried.
func TestHTTP204StopsAlways(t *testing.T) {
	for _, code := range []int{204, 503} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			var log requestLog
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				log.record(r)
				w.WriteHeader(code)
			}))
			defer srv.Close()
			strategyCalls := 0
			got, _ := pullHTTP(t, srv, "", 3, WithInitialDelay(0), WithMinDelay(0), WithErrorStrategy(func(error, int, time.Duration) bool {
				strategyCalls++
				return true
			}))
			f := got[len(got)-1].(Fault)
			var se *StatusError
			if !errors.As(f.Err, &se) || se.Code != code {
				t.Fatalf("error: got %v; want a *StatusError %d", f.Err, code)
			}
			if code == 204 {
				if len(got) != 1 || !f.Final || log.count() != 1 || strategyCalls != 0 {
					t.Errorf("204: got actions %v, %d requests, %d strategy calls; want one final Fault, 1 request, 0 calls",
						got, log.count(), strategyCalls)
				}
			} else if len(got) != 3 || f.Final || log.count() != 3 {
				t.Errorf("%d: got actions %v, %d requests; want 3 retried Faults", code, got, log.count())
			}
		})
	}
}

// Redirects are followed up to the bound; one more is a *RedirectError.
func TestHTTPRedirects(t *testing.T) {
	var log requestLog
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.record(r)
		n, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/r/"))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		if n > 0 {
			http.Redirect(w, r, fmt.Sprintf("/r/%d", n-1), http.StatusTemporaryRedirect)
			return
		}
		eventStream(w)
		fmt.Fprintf(w, "data: %s %s\n\n", r.Method, r.Header.Get("Last-Event-ID"))
	})
	tests := []struct {
		name      string
		hops      int
		opts      []Option
		wantLimit int // 0: the stream connects
	}{
		{name: "default bound reached", hops: 10},
		{name: "default bound exceeded", hops: 11, wantLimit: 10},
		{name: "WithMaxRedirects(2) reached", hops: 2, opts: []Option{WithMaxRedirects(2)}},
		{name: "WithMaxRedirects(2) exceeded", hops: 3, opts: []Option{WithMaxRedirects(2)}, wantLimit: 2},
		{name: "WithMaxRedirects(0)", hops: 1, opts: []Option{WithMaxRedirects(0)}, wantLimit: 0 - 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			onHTTPServers(t, h, func(t *testing.T, srv *httptest.Server) {
				log = requestLog{}
				opts := append([]Option{WithMethod("POST"), WithBody([]byte("b")), WithLastEventID("7")}, tt.opts...)
				got, _ := pullHTTP(t, srv, fmt.Sprintf("/r/%d", tt.hops), 100, opts...)
				if tt.wantLimit == 0 {
					if len(got) < 2 || got[1] != (Event{Type: "message", Data: "POST 7", LastEventID: "7"}) {
						t.Errorf("after %d redirects: got %v; want the event from the end of the chain", tt.hops, got)
					}
					for i, r := range log.get() {
						if r.body != "b" {
							t.Errorf("request %d: body %q; want the body replayed on redirect", i+1, r.body)
						}
					}
					return
				}
				limit := max(tt.wantLimit, 0)
				f, _ := lastFault(got)
				var re *RedirectError
				if !errors.As(f.Err, &re) || re.Limit != limit {
					t.Fatalf("after %d redirects: got %v; want a *RedirectError with limit %d", tt.hops, f.Err, limit)
				}
				if want := fmt.Sprintf("/r/%d", tt.hops-limit-1); !strings.HasSuffix(re.URL, want) {
					t.Errorf("RedirectError.URL: got %q; want one ending in %q", re.URL, want)
				}
				if n := log.count(); n != limit+1 {
					t.Errorf("requests: got %d; want %d", n, limit+1)
				}
			})
		})
	}
}

// A client's own CheckRedirect is kept, and the client is not modified.
func TestHTTPClientCheckRedirectKept(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	}))
	defer srv.Close()
	mine := errors.New("my redirect policy")
	client := &http.Client{Transport: srv.Client().Transport}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return mine }
	s, err := NewStream(srv.URL, WithErrorStrategy(AlwaysFail()), WithHTTPClient(client))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pairs := 0
	for _, err := range s.Events(t.Context()) {
		pairs++
		if !errors.Is(err, mine) {
			t.Errorf("error: got %v; want the client's CheckRedirect error", err)
		}
	}
	if pairs != 1 {
		t.Errorf("the stream yielded %d pairs; want one, with the client's CheckRedirect error", pairs)
	}
	plain := &http.Client{Transport: srv.Client().Transport}
	if _, err := NewStream(srv.URL, WithErrorStrategy(AlwaysFail()), WithHTTPClient(plain)); err != nil {
		t.Fatal(err)
	}
	if plain.CheckRedirect != nil {
		t.Error("NewStream set CheckRedirect on the caller's client")
	}
}

func TestNewRejects(t *testing.T) {
	tests := []struct {
		name string
		url  string
		opts []Option
	}{
		{"client with Timeout", "http://127.0.0.1/", []Option{WithHTTPClient(&http.Client{Timeout: time.Second})}},
		{"ftp URL", "ftp://127.0.0.1/", nil},
		{"no scheme", "127.0.0.1/stream", nil},
		{"bad URL", "http://[::1", nil},
	}
	for _, tt := range tests {
		if d, err := New(tt.url, tt.opts...); err == nil {
			d.Close()
			t.Errorf("New(%q) with %s: got no error; want one", tt.url, tt.name)
		} else if !strings.HasPrefix(err.Error(), "sse: ") {
			t.Errorf("New(%q) with %s: error %q does not start with \"sse: \"", tt.url, tt.name, err)
		}
	}
	if d, err := New("", WithErrorStrategy(AlwaysFail()), WithSource(script(scriptStep{}))); err != nil {
		t.Errorf("New with a Source and no URL: %v", err)
	} else {
		d.Close()
	}
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

// A connection that receives no bytes for the read timeout fails with a
// *TimeoutError, whether it waits for the response head or for body bytes,
// and the stream reconnects; every byte restarts the clock.
func TestHTTPReadTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var reqAt []time.Duration
		start := time.Now()
		rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			mu.Lock()
			n := len(reqAt)
			reqAt = append(reqAt, time.Since(start))
			mu.Unlock()
			switch n {
			case 0: // the head never comes
				<-r.Context().Done()
				return nil, context.Cause(r.Context())
			case 1: // a comment every 4s, then silence
				resp, w := memResponse(r)
				go func() {
					for range 3 {
						time.Sleep(4 * time.Second)
						if _, err := io.WriteString(w, ":\n"); err != nil {
							return
						}
					}
				}()
				return resp, nil
			default:
				resp, w := memResponse(r)
				go func() {
					io.WriteString(w, "data: done\n\n")
					w.Close()
				}()
				return resp, nil
			}
		})
		s, err := NewStream("http://stream.test/", WithErrorStrategy(AlwaysFail()), WithHTTPClient(&http.Client{Transport: rt}), WithReadTimeout(5*time.Second),
			WithJitter(0), WithErrorStrategy(ContinueWithMaxAttempts(2)))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var timeouts []time.Duration
		var got []string
		for a := range s.All(t.Context()) {
			got = append(got, describe(a))
			var te *TimeoutError
			if f, ok := a.(Fault); ok && errors.As(f.Err, &te) {
				timeouts = append(timeouts, time.Since(start))
				if te.After != 5*time.Second {
					t.Errorf("TimeoutError.After: got %v; want 5s", te.After)
				}
			}
			if e, ok := a.(Event); ok && e.Data == "done" {
				break
			}
		}
		// Head timeout at 5s; retry at 6s; comments at 10, 14, 18s; timeout at 23s; retry at 25s.
		if want := []time.Duration{5 * time.Second, 23 * time.Second}; !slices.Equal(timeouts, want) {
			t.Errorf("timeouts: got at %v; want at %v (actions %q)", timeouts, want, got)
		}
		if want := []time.Duration{0, 6 * time.Second, 25 * time.Second}; !slices.Equal(reqAt, want) {
			t.Errorf("requests: got at %v; want at %v", reqAt, want)
		}
	})
}

// The dispatcher over HTTP, end to end: Start returns once connected, and a
// server that ends the stream gets a reconnect that resumes.
func TestHTTPDispatcherResume(t *testing.T) {
	var log requestLog
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := log.record(r)
		eventStream(w)
		fmt.Fprintf(w, "id: %d\ndata: part %d\n\n", n, n)
		if n == 3 {
			w.(http.Flusher).Flush()
			<-r.Context().Done() // hold the third connection open
		}
	})
	onHTTPServers(t, h, func(t *testing.T, srv *httptest.Server) {
		log = requestLog{}
		d, err := New(srv.URL, WithErrorStrategy(AlwaysFail()), WithHTTPClient(srv.Client()), WithInitialDelay(time.Millisecond), WithMinDelay(0), WithErrorStrategy(AlwaysContinue()))
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		got := make(chan Event, 10)
		d.OnEvent(func(_ context.Context, ev Event) { got <- ev })
		if err := d.Start(t.Context()); err != nil {
			t.Fatalf("Start: %v", err)
		}
		for i := 1; i <= 3; i++ {
			select {
			case ev := <-got:
				if ev.Data != fmt.Sprintf("part %d", i) || ev.ID != strconv.Itoa(i) {
					t.Errorf("event %d: got %+v", i, ev)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("event %d did not arrive", i)
			}
		}
		d.Close()
		reqs := log.get()
		for i, r := range reqs {
			if want := strconv.Itoa(i); i > 0 && r.header.Get("Last-Event-ID") != want {
				t.Errorf("request %d: Last-Event-ID %q; want %q", i+1, r.header.Get("Last-Event-ID"), want)
			}
		}
		if d.LastEventID() != "3" {
			t.Errorf("LastEventID: got %q; want 3", d.LastEventID())
		}
	})
}

// Interrupt drops a live HTTP connection (the server sees it go) and
// reconnects with the last event ID.
func TestHTTPInterrupt(t *testing.T) {
	type req struct {
		lastID string
		gone   <-chan struct{}
	}
	reqs := make(chan req, 10)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		eventStream(w)
		io.WriteString(w, "id: 5\ndata: x\n\n")
		w.(http.Flusher).Flush()
		reqs <- req{r.Header.Get("Last-Event-ID"), r.Context().Done()}
		<-r.Context().Done()
	})
	onHTTPServers(t, h, func(t *testing.T, srv *httptest.Server) {
		d, err := New(srv.URL, WithErrorStrategy(AlwaysFail()), WithHTTPClient(srv.Client()), WithInitialDelay(time.Millisecond), WithMinDelay(0))
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		faults := make(chan Fault, 10)
		d.OnFault(func(_ context.Context, f Fault) { faults <- f })
		events := make(chan Event, 10)
		d.OnEvent(func(_ context.Context, ev Event) { events <- ev })
		if err := d.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		first := <-reqs
		<-events // the id has been read; bytes still in flight would be lost
		d.Interrupt()
		select {
		case <-first.gone:
		case <-time.After(10 * time.Second):
			t.Fatal("the server did not see the interrupted connection end")
		}
		select {
		case second := <-reqs:
			if second.lastID != "5" {
				t.Errorf("Last-Event-ID after Interrupt: got %q; want 5", second.lastID)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no reconnection after Interrupt")
		}
		if f := <-faults; !errors.Is(f.Err, ErrInterrupted) || f.Final {
			t.Errorf("Fault: got %v (final %v); want a non-final ErrInterrupted", f.Err, f.Final)
		}
	})
}

// Error text is for people but is API too: it starts with "sse: ", is lower
// case without a final period, and names the data the error carries.
func TestErrorText(t *testing.T) {
	tests := []struct {
		err      error
		contains string
	}{
		{&StatusError{Code: 503}, "503"},
		{&ContentTypeError{ContentType: "text/html"}, `"text/html"`},
		{&ContentTypeError{}, "no content type"},
		{&TooLargeError{Limit: 4096}, "4096"},
		{&TimeoutError{After: 5 * time.Second}, "5s"},
		{&RedirectError{Limit: 3, URL: "http://x.test/a"}, "http://x.test/a"},
		{&PanicError{Value: "boom"}, "boom"},
		{&DecodeError{Event: Event{Type: "price"}, Err: errRefused}, "price"},
		{ErrClosed, "closed"},
		{ErrInterrupted, "interrupted"},
		{ErrStarted, "started"},
	}
	for _, tt := range tests {
		msg := tt.err.Error()
		if !strings.HasPrefix(msg, "sse: ") || strings.HasSuffix(msg, ".") || !strings.Contains(msg, tt.contains) {
			t.Errorf("%T: got %q; want \"sse: \" text with %q and no final period", tt.err, msg, tt.contains)
		}
	}
	var timeout interface{ Timeout() bool }
	if !errors.As(error(&TimeoutError{}), &timeout) || !timeout.Timeout() {
		t.Error("*TimeoutError does not report Timeout() == true")
	}
}
