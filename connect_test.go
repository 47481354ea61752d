package sse

// Tests of one HTTP attempt (connect.go): the request, status and content
// type checks, redirects and the credentials they carry, compression, error
// responses and Retry-After, each over HTTP/1.1 and HTTP/2 where the
// transport matters.

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ssekit/sse/ssetest"
)

func TestHTTPRequest(t *testing.T) {
	var log requestLog
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := log.record(r)
		eventStream(w)
		fmt.Fprintf(w, "id: %d\ndata: x\n\n", n)
	})
	run(t, h, func(t *testing.T, srv *httptest.Server) {
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
		if srv.EnableHTTP2 {
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
				{"Accept-Encoding", strings.Join(r.header.Values("Accept-Encoding"), ","), "identity"},
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
			run(t, h, func(t *testing.T, srv *httptest.Server) {
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
			run(t, h, func(t *testing.T, srv *httptest.Server) {
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
	run(t, h, func(t *testing.T, srv *httptest.Server) {
		log = requestLog{}
		d, err := New(srv.URL, WithHTTPClient(srv.Client()), WithInitialDelay(time.Millisecond), WithMinDelay(0), WithErrorStrategy(AlwaysContinue()))
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
	run(t, h, func(t *testing.T, srv *httptest.Server) {
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

// originServer is an event stream server that records its requests and
// redirects /go to the URL in its "to" query parameter.
type originServer struct {
	*httptest.Server
	log requestLog
}

func newOriginServer(t *testing.T, tls, h2 bool) *originServer {
	o := &originServer{}
	o.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.log.record(r)
		if wantMajor := map[bool]int{false: 1, true: 2}[h2]; r.ProtoMajor != wantMajor {
			t.Errorf("request over HTTP/%d; want HTTP/%d", r.ProtoMajor, wantMajor)
		}
		if r.URL.Path == "/go" {
			http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusTemporaryRedirect)
			return
		}
		eventStream(w)
		io.WriteString(w, "data: here\n\n")
	}))
	if tls {
		o.EnableHTTP2 = h2
		o.StartTLS()
	} else {
		o.Start()
	}
	t.Cleanup(o.Close)
	return o
}

// port returns the server's port.
func (o *originServer) port() string {
	_, port, _ := strings.Cut(o.Listener.Addr().String(), ":")
	return port
}

// namedClient returns a client that trusts the test certificate (valid for
// example.com and *.example.com) and reaches every host name on loopback,
// at the port of the URL.
func namedClient(tlsServer *httptest.Server) *http.Client {
	tr := tlsServer.Client().Transport.(*http.Transport).Clone()
	var d net.Dialer
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		_, port, _ := net.SplitHostPort(addr)
		return d.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
	}
	return &http.Client{Transport: tr}
}

// goTo returns the URL at origin from that redirects to to.
func goTo(from, to string) string {
	return from + "/go?to=" + url.QueryEscape(to)
}

// Credentials follow the origin (scheme, host and port), not the host name:
// a redirect to another port, a subdomain or back from another origin
// drops every header but those that describe the request, and the Referer
// with the secret query it quotes; a redirect within the origin keeps them.
func TestHTTPRedirectCredentials(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(map[bool]string{false: "HTTP/1.1", true: "HTTP/2"}[h2], func(t *testing.T) {
			a, b := newOriginServer(t, true, h2), newOriginServer(t, true, h2)
			client := namedClient(a.Server)
			originA := "https://example.com:" + a.port()
			originB := "https://example.com:" + b.port()
			subA := "https://sub.example.com:" + a.port()
			tests := []struct {
				name  string
				start string
				final *originServer
				keeps bool
			}{
				{"same origin", goTo(originA, "/stream"), a, true},
				{"same name, other port", goTo(originA, originB+"/stream"), b, false},
				{"subdomain", goTo(originA, subA+"/stream"), a, false},
				{"back to the origin", goTo(originA, goTo(originB, originA+"/stream")), a, false},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					a.log, b.log = requestLog{}, requestLog{}
					start := strings.Replace(tt.start, "/go?", "/go?token=s3cret&", 1)
					s, err := NewStream(start, WithErrorStrategy(AlwaysFail()), WithHTTPClient(client), WithLastEventID("7"),
						WithHeader("Authorization", "Bearer s3cret"), WithHeader("Cookie", "session=s3cret"),
						WithHeader("Proxy-Authorization", "Basic s3cret"), WithHeader("X-Api-Key", "s3cret"),
						WithHeader("Content-Type", "application/json"))
					if err != nil {
						t.Fatal(err)
					}
					defer s.Close()
					var got []string
					for a := range s.All(t.Context()) {
						got = append(got, describe(a))
					}
					if len(got) < 2 || got[1] != describe(Event{Type: "message", Data: "here", LastEventID: "7"}) {
						t.Fatalf("actions: got %q; want the event at the end of the redirects", got)
					}
					reqs := tt.final.log.get()
					last := reqs[len(reqs)-1].header
					for _, name := range []string{"Authorization", "Cookie", "Proxy-Authorization", "X-Api-Key"} {
						if v, sent := last[name]; sent != tt.keeps {
							t.Errorf("%s at the end of the redirects: got %q; want it sent: %v", name, v, tt.keeps)
						}
					}
					if v := last.Get("Referer"); !tt.keeps && v != "" {
						t.Errorf("Referer at another origin: got %q; want none", v)
					}
					for name, want := range map[string]string{"Accept": "text/event-stream", "Cache-Control": "no-cache",
						"Accept-Encoding": "identity", "Last-Event-Id": "7", "Content-Type": "application/json"} {
						if v := last.Get(name); v != want {
							t.Errorf("%s at the end of the redirects: got %q; want %q", name, v, want)
						}
					}
				})
			}
		})
	}
}

// Nothing is followed from https to http, even on the same host name: the
// attempt fails with a *RedirectError, and the plain server sees nothing.
func TestHTTPRedirectDowngrade(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(map[bool]string{false: "HTTP/1.1", true: "HTTP/2"}[h2], func(t *testing.T) {
			secure, plain := newOriginServer(t, true, h2), newOriginServer(t, false, false)
			client := namedClient(secure.Server)
			target := "http://example.com:" + plain.port() + "/stream"
			cases := map[string]string{
				"direct":       goTo("https://example.com:"+secure.port(), target),
				"via a second": goTo("https://example.com:"+secure.port(), goTo("https://example.com:"+secure.port(), target)),
			}
			for name, start := range cases {
				t.Run(name, func(t *testing.T) {
					for _, c := range []*http.Client{client, {Transport: client.Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return nil }}} {
						s, err := NewStream(start, WithErrorStrategy(AlwaysFail()), WithHTTPClient(c), WithHeader("Authorization", "Bearer s3cret"))
						if err != nil {
							t.Fatal(err)
						}
						var errs []error
						for _, err := range s.Events(t.Context()) {
							errs = append(errs, err)
						}
						s.Close()
						var re *RedirectError
						if len(errs) != 1 || !errors.As(errs[0], &re) || !re.Downgrade || re.URL != target {
							t.Fatalf("errors: got %v; want one *RedirectError, Downgrade to %s", errs, target)
						}
						if want := "sse: refused redirect from https to " + target; re.Error() != want {
							t.Errorf("text: got %q; want %q", re.Error(), want)
						}
					}
					if n := plain.log.count(); n != 0 {
						t.Errorf("the plain server got %d requests; want none", n)
					}
				})
			}
		})
	}
}

// A client's own CheckRedirect replaces the limit, not the origin rule: it
// sees the request without the credentials, and may put one back on purpose.
func TestHTTPRedirectClientPolicy(t *testing.T) {
	a, b := newOriginServer(t, true, true), newOriginServer(t, true, true)
	client := namedClient(a.Server)
	var seen []string
	client.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		seen = append(seen, req.Header.Get("Authorization"))
		req.Header.Set("X-Again", "on purpose")
		return nil
	}
	start := goTo("https://example.com:"+a.port(), "https://example.com:"+b.port()+"/stream")
	s, err := NewStream(start, WithHTTPClient(client), WithHeader("Authorization", "Bearer s3cret"), WithMaxRedirects(0))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, err := range s.Events(t.Context()) {
		if err != nil {
			t.Fatalf("got %v; want the event, the client's policy allowing the redirect", err)
		}
		break
	}
	if len(seen) != 1 || seen[0] != "" {
		t.Errorf("the client's CheckRedirect saw Authorization %q; want it dropped already", seen)
	}
	if reqs := b.log.get(); len(reqs) != 1 || reqs[0].header.Get("X-Again") != "on purpose" || reqs[0].header.Get("Authorization") != "" {
		t.Errorf("the other origin got %v; want one request with X-Again and no Authorization", reqs)
	}
}

