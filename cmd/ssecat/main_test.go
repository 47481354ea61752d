package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ssekit/sse"
	"github.com/ssekit/sse/ssetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) { removeBuild() }))
}

// result is what one run of the command produced.
type result struct {
	code           int
	stdout, stderr string
}

// runCmd runs the command with args and stdin, as main would.
func runCmd(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), args, strings.NewReader(stdin), &stdout, &stderr)
	return result{code, stdout.String(), stderr.String()}
}

// serve starts a test server that answers every request with body as an
// event stream, and ends it.
func serve(t *testing.T, body string) *httptest.Server {
	t.Helper()
	return serveFunc(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, body)
	})
}

func serveFunc(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// eventLine is one line of the JSON output, time aside.
type eventLine struct {
	Type        string `json:"type"`
	Data        string `json:"data"`
	ID          string `json:"id"`
	LastEventID string `json:"last_event_id"`
}

// timeField matches the time of a JSON line, the one field a test cannot
// predict.
var timeField = regexp.MustCompile(`"time":"[^"]*"`)

// parseJSONLines decodes the JSON output strictly: every line one object
// with exactly the documented fields, and a time between since and now.
func parseJSONLines(t *testing.T, out string, since time.Time) []eventLine {
	t.Helper()
	var got []eventLine
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var v struct {
			eventLine
			Time time.Time `json:"time"`
		}
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if v.Time.Before(since) || v.Time.After(time.Now()) || v.Time.Location() != time.UTC {
			t.Errorf("line %q: time %v not in UTC between %v and now", sc.Text(), v.Time, since)
		}
		got = append(got, v.eventLine)
	}
	return got
}

func equalLines(t *testing.T, got, want []eventLine) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d events %+v; want %d %+v", len(got), got, len(want), want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d: got %+v; want %+v", i, got[i], want[i])
		}
	}
}

const sampleStream = "retry: 5000\n: hello\n\n" +
	"event: greeting\nid: 1\ndata: hi\n\n" +
	"data: line one\ndata: line two\n\n" +
	"event: price\nid: 7\ndata: {\"px\":1,\"note\":\"<b>&</b>\"}\n\n"

func TestJSONOutput(t *testing.T) {
	srv := serve(t, sampleStream)
	since := time.Now()
	r := runCmd(t, "", "--max-retries", "0", srv.URL)
	if r.code != 0 {
		t.Fatalf("exit %d; want 0 (stderr %q)", r.code, r.stderr)
	}
	equalLines(t, parseJSONLines(t, r.stdout, since), []eventLine{
		{"greeting", "hi", "1", "1"},
		{"message", "line one\nline two", "", "1"},
		{"price", `{"px":1,"note":"<b>&</b>"}`, "7", "7"},
	})
	// The exact text too: key order, one object per line, HTML not escaped.
	wantText := `{"type":"greeting","data":"hi","id":"1","last_event_id":"1","time":T}
{"type":"message","data":"line one\nline two","id":"","last_event_id":"1","time":T}
{"type":"price","data":"{\"px\":1,\"note\":\"<b>&</b>\"}","id":"7","last_event_id":"7","time":T}
`
	if got := timeField.ReplaceAllString(r.stdout, `"time":T`); got != wantText {
		t.Errorf("stdout:\n%s\nwant:\n%s", got, wantText)
	}
	if want := "ssecat: stream ended by the server\n"; r.stderr != want {
		t.Errorf("stderr %q; want %q", r.stderr, want)
	}
}

func TestJSONComments(t *testing.T) {
	srv := serve(t, ": ping\n\ndata: x\n\n")
	r := runCmd(t, "", "--comments", "--json", "--max-retries", "0", srv.URL)
	want := `{"comment":" ping","time":T}
{"type":"message","data":"x","id":"","last_event_id":"","time":T}
`
	if got := timeField.ReplaceAllString(r.stdout, `"time":T`); got != want || r.code != 0 {
		t.Errorf("exit %d, stdout:\n%s\nwant exit 0 and:\n%s", r.code, got, want)
	}
}

