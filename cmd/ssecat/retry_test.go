package main

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssekit/sse/ssetest"
)

// By default ssecat reconnects after drops and ends of the stream, and
// stops when the server rejects the stream.
func TestDefaultReconnection(t *testing.T) {
	first := []ssetest.Response{
		{Steps: []ssetest.Step{ssetest.Write("id: 1\ndata: a\n\n"), ssetest.Drop()}},
		{Steps: []ssetest.Step{ssetest.Write("id: 2\ndata: b\n\n")}}, // an orderly end
	}
	const notices = "ssecat: connection lost (unexpected EOF); reconnecting in D, resuming after id 1\n" +
		"ssecat: stream ended by the server; reconnecting in D, resuming after id 2\n"
	tests := []struct {
		name   string
		last   ssetest.Response
		code   int
		stderr string
	}{
		{"404", ssetest.Response{Status: http.StatusNotFound}, 1, "ssecat: server answered 404 Not Found\n"},
		{"503", ssetest.Response{Status: http.StatusServiceUnavailable}, 1, "ssecat: server answered 503 Service Unavailable\n"},
		{"content type", ssetest.Response{Header: http.Header{"Content-Type": {"text/plain"}}}, 1,
			"ssecat: server sent content type \"text/plain\", want text/event-stream\n"},
		{"204", ssetest.Response{Status: http.StatusNoContent}, 0, "ssecat: server asked the client to stop (204 No Content)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := ssetest.NewServer(ssetest.Sequence(append(first, tt.last)...))
			defer srv.Close()
			r := runCommand(t, command(t, "--json", "--initial-delay", "1ms", srv.URL))
			stderr := delays.ReplaceAllString(r.stderr, "reconnecting in D")
			if r.code != tt.code || stderr != notices+tt.stderr || strings.Count(r.stdout, "\n") != 2 {
				t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant exit %d, two events, stderr:\n%s", r.code, r.stdout, stderr, tt.code, notices+tt.stderr)
			}
			if n := len(srv.Requests()); n != 3 {
				t.Errorf("server got %d requests; want 3", n)
			}
		})
	}
}

// --max-retries counts reconnections that deliver no event: a server that
// accepts every connection and ends it at once exhausts it, although each
// connection succeeds.
func TestMaxRetriesCountsConnectionsWithoutEvents(t *testing.T) {
	var requests atomic.Int32
	srv := ssetest.NewServer(ssetest.Responder(func(*http.Request) ssetest.Response {
		switch n := requests.Add(1); {
		case n <= 3: // one event each, then an orderly end
			return ssetest.Response{Steps: []ssetest.Step{ssetest.Write(fmt.Sprintf("id: %d\ndata: %d\n\n", n, n))}}
		case n <= 20:
			return ssetest.Response{} // accepted, and ended with no event
		}
		return ssetest.Response{Status: http.StatusNoContent} // a bound, should the count never run out
	}))
	defer srv.Close()
	r := runCommand(t, command(t, "--json", "--max-retries", "2", "--initial-delay", "1ms", "--max-delay", "1ms", srv.URL))
	lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	want := "ssecat: stream ended by the server (gave up after 2 retries)"
	if r.code != 0 || lines[len(lines)-1] != want || strings.Count(r.stdout, "\n") != 3 {
		t.Errorf("exit %d, stdout %q, last line of stderr %q; want exit 0, three events, and %q", r.code, r.stdout, lines[len(lines)-1], want)
	}
	// Three connections with an event, the end of the third retried twice.
	if n := requests.Load(); n != 5 {
		t.Errorf("server got %d requests; want 5", n)
	}
}

// --max-delay caps the doubled reconnection delay.
func TestMaxDelay(t *testing.T) {
	srv := ssetest.NewServer(ssetest.Responder(func(*http.Request) ssetest.Response {
		return ssetest.Response{Status: http.StatusServiceUnavailable}
	}))
	defer srv.Close()
	// Uncapped, the delays would be 100ms, 200ms, 400ms, with jitter taking
	// up to half off each; capped, none is above 150ms.
	r := runCommand(t, command(t, "--json", "--max-retries", "3", "--initial-delay", "100ms", "--max-delay", "150ms", srv.URL))
	got := regexp.MustCompile(`reconnecting in ([0-9.]+m?s)`).FindAllStringSubmatch(r.stderr, -1)
	if r.code != 1 || len(got) != 3 {
		t.Fatalf("exit %d, stderr %q; want exit 1 and three reconnections", r.code, r.stderr)
	}
	for _, m := range got {
		if d, err := time.ParseDuration(m[1]); err != nil || d > 150*time.Millisecond {
			t.Errorf("reconnecting in %s; want at most 150ms", m[1])
		}
	}
}

func TestGaveUp(t *testing.T) {
	for _, tt := range []struct {
		failures int
		want     string
	}{{0, ""}, {1, ""}, {2, " (gave up after 1 retry)"}, {4, " (gave up after 3 retries)"}} {
		b := &attemptBudget{failures: tt.failures}
		if got := b.gaveUp(); got != tt.want {
			t.Errorf("after %d connections without events: %q; want %q", tt.failures, got, tt.want)
		}
	}
}