// A server id that is not a valid header value (a control byte) is kept
// and reported as received, and the reconnection goes out without
// Last-Event-ID instead of failing in net/http on every attempt.
func TestHTTPUnsendableLastEventID(t *testing.T) {
	var log requestLog
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := log.record(r)
		eventStream(w)
		switch n {
		case 1:
			io.WriteString(w, "id: a\x01b\ndata: one\n\n")
		case 2:
			io.WriteString(w, "data: two\n\nid: 5\ndata: three\n\n")
		default:
			io.WriteString(w, "data: four\n\n")
		}
	})
	run(t, h, func(t *testing.T, srv *httptest.Server) {
		log = requestLog{}
		got, s := pullHTTP(t, srv, "", 9, WithInitialDelay(0), WithMinDelay(0), WithErrorStrategy(AlwaysContinue()))
		want := []string{
			describe(Start{Attempt: 1}), describe(Event{Type: "message", Data: "one", ID: "a\x01b", HasID: true, LastEventID: "a\x01b"}), describe(Fault{}),
			describe(Start{Attempt: 2}), describe(Event{Type: "message", Data: "two", LastEventID: "a\x01b"}),
			describe(Event{Type: "message", Data: "three", ID: "5", HasID: true, LastEventID: "5"}), describe(Fault{}),
			describe(Start{Attempt: 3}), describe(Event{Type: "message", Data: "four", LastEventID: "5"}),
		}
		var gotText []string
		for _, a := range got {
			gotText = append(gotText, describe(a))
		}
		if !slices.Equal(gotText, want) {
			t.Errorf("actions:\ngot  %q\nwant %q", gotText, want)
		}
		reqs := log.get()
		if len(reqs) != 3 {
			t.Fatalf("requests: got %d; want 3", len(reqs))
		}
		if v, sent := reqs[1].header["Last-Event-Id"]; sent {
			t.Errorf("second request: Last-Event-ID %q; want none", v)
		}
		if v := reqs[2].header.Get("Last-Event-ID"); v != "5" {
			t.Errorf("third request: Last-Event-ID %q; want 5", v)
		}
		if id := s.LastEventID(); id != "5" {
			t.Errorf("LastEventID: got %q; want 5", id)
		}
	})
}