func TestPrettyOutput(t *testing.T) {
	srv := serve(t, sampleStream+"event: evil\x1b[2J\ndata: red \x1b[31malert\x07\n\n")
	t.Run("color", func(t *testing.T) {
		t.Setenv("NO_COLOR", "")
		t.Setenv("TERM", "xterm-256color")
		r := runCmd(t, "", "--pretty", "--comments", "--max-retries", "0", srv.URL)
		want := "\x1b[2m: hello\x1b[0m\n" +
			"\x1b[1;36mgreeting\x1b[0m \x1b[33m#1\x1b[0m hi\n" +
			"\x1b[1;36mmessage\x1b[0m\n  line one\n  line two\n" +
			"\x1b[1;36mprice\x1b[0m \x1b[33m#7\x1b[0m {\"px\":1,\"note\":\"<b>&</b>\"}\n" +
			"\x1b[1;36mevil\\x1b[2J\x1b[0m red \\x1b[31malert\\x07\n"
		wantErr := "\x1b[2m-- stream ended by the server\x1b[0m\n"
		if r.code != 0 || r.stdout != want || r.stderr != wantErr {
			t.Errorf("exit %d, stdout:\n%q\nstderr %q\nwant exit 0, stdout:\n%q\nstderr %q", r.code, r.stdout, r.stderr, want, wantErr)
		}
	})
	t.Run("NO_COLOR", func(t *testing.T) {
		t.Setenv("NO_COLOR", "1")
		r := runCmd(t, "", "--pretty", "--max-retries", "0", srv.URL)
		want := "greeting #1 hi\n" +
			"message\n  line one\n  line two\n" +
			"price #7 {\"px\":1,\"note\":\"<b>&</b>\"}\n" +
			"evil\\x1b[2J red \\x1b[31malert\\x07\n"
		wantErr := "-- stream ended by the server\n"
		if r.code != 0 || r.stdout != want || r.stderr != wantErr {
			t.Errorf("exit %d, stdout:\n%s\nstderr %q\nwant exit 0, stdout:\n%s\nstderr %q", r.code, r.stdout, r.stderr, want, wantErr)
		}
	})
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

func TestErrors(t *testing.T) {
	refused := refusedAddr(t)
	notFound := serveFunc(t, http.NotFound)
	html := serveFunc(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<p>hello</p>")
	})
	noContent := serveFunc(t, func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	silent := serveFunc(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		http.NewResponseController(w).Flush()
		<-r.Context().Done()
	})
	const usageLine = "usage: ssecat [flags] URL (ssecat -h for help)\n"

	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"refused", []string{"--max-retries", "0", "http://" + refused + "/"}, 1,
			"ssecat: cannot connect to " + refused + ": connection refused\n"},
		{"not found", []string{notFound.URL}, 1, "ssecat: server answered 404 Not Found: 404 page not found\n"},
		{"content type", []string{html.URL}, 1,
			"ssecat: server sent content type \"text/html; charset=utf-8\", want text/event-stream: <p>hello</p>\n"},
		{"204 stops", []string{noContent.URL}, 0, "ssecat: server asked the client to stop (204 No Content)\n"},
		{"read timeout", []string{"--max-retries", "0", "--read-timeout", "50ms", silent.URL}, 1,
			"ssecat: no data received for 50ms (read timeout)\n"},
		{"scheme", []string{"ftp://example.com/"}, 2,
			"ssecat: bad URL \"ftp://example.com/\": want an http:// or https:// URL\n"},
		{"no scheme", []string{"localhost:8080/events"}, 2,
			"ssecat: bad URL \"localhost:8080/events\": want an http:// or https:// URL\n"},
		{"no host", []string{"http:///events"}, 2, "ssecat: bad URL \"http:///events\": no host\n"},
		{"unparsable URL", []string{"http://a b/"}, 2,
			"ssecat: bad URL: invalid character \" \" in host name\n"},
		{"credentials not echoed", []string{"ftp://me:s3cret@example.com/"}, 2,
			"ssecat: bad URL \"ftp://me:xxxxx@example.com/\": want an http:// or https:// URL\n"},
		{"no URL", nil, 2, "ssecat: no URL given\n" + usageLine},
		{"two URLs", []string{"http://a/", "http://b/"}, 2, "ssecat: one URL only (got 2 arguments)\n" + usageLine},
		{"flag after URL", []string{"http://a/", "--json"}, 2,
			"ssecat: flags go before the URL (\"--json\" comes after it)\n" + usageLine},
		{"unknown flag", []string{"--nope", "http://a/"}, 2,
			"ssecat: flag provided but not defined: -nope\n" + usageLine},
		{"bad header", []string{"-H", "no colon", "http://a/"}, 2,
			"ssecat: invalid value \"no colon\" for flag -H: want 'Name: value'\n" + usageLine},
		{"bad header name", []string{"-H", "Bad Name: x", "http://a/"}, 2,
			"ssecat: invalid value \"Bad Name: x\" for flag -H: bad header name \"Bad Name\"\n" + usageLine},
		{"bad duration", []string{"--read-timeout", "soon", "http://a/"}, 2,
			"ssecat: invalid value \"soon\" for flag -read-timeout: parse error\n" + usageLine},
		{"json and pretty", []string{"--json", "--pretty", "http://a/"}, 2,
			"ssecat: --json and --pretty exclude each other\n" + usageLine},
		{"negative count", []string{"--count", "-1", "http://a/"}, 2,
			"ssecat: --count must not be negative\n" + usageLine},
		{"demo with URL", []string{"-demo", "http://a/"}, 2, "ssecat: -demo takes no URL\n" + usageLine},
		{"missing body file", []string{"-d", "@/nonexistent/body", "http://a/"}, 2,
			"ssecat: reading the body: open /nonexistent/body: no such file or directory\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCmd(t, "", tt.args...)
			if r.code != tt.code || r.stderr != tt.stderr || r.stdout != "" {
				t.Errorf("ssecat %q: exit %d, stderr %q, stdout %q\nwant exit %d, stderr %q, no stdout",
					tt.args, r.code, r.stderr, r.stdout, tt.code, tt.stderr)
			}
		})
	}
}

