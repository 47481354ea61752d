package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// wait bounds every wait for something that should happen promptly; it is
// generous because only a broken service reaches it.
const wait = 10 * time.Second

// harness plays the contract harness's role: it runs the service, an SSE
// server the instances read, and a callback server they report to.
type harness struct {
	t      *testing.T
	svc    *service
	api    *httptest.Server
	client *http.Client // for the API, with connections of its own
	stream *streamServer
	cb     *callbackServer
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, client: &http.Client{Transport: &http.Transport{}}}
	h.stream = newStreamServer(t)
	h.cb = newCallbackServer(t)
	h.svc = newService(quietLog())
	h.api = httptest.NewServer(h.svc)
	t.Cleanup(func() {
		h.svc.Close()
		h.api.Close()
		h.client.CloseIdleConnections()
	})
	return h
}

// create starts an instance reading h.stream and reporting to h.cb, with
// extra parameters, and returns its URL.
func (h *harness) create(extra map[string]any) string {
	h.t.Helper()
	params := map[string]any{"streamUrl": h.stream.URL, "callbackUrl": h.cb.URL + "/cb", "tag": h.t.Name()}
	for k, v := range extra {
		params[k] = v
	}
	return mustCreate(h.t, h.client, h.api.URL, params)
}

// do sends a request to the service and returns the reply's status.
func (h *harness) do(method, url, body string) int {
	h.t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, url, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// next returns the next callback, as the JSON the service sent.
func (h *harness) next() string {
	h.t.Helper()
	select {
	case m := <-h.cb.msgs:
		return m
	case <-time.After(wait):
		h.t.Fatal("no callback arrived")
		return ""
	}
}

// expect checks that the next callbacks are exactly want, in order.
func (h *harness) expect(want ...string) {
	h.t.Helper()
	for i, w := range want {
		if got := h.next(); got != w {
			h.t.Fatalf("callback %d of %d: got %s; want %s", i+1, len(want), got, w)
		}
	}
}

// expectError checks that the next callback reports an error, and returns
// its text.
func (h *harness) expectError() string {
	h.t.Helper()
	got := h.next()
	var m struct{ Kind, Comment string }
	if err := json.Unmarshal([]byte(got), &m); err != nil || m.Kind != "error" || m.Comment == "" {
		h.t.Fatalf("got callback %s; want an error with a comment", got)
	}
	return m.Comment
}

func createRaw(t *testing.T, client *http.Client, base, body string) (int, string) {
	t.Helper()
	resp, err := client.Post(base+"/", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST / %s: %v", body, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location")
}

// streamServer is an SSE endpoint whose connections the test drives.
type streamServer struct {
	*httptest.Server
	conns    chan *streamConn
	requests atomic.Int32
	mu       sync.Mutex
	statuses []int         // replies to the first requests instead of a stream
	quit     chan struct{} // ends every connection at cleanup
}

// streamConn is one request to the stream server.
type streamConn struct {
	method string
	header http.Header
	body   string
	send   chan string   // chunks to write
	end    chan struct{} // close to end the response in an orderly way
	abort  chan struct{} // close to cut the connection mid-response
	gone   chan struct{} // closed when the handler has returned
}

func newStreamServer(t *testing.T) *streamServer {
	s := &streamServer{conns: make(chan *streamConn, 16), quit: make(chan struct{})}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		close(s.quit)
		s.Close()
	})
	return s
}

func (s *streamServer) serve(w http.ResponseWriter, r *http.Request) {
	n := int(s.requests.Add(1))
	s.mu.Lock()
	status := http.StatusOK
	if n <= len(s.statuses) {
		status = s.statuses[n-1]
	}
	s.mu.Unlock()
	if status != http.StatusOK {
		w.WriteHeader(status)
		return
	}
	body, _ := io.ReadAll(r.Body)
	c := &streamConn{method: r.Method, header: r.Header.Clone(), body: string(body),
		send: make(chan string, 16), end: make(chan struct{}), abort: make(chan struct{}),
		gone: make(chan struct{})}
	defer close(c.gone)
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	w.(http.Flusher).Flush()
	select {
	case s.conns <- c:
	case <-r.Context().Done():
		return
	case <-s.quit:
		return
	}
	for {
		select {
		case chunk := <-c.send:
			io.WriteString(w, chunk)
			w.(http.Flusher).Flush()
		case <-c.end:
			return
		case <-c.abort:
			panic(http.ErrAbortHandler) // net/http drops the connection, unterminated
		case <-r.Context().Done():
			return
		case <-s.quit:
			return
		}
	}
}