// Start carries the response's status and header over HTTP, and nothing
// for a Source of one's own.
func TestHTTPStartResponse(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Stream", "v1")
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, "data: x\n\n")
	})
	run(t, h, func(t *testing.T, srv *httptest.Server) {
		got, _ := pullHTTP(t, srv, "", 1)
		st, ok := got[0].(Start)
		if !ok || st.Attempt != 1 || st.Status != http.StatusCreated || st.Header.Get("X-Stream") != "v1" {
			t.Errorf("first action: got %+v; want a Start with status 201 and the X-Stream header", got[0])
		}
	})
	s := newScripted(t, script(scriptStep{body: "data: x\n\n"}))
	defer s.Close()
	for a := range s.All(t.Context()) {
		if st, ok := a.(Start); !ok || st.Status != 0 || st.Header != nil {
			t.Errorf("first action from a Source: got %+v; want a Start without status or header", a)
		}
		break
	}
}

// A *StatusError and a *ContentTypeError carry the response's header and
// the start of its body (decoded, at most 4 KiB); their text stays short.
func TestHTTPErrorResponse(t *testing.T) {
	long := strings.Repeat("0123456789abcdef", 1000) // 16000 bytes
	var gzipped strings.Builder
	gz := gzip.NewWriter(&gzipped)
	io.WriteString(gz, "busy, come back later")
	gz.Close()
	tests := []struct {
		name        string
		status      int
		contentType string
		encoding    string
		body        string
		wantBody    string
		wantText    string
	}{
		{"500", 500, "text/plain", "", "boom", "boom", "sse: unexpected status 500 Internal Server Error"},
		{"599, unknown", 599, "text/plain", "", "", "", "sse: unexpected status 599"},
		{"404, long body", 404, "text/html", "", long, long[:4096], "sse: unexpected status 404 Not Found"},
		{"503, gzip body", 503, "text/plain", "gzip", gzipped.String(), "busy, come back later", "sse: unexpected status 503 Service Unavailable"},
		{"text/html", 200, "text/html", "", long, long[:4096], `sse: content type "text/html", want text/event-stream`},
		{"text/html, unknown encoding", 200, "text/html", "br", "\x01\x02", "\x01\x02", `sse: content type "text/html", want text/event-stream`},
	}
	for _, tt := range tests {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", tt.contentType)
			w.Header().Set("X-Reason", "maintenance")
			if tt.encoding != "" {
				w.Header().Set("Content-Encoding", tt.encoding)
			}
			w.WriteHeader(tt.status)
			io.WriteString(w, tt.body)
		})
		t.Run(tt.name, func(t *testing.T) {
			run(t, h, func(t *testing.T, srv *httptest.Server) {
				got, _ := pullHTTP(t, srv, "", 100)
				f, _ := lastFault(got)
				var se *StatusError
				var ce *ContentTypeError
				var header http.Header
				var body []byte
				switch {
				case errors.As(f.Err, &se):
					header, body = se.Header, se.Body
				case errors.As(f.Err, &ce):
					header, body = ce.Header, ce.Body
				default:
					t.Fatalf("actions: got %v; want a Fault with a *StatusError or *ContentTypeError", got)
				}
				if header.Get("X-Reason") != "maintenance" {
					t.Errorf("Header: got %v; want the response's, with X-Reason", header)
				}
				if string(body) != tt.wantBody || (tt.wantBody == "") != (body == nil) {
					t.Errorf("Body: got %q (%d bytes); want %q", body, len(body), tt.wantBody)
				}
				if f.Err.Error() != tt.wantText {
					t.Errorf("text: got %q; want %q", f.Err.Error(), tt.wantText)
				}
			})
		})
	}
}