// delays matches the reconnection delays, which jitter makes random.
var delays = regexp.MustCompile(`reconnecting in [0-9.]+m?s`)

func TestRetriesRunOut(t *testing.T) {
	var requests atomic.Int32
	srv := serveFunc(t, func(w http.ResponseWriter, _ *http.Request) {
		requests.Add(1)
		http.Error(w, "busy", http.StatusServiceUnavailable)
	})
	r := runCmd(t, "", "--max-retries", "2", "--initial-delay", "1ms", srv.URL)
	want := "ssecat: server answered 503 Service Unavailable: busy; reconnecting in D\n" +
		"ssecat: server answered 503 Service Unavailable: busy; reconnecting in D\n" +
		"ssecat: server answered 503 Service Unavailable: busy (gave up after 2 retries)\n"
	if got := delays.ReplaceAllString(r.stderr, "reconnecting in D"); r.code != 1 || got != want {
		t.Errorf("exit %d, stderr:\n%s\nwant exit 1 and:\n%s", r.code, got, want)
	}
	if n := requests.Load(); n != 3 {
		t.Errorf("server got %d requests; want 3", n)
	}
}

// A 204 No Content is the server asking its clients to stop: ssecat says
// so and exits 0, in both layouts and under any retry flag.
func TestServerStop(t *testing.T) {
	tests := []struct {
		name string
		args []string
		mark string // what starts a notice
	}{
		{"json", []string{"--json"}, "ssecat: "},
		{"pretty", []string{"--pretty"}, "-- "},
		{"max-retries -1", []string{"--json", "--max-retries", "-1"}, "ssecat: "},
	}
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					srv, caFile := serveTLS(t, ssetest.Sequence(
						ssetest.Response{Steps: []ssetest.Step{ssetest.Write("id: 1\ndata: a\n\n")}},
						ssetest.Response{Status: http.StatusNoContent},
					), p.http2)
					cmd := command(t, append(tt.args, "--initial-delay", "1ms", "--cacert", caFile, srv.URL)...)
					cmd.Env = append(cmd.Env, "NO_COLOR=1")
					r := runCommand(t, cmd)
					want := tt.mark + "stream ended by the server; reconnecting in D, resuming after id 1\n" +
						tt.mark + "server asked the client to stop (204 No Content)\n"
					got := delays.ReplaceAllString(r.stderr, "reconnecting in D")
					if r.code != 0 || got != want || strings.Count(r.stdout, "\n") != 1 {
						t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant exit 0, one event, stderr:\n%s", r.code, r.stdout, got, want)
					}
				})
			}
		})
	}
}

