package main

import (
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/ssekit/sse/ssetest"
)

// Reconnection notices and the final error go to standard error in both
// layouts, so that standard output holds the events alone.
func TestNoticesOnStderr(t *testing.T) {
	tests := []struct {
		layout         string
		stdout, stderr string
	}{
		{"--pretty", "message #1 a\n",
			"-- connection lost (unexpected EOF); reconnecting in D, resuming after id 1\n" +
				"ssecat: server answered 503 Service Unavailable (gave up after 1 retry)\n"},
		{"--json", `{"type":"message","data":"a","id":"1","last_event_id":"1","time":T}` + "\n",
			"ssecat: connection lost (unexpected EOF); reconnecting in D, resuming after id 1\n" +
				"ssecat: server answered 503 Service Unavailable (gave up after 1 retry)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.layout, func(t *testing.T) {
			srv := ssetest.NewServer(ssetest.Sequence(
				ssetest.Response{Steps: []ssetest.Step{ssetest.Write("id: 1\ndata: a\n\n"), ssetest.Drop()}},
				ssetest.Response{Status: http.StatusServiceUnavailable},
			))
			defer srv.Close()
			cmd := command(t, tt.layout, "--max-retries", "1", "--initial-delay", "1ms", srv.URL)
			cmd.Env = append(cmd.Env, "NO_COLOR=1")
			r := runCommand(t, cmd)
			stdout := timeField.ReplaceAllString(r.stdout, `"time":T`)
			stderr := delays.ReplaceAllString(r.stderr, "reconnecting in D")
			if r.code != 1 || stdout != tt.stdout || stderr != tt.stderr {
				t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant exit 1, stdout %q, stderr:\n%s", r.code, stdout, stderr, tt.stdout, tt.stderr)
			}
		})
	}
}

// Connections cut by an HTTP/2 stream reset or inside the response head are
// worded as the other connection failures are, not as Go errors.
func TestConnectionLostWording(t *testing.T) {
	t.Run("HTTP/2 stream reset", func(t *testing.T) {
		srv, caFile := serveTLS(t, ssetest.Sequence(
			ssetest.Response{Steps: []ssetest.Step{ssetest.Write("data: a\n\n"), ssetest.Drop()}},
		), true)
		r := runCommand(t, command(t, "--json", "--max-retries", "0", "--cacert", caFile, srv.URL))
		if want := "ssecat: connection lost (HTTP/2 stream reset, INTERNAL_ERROR)\n"; r.code != 1 || r.stderr != want {
			t.Errorf("exit %d, stderr %q; want exit 1 and %q", r.code, r.stderr, want)
		}
	})
	t.Run("cut inside the response head", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		served := make(chan struct{})
		go func() {
			defer close(served)
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			c.Read(make([]byte, 4096)) // the request
			c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Con"))
		}()
		r := runCommand(t, command(t, "--json", "--max-retries", "0", "http://"+ln.Addr().String()+"/"))
		<-served
		if want := "ssecat: response head cut off or malformed (header line \"Cache-Con\" has no colon)\n"; r.code != 1 || r.stderr != want {
			t.Errorf("exit %d, stderr %q; want exit 1 and %q", r.code, r.stderr, want)
		}
	})
}

// The body of a refused response often says why: its start follows the
// failure, on one line, cut short, and escaped for a terminal.
func TestFailureShowsBody(t *testing.T) {
	refused := func(code int, body string) ssetest.Response {
		return ssetest.Response{Status: code, Steps: []ssetest.Step{ssetest.Write(body)}}
	}
	long := strings.Repeat("0123456789", 30)
	tests := []struct {
		name string
		resp ssetest.Response
		want string
	}{
		{"status", refused(http.StatusInternalServerError, "Please specify a stream!\n"),
			"server answered 500 Internal Server Error: Please specify a stream!"},
		{"lines and control characters", refused(http.StatusBadGateway, "<h1>Bad\r\n\tgateway</h1>\n\n<p>red \x1b[31mALERT\x07 \x9b2J</p>\n"),
			`server answered 502 Bad Gateway: <h1>Bad gateway</h1> <p>red \x1b[31mALERT\x07 \x9b2J</p>`},
		{"long", refused(http.StatusServiceUnavailable, long),
			"server answered 503 Service Unavailable: " + long[:maxExcerpt] + "..."},
		{"escapes count as shown", refused(http.StatusServiceUnavailable, strings.Repeat("\x01", maxExcerpt)),
			"server answered 503 Service Unavailable: " + strings.Repeat(`\x01`, maxExcerpt/4) + "..."},
		{"white space only", refused(http.StatusNotFound, " \r\n\t\n"), "server answered 404 Not Found"},
		{"content type", ssetest.Response{Header: http.Header{"Content-Type": {"text/html"}},
			Steps: []ssetest.Step{ssetest.Write("<p>Log in first.</p>")}},
			`server sent content type "text/html", want text/event-stream: <p>Log in first.</p>`},
	}
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					srv, caFile := serveTLS(t, ssetest.Sequence(tt.resp), p.http2)
					r := runCommand(t, command(t, "--json", "--cacert", caFile, srv.URL))
					if want := "ssecat: " + tt.want + "\n"; r.code != 1 || r.stdout != "" || r.stderr != want {
						t.Errorf("exit %d, stdout %q, stderr:\n%q\nwant exit 1, no stdout, stderr:\n%q", r.code, r.stdout, r.stderr, want)
					}
				})
			}
		})
	}
}