// A server that trickles its error page cannot hold the attempt: the
// error comes a second after the response's head, with what came by then.
func TestHTTPErrorBodyTrickle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			resp, w := memResponse(r)
			resp.StatusCode = http.StatusBadGateway
			go func() {
				for {
					select {
					case <-r.Context().Done():
						return
					case <-time.After(300 * time.Millisecond):
					}
					if _, err := io.WriteString(w, "x"); err != nil {
						return // the body was closed
					}
				}
			}()
			return resp, nil
		})
		s, err := NewStream("http://stream.test/", WithHTTPClient(&http.Client{Transport: rt}))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		start := time.Now()
		for _, err := range s.Events(t.Context()) {
			var se *StatusError
			if !errors.As(err, &se) || string(se.Body) != "xxx" {
				t.Errorf("got %v; want a *StatusError with the 3 bytes sent in a second", err)
			}
		}
		if d := time.Since(start); d != time.Second {
			t.Errorf("the error came after %v; want 1s", d)
		}
	})
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	tests := []struct {
		value string
		want  time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"120", 120 * time.Second},
		{"007", 7 * time.Second},
		{"-5", 0},
		{"+5", 0},
		{"1.5", 0},
		{"5 ", 0},
		{"soon", 0},
		{"9223372036", 9223372036 * time.Second}, // the most seconds a Duration holds
		{"9223372037", math.MaxInt64},
		{"99999999999999999999999999", math.MaxInt64},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(90 * time.Second).Format(time.RFC850), 90 * time.Second},
		{now.Add(90 * time.Second).Format(time.ANSIC), 90 * time.Second},
		{now.Format(http.TimeFormat), 0},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{"Fri, 31 Dec 9999 23:59:59 GMT", math.MaxInt64},
		{"Mon, 01 Jan 0001 00:00:00 GMT", 0},
		{"Wed, 04 Mar 2026 05:07:37", 0}, // no zone: not an HTTP-date
	}
	for _, tt := range tests {
		if got := retryAfter(tt.value, now); got != tt.want {
			t.Errorf("retryAfter(%q): got %v; want %v", tt.value, got, tt.want)
		}
	}
}