// resumingServer sends each connection the events after the Last-Event-ID
// it asks for, one connection per entry of conns, then answers 204.
func resumingServer(t *testing.T, conns map[string]string) *httptest.Server {
	return serveFunc(t, func(w http.ResponseWriter, r *http.Request) {
		body, ok := conns[r.Header.Get("Last-Event-ID")]
		if !ok {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, body)
	})
}

func TestReconnect(t *testing.T) {
	conns := map[string]string{
		"":  "id: 1\ndata: a\n\n",
		"1": "data: b\n\nid: 2\nevent: x\ndata: c\n\n",
	}
	t.Run("json", func(t *testing.T) {
		srv := resumingServer(t, conns)
		since := time.Now()
		r := runCmd(t, "", "--max-retries", "1", "--initial-delay", "1ms", srv.URL)
		if r.code != 0 {
			t.Fatalf("exit %d; want 0 (stderr %q)", r.code, r.stderr)
		}
		equalLines(t, parseJSONLines(t, r.stdout, since), []eventLine{
			{"message", "a", "1", "1"},
			{"message", "b", "", "1"}, // the ID survives the reconnect
			{"x", "c", "2", "2"},
		})
		want := "ssecat: stream ended by the server; reconnecting in D, resuming after id 1\n" +
			"ssecat: stream ended by the server; reconnecting in D, resuming after id 2\n" +
			"ssecat: server asked the client to stop (204 No Content)\n"
		if got := delays.ReplaceAllString(r.stderr, "reconnecting in D"); got != want {
			t.Errorf("stderr:\n%s\nwant:\n%s", got, want)
		}
	})
	t.Run("pretty", func(t *testing.T) {
		t.Setenv("NO_COLOR", "1")
		srv := resumingServer(t, conns)
		r := runCmd(t, "", "--pretty", "--max-retries", "-1", "--initial-delay", "1ms", srv.URL)
		want := "message #1 a\n" +
			"message b\n" +
			"x #2 c\n"
		wantErr := "-- stream ended by the server; reconnecting in D, resuming after id 1\n" +
			"-- stream ended by the server; reconnecting in D, resuming after id 2\n" +
			"-- server asked the client to stop (204 No Content)\n"
		if got := delays.ReplaceAllString(r.stderr, "reconnecting in D"); r.code != 0 || r.stdout != want || got != wantErr {
			t.Errorf("exit %d, stdout:\n%s\nstderr:\n%s\nwant exit 0, stdout:\n%s\nstderr:\n%s", r.code, r.stdout, got, want, wantErr)
		}
	})
}

// endlessServer sends body, then holds the connection open until the
// client leaves.
func endlessServer(t *testing.T, body string) *httptest.Server {
	return serveFunc(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, body)
		http.NewResponseController(w).Flush()
		<-r.Context().Done()
	})
}

func TestCountAndFilter(t *testing.T) {
	srv := endlessServer(t, "event: a\nid: 1\ndata: 1\n\nevent: b\nid: 2\ndata: 2\n\n"+
		"event: c\nid: 3\ndata: 3\n\nevent: a\nid: 4\ndata: 4\n\nevent: b\nid: 5\ndata: 5\n\n")
	tests := []struct {
		name string
		args []string
		want []eventLine
	}{
		{"count", []string{"--count", "2"}, []eventLine{{"a", "1", "1", "1"}, {"b", "2", "2", "2"}}},
		{"filter", []string{"--event", "a", "--event", "c", "--count", "3"},
			[]eventLine{{"a", "1", "1", "1"}, {"c", "3", "3", "3"}, {"a", "4", "4", "4"}}},
		{"filter counts what it prints", []string{"--event", "b", "--count", "2"},
			[]eventLine{{"b", "2", "2", "2"}, {"b", "5", "5", "5"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			since := time.Now()
			r := runCmd(t, "", append(tt.args, srv.URL)...)
			if r.code != 0 || r.stderr != "" {
				t.Fatalf("exit %d, stderr %q; want 0 and none", r.code, r.stderr)
			}
			equalLines(t, parseJSONLines(t, r.stdout, since), tt.want)
		})
	}
}

// request is what the server saw of one request.
type request struct {
	method, body, lastEventID, token, two, accept string
}

func TestRequestFlags(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		stdin string
		want  request
	}{
		{"defaults", nil, "", request{method: "GET", accept: "text/event-stream"}},
		{"all flags", []string{"-H", "X-Token: abc", "-H", "X-Two:2", "-X", "PUT", "-d", "hello", "--last-event-id", "41"}, "",
			request{method: "PUT", body: "hello", lastEventID: "41", token: "abc", two: "2", accept: "text/event-stream"}},
		{"body means POST", []string{"-d", `{"q":1}`}, "", request{method: "POST", body: `{"q":1}`, accept: "text/event-stream"}},
		{"body from stdin", []string{"-d", "@-"}, "from stdin", request{method: "POST", body: "from stdin", accept: "text/event-stream"}},
		{"double dashes", []string{"--H", "Accept: text/event-stream; q=1", "--X", "POST"}, "",
			request{method: "POST", accept: "text/event-stream; q=1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := make(chan request, 1)
			srv := serveFunc(t, func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				got <- request{r.Method, string(b), r.Header.Get("Last-Event-ID"),
					r.Header.Get("X-Token"), r.Header.Get("X-Two"), r.Header.Get("Accept")}
				w.WriteHeader(http.StatusNoContent)
			})
			r := runCmd(t, tt.stdin, append(tt.args, srv.URL)...)
			if r.code != 0 {
				t.Fatalf("exit %d; want 0 (stderr %q)", r.code, r.stderr)
			}
			if g := <-got; g != tt.want {
				t.Errorf("server saw %+v; want %+v", g, tt.want)
			}
		})
	}
}