// reply makes the server answer its next requests with these statuses, one
// each, instead of a stream.
func (s *streamServer) reply(statuses ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.statuses = statuses
}

// accept returns the next connection.
func (s *streamServer) accept(t *testing.T) *streamConn {
	t.Helper()
	select {
	case c := <-s.conns:
		return c
	case <-time.After(wait):
		t.Fatal("the instance did not connect")
		return nil
	}
}

// awaitGone waits until the client has dropped c.
func (c *streamConn) awaitGone(t *testing.T) {
	t.Helper()
	select {
	case <-c.gone:
	case <-time.After(wait):
		t.Fatal("the instance did not drop its connection")
	}
}

// callbackServer receives callbacks at /cb/N and checks they come one at a
// time, numbered 1, 2, 3...
type callbackServer struct {
	*httptest.Server
	t     *testing.T
	msgs  chan string
	mu    sync.Mutex
	next  int
	busy  bool
	block chan struct{} // if not nil, replies wait for it (see stall)
	quit  chan struct{}
}

func newCallbackServer(t *testing.T) *callbackServer {
	s := &callbackServer{t: t, msgs: make(chan string, 1000), next: 1, quit: make(chan struct{})}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		close(s.quit)
		s.Close()
	})
	return s
}

// stall makes every reply wait until the test ends, like a stuck harness.
func (s *callbackServer) stall() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.block = make(chan struct{}) // never closed
}

func (s *callbackServer) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	dir, num := path.Split(r.URL.Path)
	n, err := strconv.Atoi(num)
	s.mu.Lock()
	switch {
	case r.Method != http.MethodPost || dir != "/cb/" || err != nil:
		s.t.Errorf("callback %s %s: want POST /cb/N", r.Method, r.URL.Path)
	case s.busy:
		s.t.Errorf("callback %d arrived before the previous one was answered", n)
	case n != s.next:
		s.t.Errorf("callback numbered %d; want %d", n, s.next)
	}
	s.next = n + 1
	s.busy = true
	block := s.block
	s.mu.Unlock()
	s.msgs <- string(body)
	if block != nil {
		select {
		case <-block:
		case <-r.Context().Done():
		case <-s.quit:
		}
	}
	s.mu.Lock()
	s.busy = false
	s.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

