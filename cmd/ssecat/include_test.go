package main

import (
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/ssekit/sse/ssetest"
)

// date is the Date header of the test responses: net/http would send the
// time of day.
const date = "Fri, 04 Dec 2026 10:00:00 GMT"

// dimLines returns text with each of its lines in the dim style, blank
// lines aside, as the human layout shows -i.
func dimLines(text string) string {
	var b strings.Builder
	for l := range strings.Lines(text) {
		if l != "\n" {
			l = styleDim + strings.TrimSuffix(l, "\n") + styleReset + "\n"
		}
		b.WriteString(l)
	}
	return b.String()
}

// -i prints each connection's response before what came of it, on
// standard output: a stream's before its events, a refused one's with its
// body, escaped for a terminal. Set-Cookie is shown as it came.
func TestInclude(t *testing.T) {
	responses := []ssetest.Response{
		{Header: http.Header{"Date": {date}, "Cache-Control": {"no-cache"},
			"Set-Cookie": {"session=s3cr3t; HttpOnly", "theme=dark"}},
			Steps: []ssetest.Step{ssetest.Write("id: 1\ndata: a\n\n")}},
		{Status: http.StatusInternalServerError, Header: http.Header{"Date": {date}, "Content-Type": {"text/plain; charset=utf-8"}},
			Steps: []ssetest.Step{ssetest.Write("Please specify a stream!\r\nred \x1b[31mALERT\x07\n")}},
	}
	const (
		stream = "PROTO 200 OK\n" +
			"Cache-Control: no-cache\n" +
			"Content-Type: text/event-stream\n" +
			"Date: " + date + "\n" +
			"Set-Cookie: session=s3cr3t; HttpOnly\n" +
			"Set-Cookie: theme=dark\n" +
			"\n"
		refused = "PROTO 500 Internal Server Error\n" +
			"Content-Type: text/plain; charset=utf-8\n" +
			"Date: " + date + "\n" +
			"\n" +
			"Please specify a stream!\n" +
			`red \x1b[31mALERT\x07` + "\n"
		failure = "server answered 500 Internal Server Error: Please specify a stream! red \\x1b[31mALERT\\x07 (gave up after 1 retry)\n"
	)
	tests := []struct {
		name           string
		args           []string
		color          bool
		stdout, stderr string
	}{
		{"pretty", []string{"--pretty"}, false,
			stream + "message #1 a\n" + refused,
			"-- stream ended by the server; reconnecting in D, resuming after id 1\nssecat: " + failure},
		{"pretty in colour", []string{"--pretty"}, true,
			dimLines(stream) + styleType + "message" + styleReset + " " + styleID + "#1" + styleReset + " a\n" + dimLines(refused),
			styleDim + "-- stream ended by the server; reconnecting in D, resuming after id 1" + styleReset + "\nssecat: " + failure},
		{"json", []string{"--json"}, false,
			`{"response":{"proto":"PROTO","status":200,"header":{"Cache-Control":["no-cache"],"Content-Type":["text/event-stream"],` +
				`"Date":["` + date + `"],"Set-Cookie":["session=s3cr3t; HttpOnly","theme=dark"]}},"time":T}` + "\n" +
				`{"type":"message","data":"a","id":"1","last_event_id":"1","time":T}` + "\n" +
				`{"response":{"proto":"PROTO","status":500,"header":{"Content-Type":["text/plain; charset=utf-8"],"Date":["` + date + `"]},` +
				`"body":"Please specify a stream!\r\nred \u001b[31mALERT\u0007\n"},"time":T}` + "\n",
			"ssecat: stream ended by the server; reconnecting in D, resuming after id 1\nssecat: " + failure},
	}
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					srv, caFile := serveTLS(t, ssetest.Sequence(responses...), p.http2)
					args := append(tt.args, "-i", "--max-retries", "1", "--initial-delay", "1ms", "--cacert", caFile, srv.URL)
					cmd := command(t, args...)
					if tt.color {
						cmd.Env = append(cmd.Env, "TERM=xterm-256color")
					} else {
						cmd.Env = append(cmd.Env, "NO_COLOR=1")
					}
					r := runCommand(t, cmd)
					wantOut := strings.ReplaceAll(tt.stdout, "PROTO", p.proto)
					stdout := timeField.ReplaceAllString(r.stdout, `"time":T`)
					stderr := delays.ReplaceAllString(r.stderr, "reconnecting in D")
					if r.code != 1 || stdout != wantOut || stderr != tt.stderr {
						t.Errorf("exit %d, stdout:\n%s\nstderr:\n%s\nwant exit 1, stdout:\n%s\nstderr:\n%s", r.code, stdout, stderr, wantOut, tt.stderr)
					}
				})
			}
		})
	}
}