// signalWriter is a goroutine-safe buffer that closes wrote at the first
// write.
type signalWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	once  sync.Once
	wrote chan struct{}
}

func newSignalWriter() *signalWriter { return &signalWriter{wrote: make(chan struct{})} }

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	defer w.once.Do(func() { close(w.wrote) })
	return w.buf.Write(p)
}

func (w *signalWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func TestInterruptExitsCleanly(t *testing.T) {
	srv := endlessServer(t, "id: 1\ndata: first\n\n")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	stdout, stderr := newSignalWriter(), newSignalWriter()
	done := make(chan int)
	go func() { done <- run(ctx, []string{"--trace", srv.URL}, strings.NewReader(""), stdout, stderr) }()
	<-stdout.wrote // the first event is out; now Ctrl-C
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit %d after cancel; want 0 (stderr %q)", code, stderr.String())
	}
	if lines := strings.Count(stdout.String(), "\n"); lines != 1 {
		t.Errorf("stdout %q: got %d lines; want 1", stdout.String(), lines)
	}
	// The span of the cancelled connection still reached the exporter.
	if !strings.Contains(stderr.String(), `"InstrumentationScope":{"Name":"github.com/ssekit/sse"`) {
		t.Errorf("stderr has no span of the connection: %q", stderr.String())
	}
}

func TestVerbose(t *testing.T) {
	srv := endlessServer(t, "data: x\n\n")
	r := runCmd(t, "", "-v", "--count", "1", srv.URL)
	for _, want := range []string{`level=debug msg="sse: connecting"`, `level=info msg="sse: connected"`} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr %q lacks %q", r.stderr, want)
		}
	}
	if r.code != 0 {
		t.Errorf("exit %d; want 0", r.code)
	}
}

// keyValue is an attribute as stdouttrace writes it.
type keyValue struct {
	Key   string
	Value struct{ Value any }
}

// span is the part of a stdouttrace span the test checks.
type span struct {
	Name                 string
	Attributes           []keyValue
	InstrumentationScope struct{ Name string }
	Resource             []keyValue
}

// value returns the value of key in kvs, or nil.
func value(kvs []keyValue, key string) any {
	for _, kv := range kvs {
		if kv.Key == key {
			return kv.Value.Value
		}
	}
	return nil
}