func TestCapabilities(t *testing.T) {
	h := newHarness(t)
	resp, err := h.client.Get(h.api.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct{ Capabilities []string }
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	want := []string{"bom", "comments", "headers", "last-event-id", "post", "report", "read-timeout",
		"restart", "server-directed-shutdown-request"}
	slices.Sort(got.Capabilities)
	slices.Sort(want)
	if resp.StatusCode != http.StatusOK || !slices.Equal(got.Capabilities, want) {
		t.Errorf("GET /: got %d %q; want 200 %q", resp.StatusCode, got.Capabilities, want)
	}
}

func TestCreateReturnsInstanceURL(t *testing.T) {
	h := newHarness(t)
	loc := h.create(nil)
	if !strings.HasPrefix(loc, h.api.URL+"/streams/") {
		t.Fatalf("Location %q: want an absolute URL under %s/streams/", loc, h.api.URL)
	}
	h.stream.accept(t)
	if got := h.do(http.MethodPost, loc, `{"command":"restart"}`); got != http.StatusNoContent {
		t.Errorf("POST %s: got %d; want 204", loc, got)
	}
}

func TestCallbacksInStreamOrder(t *testing.T) {
	h := newHarness(t)
	h.create(map[string]any{"initialDelayMs": 0})
	c := h.stream.accept(t)
	c.send <- ":hello\n"
	c.send <- "event: put\nid: 1\ndata: a\ndata: b\n\n"
	c.send <- "data: c\n\n"             // no id field: the last event ID stays 1
	c.send <- "id: x\x00y\ndata: d\n\n" // an id containing NUL is ignored
	c.send <- "id\ndata: e\n\n"         // an empty id resets it
	c.send <- ": bye\n"
	h.expect(
		`{"kind":"comment","comment":"hello"}`,
		`{"kind":"event","event":{"type":"put","data":"a\nb","id":"1"}}`,
		`{"kind":"event","event":{"type":"message","data":"c","id":"1"}}`,
		`{"kind":"event","event":{"type":"message","data":"d","id":"1"}}`,
		`{"kind":"event","event":{"type":"message","data":"e"}}`,
		`{"kind":"comment","comment":" bye"}`,
	)
}

// TestManyEvents checks order and numbering over more callbacks than fit in
// one queue batch.
func TestManyEvents(t *testing.T) {
	h := newHarness(t)
	h.create(nil)
	c := h.stream.accept(t)
	var all strings.Builder
	var want []string
	for i := range 200 {
		fmt.Fprintf(&all, "data: message %d\n\n", i)
		want = append(want, fmt.Sprintf(`{"kind":"event","event":{"type":"message","data":"message %d"}}`, i))
	}
	c.send <- all.String()
	h.expect(want...)
}

func TestCommentReportedBeforeEventEnds(t *testing.T) {
	h := newHarness(t)
	h.create(nil)
	c := h.stream.accept(t)
	c.send <- ":first\ndata: x\n"
	h.expect(`{"kind":"comment","comment":"first"}`) // the event is not finished yet
	c.send <- "\n"
	h.expect(`{"kind":"event","event":{"type":"message","data":"x"}}`)
}

func TestBOM(t *testing.T) {
	h := newHarness(t)
	h.create(nil)
	c := h.stream.accept(t)
	c.send <- "\xEF"
	c.send <- "\xBB"
	c.send <- "\xBF:c\ndata: x\n\n"
	c.send <- "data: \xEF\xBB\xBFy\n\n"
	h.expect(
		`{"kind":"comment","comment":"c"}`,
		`{"kind":"event","event":{"type":"message","data":"x"}}`,
		"{\"kind\":\"event\",\"event\":{\"type\":\"message\",\"data\":\"\uFEFFy\"}}",
	)
}

// TestRestart checks that restart drops the connection and reconnects, and
// that no error callback comes between the two connections' events.
func TestRestart(t *testing.T) {
	h := newHarness(t)
	loc := h.create(map[string]any{"initialDelayMs": 0})
	c1 := h.stream.accept(t)
	c1.send <- "data: Hello\n\n"
	h.expect(`{"kind":"event","event":{"type":"message","data":"Hello"}}`)
	if got := h.do(http.MethodPost, loc, `{"command":"restart"}`); got != http.StatusNoContent {
		t.Fatalf("restart: got %d; want 204", got)
	}
	c1.awaitGone(t)
	c2 := h.stream.accept(t)
	c2.send <- "data: Thanks\n\n"
	h.expect(`{"kind":"event","event":{"type":"message","data":"Thanks"}}`)
}

func TestReadTimeoutReconnects(t *testing.T) {
	h := newHarness(t)
	// A real 100ms of silence: the timeout is what is under test.
	h.create(map[string]any{"initialDelayMs": 0, "readTimeoutMs": 100})
	c1 := h.stream.accept(t)
	c1.send <- "data: Hello\n\n"
	h.expect(`{"kind":"event","event":{"type":"message","data":"Hello"}}`)
	h.expectError()
	c1.awaitGone(t)
	c2 := h.stream.accept(t)
	c2.send <- "data: again\n\n"
	h.expect(`{"kind":"event","event":{"type":"message","data":"again"}}`)
}

func TestLastEventIDOnReconnect(t *testing.T) {
	h := newHarness(t)
	h.create(map[string]any{"initialDelayMs": 0})
	c1 := h.stream.accept(t)
	if v, ok := c1.header["Last-Event-Id"]; ok {
		t.Errorf("first request: got Last-Event-ID %q; want none", v)
	}
	c1.send <- "id: abc\ndata: Hello\n\ndata: World\n\nid: def\ndata: cut off"
	h.expect(
		`{"kind":"event","event":{"type":"message","data":"Hello","id":"abc"}}`,
		`{"kind":"event","event":{"type":"message","data":"World","id":"abc"}}`,
	)
	close(c1.end)
	h.expectError() // the server ended the stream

	c2 := h.stream.accept(t)
	if got := c2.header.Get("Last-Event-ID"); got != "abc" {
		t.Errorf("reconnection: got Last-Event-ID %q; want abc (the unfinished block's id is dropped)", got)
	}
	c2.send <- "data: again\n\nid:\ndata: reset\n\n"
	h.expect(
		`{"kind":"event","event":{"type":"message","data":"again","id":"abc"}}`,
		`{"kind":"event","event":{"type":"message","data":"reset"}}`,
	)
	close(c2.end)
	h.expectError()

	c3 := h.stream.accept(t)
	if v, ok := c3.header["Last-Event-Id"]; ok {
		t.Errorf("after an empty id: got Last-Event-ID %q; want none", v)
	}
}

func TestPresetLastEventID(t *testing.T) {
	h := newHarness(t)
	h.create(map[string]any{"lastEventId": "xyz"})
	c := h.stream.accept(t)
	if got := c.header.Get("Last-Event-ID"); got != "xyz" {
		t.Errorf("first request: got Last-Event-ID %q; want xyz", got)
	}
	c.send <- "data: a\n\n"
	h.expect(`{"kind":"event","event":{"type":"message","data":"a","id":"xyz"}}`)
}

func TestMethodAndBody(t *testing.T) {
	tests := []struct {
		name            string
		params          map[string]any
		wantMethod      string
		wantContentType string
	}{
		{
			name: "POST with content type",
			params: map[string]any{"method": "POST", "body": `{"hello": "world"}`,
				"headers": map[string]string{"content-type": "application/json; charset=utf-8"}},
			wantMethod: "POST", wantContentType: "application/json; charset=utf-8",
		},
		{
			name:       "REPORT without content type",
			params:     map[string]any{"method": "REPORT", "body": `{"hello": "world"}`},
			wantMethod: "REPORT", wantContentType: "text/plain",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			tt.params["initialDelayMs"] = 0
			h.create(tt.params)
			for i := range 2 {
				c := h.stream.accept(t)
				got := []string{c.method, c.header.Get("Content-Type"), c.body}
				want := []string{tt.wantMethod, tt.wantContentType, `{"hello": "world"}`}
				if !slices.Equal(got, want) {
					t.Errorf("request %d: got method, content type, body %q; want %q", i+1, got, want)
				}
				close(c.end) // the next request is a reconnection
			}
		})
	}
}