// -i shows every response the library reports, including those it
// refuses for their content type or encoding, a 204, and only the last
// response of a redirect.
func TestIncludeShowsEveryResponse(t *testing.T) {
	withDate := func(h http.Header) http.Header {
		h.Set("Date", date)
		return h
	}
	tests := []struct {
		name           string
		resp           ssetest.Response
		code           int
		stdout, stderr string
	}{
		{"content type", ssetest.Response{Header: withDate(http.Header{"Content-Type": {"text/html"}}),
			Steps: []ssetest.Step{ssetest.Write("<p>Log in first.</p>")}}, 1,
			"PROTO 200 OK\nContent-Type: text/html\nDate: " + date + "\n\n<p>Log in first.</p>\n",
			"ssecat: server sent content type \"text/html\", want text/event-stream: <p>Log in first.</p>\n"},
		{"content encoding", ssetest.Response{Header: withDate(http.Header{"Content-Encoding": {"br"}}),
			Steps: []ssetest.Step{ssetest.Write("\x0b\x02\x80data: a\n\n\x03")}}, 1,
			"PROTO 200 OK\nContent-Encoding: br\nContent-Type: text/event-stream\nDate: " + date + "\n\n",
			"ssecat: content encoding \"br\" cannot be decoded\n"},
		{"204", ssetest.Response{Status: http.StatusNoContent, Header: withDate(http.Header{})}, 0,
			"PROTO 204 No Content\nContent-Type: text/event-stream\nDate: " + date + "\n\n",
			"-- server asked the client to stop (204 No Content)\n"},
		{"redirect", ssetest.Redirect(http.StatusFound, "/moved"), 0,
			"PROTO 200 OK\nContent-Type: text/event-stream\nDate: " + date + "\n\nmessage moved\n",
			"-- stream ended by the server\n"},
	}
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					srv, caFile := serveTLS(t, ssetest.Responder(func(r *http.Request) ssetest.Response {
						if r.URL.Path == "/moved" {
							return ssetest.Response{Header: withDate(http.Header{}), Steps: []ssetest.Step{ssetest.Write("data: moved\n\n")}}
						}
						return tt.resp
					}), p.http2)
					cmd := command(t, "-i", "--pretty", "--max-retries", "0", "--cacert", caFile, srv.URL)
					cmd.Env = append(cmd.Env, "NO_COLOR=1")
					r := runCommand(t, cmd)
					if want := strings.ReplaceAll(tt.stdout, "PROTO", p.proto); r.code != tt.code || r.stdout != want || r.stderr != tt.stderr {
						t.Errorf("exit %d, stdout:\n%s\nstderr %q\nwant exit %d, stdout:\n%s\nstderr %q", r.code, r.stdout, r.stderr, tt.code, want, tt.stderr)
					}
				})
			}
		})
	}
}

// Header values are shown as received, but escaped for a terminal: HTTP
// allows bytes above 0x7f in them, and some terminals take a lone 0x9b, or
// U+009B, for the start of a control sequence. JSON escapes what it must.
func TestIncludeEscapesHeaders(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	defer func() {
		ln.Close() // ends an Accept still waiting
		<-served
	}()
	go func() {
		defer close(served)
		for range 2 {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Read(make([]byte, 4096)) // the request
			c.Write([]byte("HTTP/1.1 403 Go away\r\nX-Note: a\x9b31mb \xc2\x9b2J\r\nContent-Length: 0\r\n\r\n"))
			c.Close()
		}
	}()
	url := "http://" + ln.Addr().String() + "/"
	r := runCommand(t, command(t, "-i", "--raw", url))
	if want := "HTTP/1.1 403 Forbidden\nContent-Length: 0\nX-Note: a\\x9b31mb \\x9b2J\n\n"; r.code != 1 || r.stdout != want {
		t.Errorf("--raw: exit %d, stdout:\n%q\nwant exit 1 and:\n%q", r.code, r.stdout, want)
	}
	r = runCommand(t, command(t, "-i", "--json", url))
	want := `{"response":{"proto":"HTTP/1.1","status":403,"header":{"Content-Length":["0"],"X-Note":["a\ufffd31mb ` + "\u009b" + `2J"]}},"time":T}` + "\n"
	if got := timeField.ReplaceAllString(r.stdout, `"time":T`); r.code != 1 || got != want {
		t.Errorf("--json: exit %d, stdout:\n%q\nwant exit 1 and:\n%q", r.code, got, want)
	}
}

// With --raw, a stream's response comes before its lines.
func TestIncludeWithRaw(t *testing.T) {
	srv := ssetest.NewServer(ssetest.Sequence(ssetest.Response{
		Header: http.Header{"Date": {date}},
		Steps:  []ssetest.Step{ssetest.Write("data: a\n\n")},
	}))
	defer srv.Close()
	r := runCommand(t, command(t, "-i", "--raw", "--max-retries", "0", srv.URL))
	want := "HTTP/1.1 200 OK\nContent-Type: text/event-stream\nDate: " + date + "\n\n" +
		"< data: a\n" +
		"<   (end of block: event dispatched)\n" +
		"= message a\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("exit %d, stderr %q, stdout:\n%s\nwant exit 0 and:\n%s", r.code, r.stderr, r.stdout, want)
	}
}