// Retry-After is read on a 429 and a 503, and only there.
func TestHTTPRetryAfter(t *testing.T) {
	tests := []struct {
		status int
		value  string
		want   time.Duration
	}{
		{http.StatusServiceUnavailable, "120", 2 * time.Minute},
		{http.StatusTooManyRequests, "30", 30 * time.Second},
		{http.StatusTooManyRequests, "", 0},
		{http.StatusInternalServerError, "120", 0},
		{http.StatusMovedPermanently, "120", 0}, // no Location: a 3xx net/http does not follow
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d %q", tt.status, tt.value), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.value != "" {
					w.Header().Set("Retry-After", tt.value)
				}
				w.WriteHeader(tt.status)
			}))
			defer srv.Close()
			got, _ := pullHTTP(t, srv, "", 1)
			var se *StatusError
			if f, _ := lastFault(got); !errors.As(f.Err, &se) || se.Code != tt.status || se.RetryAfter != tt.want {
				t.Errorf("got %v (RetryAfter %v); want a *StatusError %d with RetryAfter %v", f.Err, se.RetryAfter, tt.status, tt.want)
			}
		})
	}
	// An HTTP-date is counted from now.
	synctest.Test(t, func(t *testing.T) {
		rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: http.StatusServiceUnavailable, Body: http.NoBody, Request: r,
				Header: http.Header{"Retry-After": {time.Now().Add(45 * time.Second).UTC().Format(http.TimeFormat)}}}, nil
		})
		s, _ := NewStream("http://stream.test/", WithHTTPClient(&http.Client{Transport: rt}))
		defer s.Close()
		for _, err := range s.Events(t.Context()) {
			var se *StatusError
			if !errors.As(err, &se) || se.RetryAfter != 45*time.Second {
				t.Errorf("got %v; want a *StatusError with RetryAfter 45s", err)
			}
		}
	})
}

// gzipStream writes events as a gzip body, flushing each one through, and
// then holds the connection open until the client goes.
func gzipStream(w http.ResponseWriter, r *http.Request, events ...string) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Content-Encoding", "gzip")
	w.WriteHeader(http.StatusOK)
	gz := gzip.NewWriter(w)
	for _, ev := range events {
		io.WriteString(gz, ev)
		gz.Flush()
		w.(http.Flusher).Flush()
	}
	<-r.Context().Done()
}