func TestCustomHeaders(t *testing.T) {
	h := newHarness(t)
	h.create(map[string]any{"initialDelayMs": 0,
		"headers": map[string]string{"header-name-1": "value-1", "authorization": "Bearer t"}})
	for i := range 2 {
		c := h.stream.accept(t)
		got := []string{c.header.Get("Header-Name-1"), c.header.Get("Authorization"),
			c.header.Get("Accept"), c.header.Get("Cache-Control")}
		want := []string{"value-1", "Bearer t", "text/event-stream", "no-cache"}
		if !slices.Equal(got, want) {
			t.Errorf("request %d: got headers %q; want %q", i+1, got, want)
		}
		close(c.end)
	}
}

// TestErrorStatusThenReconnect: a failed request is reported, and the
// always-continue strategy tries again.
func TestErrorStatusThenReconnect(t *testing.T) {
	h := newHarness(t)
	h.stream.reply(http.StatusInternalServerError)
	h.create(map[string]any{"initialDelayMs": 0})
	if msg := h.expectError(); !strings.Contains(msg, "500") {
		t.Errorf("error callback %q: want it to name status 500", msg)
	}
	c := h.stream.accept(t)
	c.send <- "data: ok\n\n"
	h.expect(`{"kind":"event","event":{"type":"message","data":"ok"}}`)
}

// Test204StopsReconnects: a 204 is reported once and no request follows,
// even with initialDelayMs 0 under the always-continue strategy.
func Test204StopsReconnects(t *testing.T) {
	h := newHarness(t)
	h.stream.reply(http.StatusNoContent)
	loc := h.create(map[string]any{"initialDelayMs": 0})
	h.expectError()
	in := h.svc.instance(path.Base(loc))
	if in == nil {
		t.Fatalf("no instance for %s", loc)
	}
	select {
	case <-in.ran: // the dispatcher has stopped for good
	case <-time.After(wait):
		t.Fatal("the instance kept running after a 204")
	}
	if got := h.stream.requests.Load(); got != 1 {
		t.Errorf("got %d requests; want 1", got)
	}
}