func TestTrace(t *testing.T) {
	srv := resumingServer(t, map[string]string{"": "id: 1\ndata: a\n\n"})
	r := runCmd(t, "", "--trace", "--max-retries", "1", "--initial-delay", "1ms", srv.URL)
	if r.code != 0 {
		t.Fatalf("exit %d; want 0 (stderr %q)", r.code, r.stderr)
	}
	var spans []span
	for line := range strings.Lines(r.stderr) {
		if strings.HasPrefix(line, "ssecat: ") {
			continue // a notice, between the spans
		}
		var s span
		if err := json.Unmarshal([]byte(line), &s); err != nil {
			t.Fatalf("stderr line %q: %v", line, err)
		}
		spans = append(spans, s)
	}
	// First connection: one event. Second: a 204.
	if len(spans) != 2 {
		t.Fatalf("got %d spans; want 2\nstderr: %s", len(spans), r.stderr)
	}
	for i, want := range []struct {
		attempt, status, events float64
	}{{1, 200, 1}, {2, 204, 0}} {
		s := spans[i]
		if s.InstrumentationScope.Name != "github.com/ssekit/sse" || value(s.Attributes, "sse.attempt") != want.attempt ||
			value(s.Attributes, "http.response.status_code") != want.status || value(s.Attributes, "sse.events") != want.events {
			t.Errorf("span %d: %+v; want scope github.com/ssekit/sse, attempt %v, status %v, events %v",
				i, s, want.attempt, want.status, want.events)
		}
		if value(s.Resource, "service.name") != "ssecat" {
			t.Errorf("span %d: resource %+v lacks service.name ssecat", i, s.Resource)
		}
	}
}

func TestHelp(t *testing.T) {
	r := runCmd(t, "", "-h")
	if r.code != 0 || r.stdout != usage || r.stderr != "" {
		t.Errorf("ssecat -h: exit %d, stdout %q, stderr %q; want 0 and the usage on stdout", r.code, r.stdout, r.stderr)
	}
	// Every flag is explained in the usage text, at the start of a line or
	// as the second name of one ("-k, --insecure").
	newFlagSet(&config{}).VisitAll(func(f *flag.Flag) {
		dashes := "--"
		if len(f.Name) == 1 || f.Name == "demo" {
			dashes = "-"
		}
		explained := regexp.MustCompile(`(?m)^  (-[a-z-]+, )?` + regexp.QuoteMeta(dashes+f.Name) + `[ ,]`)
		if !explained.MatchString(usage) {
			t.Errorf("usage does not explain %s%s", dashes, f.Name)
		}
	})
}

func TestDescribe(t *testing.T) {
	wrap := func(err error) error { return &url.Error{Op: "Get", URL: "http://h/x", Err: err} }
	tests := []struct {
		err  error
		want string
	}{
		{nil, "stream ended by the server"},
		{&sse.StatusError{Code: 599}, "server answered status 599"},
		{&sse.ContentTypeError{}, "server sent no content type, want text/event-stream"},
		{wrap(&net.DNSError{Name: "h.invalid", Err: "no such host"}), `cannot resolve host "h.invalid": no such host`},
		{wrap(&net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}),
			"connection lost (reset by peer)"},
		{fmt.Errorf("reading: %w", io.ErrUnexpectedEOF), "connection lost (unexpected EOF)"},
		{wrap(&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}),
			"cannot connect: connection refused"},
		{&sse.TooLargeError{Limit: 16}, "line or event larger than 16 bytes"},
		{wrap(&sse.RedirectError{Limit: 10, URL: "http://h/loop"}), "more than 10 redirects (last to http://h/loop)"},
		{wrap(errors.New("tls: failed to verify certificate")), "tls: failed to verify certificate"},
		{wrap(&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}),
			"cannot verify the server's certificate: x509: certificate signed by unknown authority (--cacert FILE trusts its CA, -k skips the check)"},
		{wrap(&net.OpError{Op: "remote error", Err: errors.New("tls: certificate required")}),
			"the server refused the TLS connection: tls: certificate required"},
		{wrap(h2StreamError{StreamID: 3, Code: 0x63}), "connection lost (HTTP/2 stream reset, error code 0x63)"},
		{wrap(textproto.ProtocolError(`malformed MIME header: missing colon: "` + strings.Repeat("\x1b", 50) + `"`)),
			`response head cut off or malformed (header line "` + strings.Repeat(`\x1b`, 40) + `..." has no colon)`},
		{wrap(textproto.ProtocolError(`malformed MIME header initial line: "x"`)),
			`response head cut off or malformed (malformed MIME header initial line: "x")`},
	}
	for _, tt := range tests {
		if got := describe(tt.err); got != tt.want {
			t.Errorf("describe(%v) = %q; want %q", tt.err, got, tt.want)
		}
	}
}
