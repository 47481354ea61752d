package main

import (
	"net"
	"net/http"
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