func TestBadRequests(t *testing.T) {
	h := newHarness(t)
	good := fmt.Sprintf(`"streamUrl": %q, "callbackUrl": %q`, h.stream.URL, h.cb.URL+"/cb")
	creates := []struct{ name, body string }{
		{"not JSON", `{"streamUrl": `},
		{"not an object", `[1, 2]`},
		{"null", `null`},
		{"no streamUrl", fmt.Sprintf(`{"callbackUrl": %q}`, h.cb.URL)},
		{"no callbackUrl", fmt.Sprintf(`{"streamUrl": %q}`, h.stream.URL)},
		{"relative callbackUrl", fmt.Sprintf(`{"streamUrl": %q, "callbackUrl": "/cb"}`, h.stream.URL)},
		{"streamUrl not http", fmt.Sprintf(`{"streamUrl": "ftp://x/", "callbackUrl": %q}`, h.cb.URL)},
		{"negative initialDelayMs", `{` + good + `, "initialDelayMs": -1}`},
		{"negative readTimeoutMs", `{` + good + `, "readTimeoutMs": -5}`},
		{"initialDelayMs not a number", `{` + good + `, "initialDelayMs": "soon"}`},
		{"bad method", `{` + good + `, "method": "NOT A METHOD"}`},
		{"headers not strings", `{` + good + `, "headers": {"a": 1}}`},
	}
	for _, tt := range creates {
		t.Run("create/"+tt.name, func(t *testing.T) {
			if got, _ := createRaw(t, h.client, h.api.URL, tt.body); got != http.StatusBadRequest {
				t.Errorf("POST / %s: got %d; want 400", tt.body, got)
			}
		})
	}
	if got, _ := createRaw(t, h.client, h.api.URL, `{`+good+`, "initialDelayMs": null, "readTimeoutMs": null}`); got != http.StatusCreated {
		t.Errorf("POST / with null optional numbers: got %d; want 201", got)
	}

	loc := h.create(nil)
	missing := h.api.URL + "/streams/999"
	requests := []struct {
		name, method, url, body string
		want                    int
	}{
		{"unknown command", http.MethodPost, loc, `{"command": "dance"}`, http.StatusBadRequest},
		{"no command", http.MethodPost, loc, `{}`, http.StatusBadRequest},
		{"command not JSON", http.MethodPost, loc, `restart`, http.StatusBadRequest},
		{"listen is accepted", http.MethodPost, loc, `{"command": "listen", "listen": {"type": "x"}}`, http.StatusNoContent},
		{"command to unknown instance", http.MethodPost, missing, `{"command": "restart"}`, http.StatusNotFound},
		{"delete unknown instance", http.MethodDelete, missing, ``, http.StatusNotFound},
		{"delete", http.MethodDelete, loc, ``, http.StatusNoContent},
		{"delete again", http.MethodDelete, loc, ``, http.StatusNotFound},
		{"command after delete", http.MethodPost, loc, `{"command": "restart"}`, http.StatusNotFound},
	}
	for _, tt := range requests {
		if got := h.do(tt.method, tt.url, tt.body); got != tt.want {
			t.Errorf("%s: %s %s %s: got %d; want %d", tt.name, tt.method, tt.url, tt.body, got, tt.want)
		}
	}
}

// TestDeleteLeavesNothingRunning deletes an instance while the callback
// server sits on a reply and events are still queued: the delete must not
// wait for the harness, and no goroutine of the instance may survive it.
func TestDeleteLeavesNothingRunning(t *testing.T) {
	h := newHarness(t)
	h.cb.stall()
	ignore := goleak.IgnoreCurrent()
	loc := h.create(nil)
	c := h.stream.accept(t)
	c.send <- "data: 1\n\ndata: 2\n\ndata: 3\n\n"
	h.next() // callback 1 has arrived, and will not be answered

	deleted := make(chan int, 1)
	go func() { deleted <- h.do(http.MethodDelete, loc, "") }()
	select {
	case got := <-deleted:
		if got != http.StatusNoContent {
			t.Fatalf("DELETE %s: got %d; want 204", loc, got)
		}
	case <-time.After(wait):
		t.Fatal("DELETE waited for the stuck callback server")
	}
	c.awaitGone(t)
	h.svc.client.CloseIdleConnections()
	h.client.CloseIdleConnections()
	goleak.VerifyNone(t, ignore)
}