// WithCompression asks for gzip and decodes it as it arrives: each event
// comes out as soon as the server has flushed it, long before the gzip
// stream ends. Without it, the request asks for identity.
func TestHTTPCompression(t *testing.T) {
	var log requestLog
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.record(r)
		if r.Header.Get("Accept-Encoding") != "gzip" {
			eventStream(w)
			io.WriteString(w, "data: plain\n\n")
			return
		}
		gzipStream(w, r, "id: 1\ndata: one\n\n", ": keep-alive\n", "data: two\n\n")
	})
	run(t, h, func(t *testing.T, srv *httptest.Server) {
		for _, tt := range []struct {
			name string
			opts []Option
			want []string
			sent string
		}{
			{"default", nil, []string{"plain"}, "identity"},
			{"WithCompression", []Option{WithCompression()}, []string{"one", "two"}, "gzip"},
			{"WithHeader wins", []Option{WithCompression(), WithHeader("Accept-Encoding", "br;q=0")}, []string{"plain"}, "br;q=0"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				log = requestLog{}
				got := make(chan []string, 1)
				go func() {
					s, err := NewStream(srv.URL, append([]Option{WithHTTPClient(srv.Client())}, tt.opts...)...)
					if err != nil {
						t.Error(err)
						got <- nil
						return
					}
					defer s.Close()
					var data []string
					for ev, err := range s.Events(t.Context()) {
						if err != nil {
							t.Errorf("error %v; want the events", err)
							break
						}
						if data = append(data, ev.Data); len(data) == len(tt.want) {
							break
						}
					}
					got <- data
				}()
				select {
				case data := <-got:
					if !slices.Equal(data, tt.want) {
						t.Errorf("events: got %q; want %q", data, tt.want)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("the events did not come while the gzip stream was open")
				}
				if reqs := log.get(); len(reqs) != 1 || strings.Join(reqs[0].header.Values("Accept-Encoding"), ",") != tt.sent {
					t.Errorf("requests: got %v; want one with Accept-Encoding %q", reqs, tt.sent)
				}
			})
		}
	})
}

// A body in an encoding the stream cannot decode fails the attempt with a
// *ContentEncodingError, never as an orderly end without events; a gzip
// body is decoded even when the request asked for identity.
func TestHTTPContentEncoding(t *testing.T) {
	tests := []struct {
		encoding string
		wantErr  string // the ContentEncodingError's Encoding; "" for the events
	}{
		{"gzip", ""},
		{"x-gzip", ""},
		{"identity", ""},
		{"identity, GZIP", ""},
		{"br", "br"},
		{"deflate", "deflate"},
		{"gzip, br", "gzip, br"},
		{"gzip, gzip", "gzip, gzip"},
	}
	for _, tt := range tests {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body := "data: one\n\ndata: two\n\n"
			if strings.Contains(strings.ToLower(tt.encoding), "gzip") && tt.wantErr == "" {
				var b strings.Builder
				gz := gzip.NewWriter(&b)
				io.WriteString(gz, body)
				gz.Close()
				body = b.String()
			}
			w.Header().Set("Content-Type", "text/event-stream")
			w.Header().Set("Content-Encoding", tt.encoding)
			io.WriteString(w, body)
		})
		t.Run(tt.encoding, func(t *testing.T) {
			run(t, h, func(t *testing.T, srv *httptest.Server) {
				got, _ := pullHTTP(t, srv, "", 100, WithHeader("Accept-Encoding", "br, gzip"))
				f, _ := lastFault(got)
				var ee *ContentEncodingError
				if tt.wantErr == "" {
					if len(got) != 4 || f.Err != nil {
						t.Errorf("actions: got %v; want start, two events, the end", got)
					}
					return
				}
				if len(got) != 1 || !errors.As(f.Err, &ee) || ee.Encoding != tt.wantErr || !f.Final {
					t.Errorf("actions: got %v; want one final Fault with a *ContentEncodingError for %q", got, tt.wantErr)
				}
				if et := classify(f.Err).reason(); et != "content_encoding" {
					t.Errorf("error.type: got %q; want content_encoding", et)
				}
			})
		})
	}
}

// TestHTTPRefusedConnection dials a real closed port: each refusal is a
// Fault named for it, retried after the backoff until the strategy gives up,
// and Start and Wait report the refusal.
func TestHTTPRefusedConnection(t *testing.T) {
	url := "http://" + refusedAddr(t) + "/"
	d, err := New(url, WithHTTPClient(testClient(t)), WithErrorStrategy(ContinueWithMaxAttempts(2)),
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

// TestHTTPRedirectLoop checks that a redirect loop fails
// with a *RedirectError once the bound is passed, after exactly bound+1
// requests.
func TestHTTPRedirectLoop(t *testing.T) {
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

// TestHTTPRedirectToAnotherHost checks that a redirect to
// another host (127.0.0.1 to localhost) drops Authorization, Cookie and
// other headers of the caller's (they may carry a key); a redirect on the
// same host keeps them all.
func TestHTTPRedirectToAnotherHost(t *testing.T) {
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