func TestDefaultRequest(t *testing.T) {
	h := newHarness(t)
	h.create(nil)
	c := h.stream.accept(t)
	got := []string{c.method, c.body, c.header.Get("Accept"), c.header.Get("Cache-Control"), c.header.Get("Content-Type")}
	want := []string{"GET", "", "text/event-stream", "no-cache", ""}
	if !slices.Equal(got, want) {
		t.Errorf("got method, body, Accept, Cache-Control, Content-Type %q; want %q", got, want)
	}
	if v, ok := c.header["Last-Event-Id"]; ok {
		t.Errorf("got Last-Event-ID %q; want none", v)
	}
}

// TestLineEndingsByteByByte sends each stream one byte per write, so every
// event is reported only once its last line ending has arrived.
func TestLineEndingsByteByByte(t *testing.T) {
	for _, eol := range []string{"\n", "\r\n", "\r"} {
		t.Run(strconv.Quote(eol), func(t *testing.T) {
			h := newHarness(t)
			h.create(nil)
			c := h.stream.accept(t)
			in := "data: event 1" + eol + eol + eol + "data:" + eol + "data: line2" + eol + eol
			go func() {
				for i := range len(in) {
					select {
					case c.send <- in[i : i+1]:
					case <-c.gone:
						return
					}
				}
			}()
			h.expect(
				`{"kind":"event","event":{"type":"message","data":"event 1"}}`,
				`{"kind":"event","event":{"type":"message","data":"\nline2"}}`,
			)
		})
	}
}

func TestRedirects(t *testing.T) {
	for _, code := range []int{http.StatusMovedPermanently, http.StatusTemporaryRedirect} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			h := newHarness(t)
			redirect := httptest.NewServer(http.RedirectHandler(h.stream.URL, code))
			defer redirect.Close()
			h.create(map[string]any{"streamUrl": redirect.URL})
			c := h.stream.accept(t)
			c.send <- "data: hello\n\n"
			h.expect(`{"kind":"event","event":{"type":"message","data":"hello"}}`)
		})
		t.Run(strconv.Itoa(code)+" without Location", func(t *testing.T) {
			h := newHarness(t)
			broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(code)
			}))
			defer broken.Close()
			h.create(map[string]any{"streamUrl": broken.URL})
			if msg := h.expectError(); !strings.Contains(msg, strconv.Itoa(code)) {
				t.Errorf("error callback %q: want it to name status %d", msg, code)
			}
		})
	}
}

// TestBrokenConnection cuts a connection in the middle of an event: the
// unfinished event and its id are dropped, exactly one error is reported,
// and the reconnection resumes from the last complete event.
func TestBrokenConnection(t *testing.T) {
	h := newHarness(t)
	h.create(map[string]any{"initialDelayMs": 0})
	c1 := h.stream.accept(t)
	c1.send <- "id: abc\ndata: Hello\n\nid: def\ndata: Goodbye"
	h.expect(`{"kind":"event","event":{"type":"message","data":"Hello","id":"abc"}}`)
	close(c1.abort)
	h.expectError()
	c2 := h.stream.accept(t)
	if got := c2.header.Get("Last-Event-ID"); got != "abc" {
		t.Errorf("reconnection: got Last-Event-ID %q; want abc", got)
	}
	c2.send <- "data: We meet again\n\n"
	h.expect(`{"kind":"event","event":{"type":"message","data":"We meet again","id":"abc"}}`)
}

// TestLargeEvent: the harness sends events of megabytes; nothing in
// the service may cut them short.
func TestLargeEvent(t *testing.T) {
	h := newHarness(t)
	h.create(nil)
	c := h.stream.accept(t)
	data := strings.Repeat("x", 2*maxRequestBody) // above every limit of the service
	c.send <- "data: " + data + "\n\n"
	want := `{"kind":"event","event":{"type":"message","data":"` + data + `"}}`
	if got := h.next(); got != want {
		t.Errorf("got a callback of %d bytes starting %.60q; want %d bytes", len(got), got, len(want))
	}
}

// TestDeleteRightAfterCreate closes instances whose first connection may
// still be starting, as a harness whose test fails early does.
func TestDeleteRightAfterCreate(t *testing.T) {
	h := newHarness(t)
	for range 50 {
		loc := h.create(nil)
		if got := h.do(http.MethodDelete, loc, ""); got != http.StatusNoContent {
			t.Fatalf("DELETE %s: got %d; want 204", loc, got)
		}
	}
}
