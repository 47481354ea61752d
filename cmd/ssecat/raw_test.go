package main

import (
	"bufio"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ssekit/sse/ssetest"
)

// split feeds in to a lineSplitter n bytes at a time, and returns the lines
// it made and the start of an unfinished one.
func split(in string, n int) (lines []rawLine, partial string) {
	var ls lineSplitter
	for i := 0; i < len(in); i += n {
		ls.write([]byte(in[i:min(i+n, len(in))]))
	}
	return ls.lines, string(ls.partial)
}

func TestLineSplitter(t *testing.T) {
	long := strings.Repeat("x", maxRawLine+10)
	tests := []struct {
		name    string
		in      string
		want    []rawLine
		partial string
	}{
		{"line ends", "a: 1\rb: 2\nc: 3\r\nd: 4", []rawLine{
			{text: "a: 1", note: `ignored: unknown field "a"`},
			{text: "b: 2", note: `ignored: unknown field "b"`},
			{text: "c: 3", note: `ignored: unknown field "c"`},
		}, "d: 4"},
		{"CR then LF is one end", "data: x\r\n\r\n", []rawLine{
			{text: "data: x"},
			{text: "", note: "end of block: event dispatched", dispatch: true},
		}, ""},
		{"CR CR is two", "data: x\r\r", []rawLine{
			{text: "data: x"},
			{text: "", note: "end of block: event dispatched", dispatch: true},
		}, ""},
		{"BOM", bom + "data: x\n", []rawLine{{text: "data: x"}}, ""},
		{"a second BOM is text", bom + bom + "data: x\n", []rawLine{
			{text: bom + "data: x", note: `ignored: unknown field "\ufeffdata"`},
		}, ""},
		{"comment", ": hi\n:\n", []rawLine{{text: ": hi", comment: true}, {text: ":", comment: true}}, ""},
		{"blocks", "id: 7\n\nevent: e\ndata\n\n\n", []rawLine{
			{text: "id: 7"},
			{text: "", note: `end of block: no data, nothing dispatched; last event ID now "7"`},
			{text: "event: e"},
			{text: "data", note: "no colon: the value is empty"},
			{text: "", note: "end of block: event dispatched", dispatch: true},
			{text: "", note: "end of block: no data, nothing dispatched"},
		}, ""},
		{"ignored ids", "id: a\x00b\nid\n\n", []rawLine{
			{text: "id: a\x00b", note: "ignored: the id holds a NUL"},
			{text: "id", note: "no colon: the value is empty"},
			{text: "", note: `end of block: no data, nothing dispatched; last event ID now ""`},
		}, ""},
		{"retry", "retry: 2500\nretry:7\nretry: 5s\nretry:\nretry: 99999999999999999999\nretry: 9999999999999999999\n", []rawLine{
			{text: "retry: 2500", note: "reconnection time 2.5s"},
			{text: "retry:7", note: "reconnection time 7ms"},
			{text: "retry: 5s", note: "ignored: not all ASCII digits"},
			{text: "retry:", note: "ignored: not all ASCII digits"},
			{text: "retry: 99999999999999999999", note: "ignored: too large"},
			{text: "retry: 9999999999999999999", note: "reconnection time: the longest a Go duration holds"},
		}, ""},
		{"long line", "data: " + long + "\n", []rawLine{{text: ("data: " + long)[:maxRawLine], cut: 16}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for n := 1; n <= len(tt.in); n++ {
				lines, partial := split(tt.in, n)
				if !slices.Equal(lines, tt.want) || partial != tt.partial {
					t.Fatalf("reads of %d bytes: got %+v, partial %q; want %+v, partial %q", n, lines, partial, tt.want, tt.partial)
				}
			}
		})
	}
}

// rawStream has most of what the line view shows: a BOM, the three line
// ends, a retry field, an id-only block, fields the parser ignores, and a
// block cut off by the end of the connection.
const rawStream = bom + "retry: 2500\r\n" +
	": comment one\r" +
	"id: 7\n\n" +
	"event: greeting\r\ndata:hi\ndata\nID: 8\nretry: 5s\nid: a\x00b\n\n" +
	"\n" +
	"data: tail\nid: 9\ndata: cut"

const rawView = "< retry: 2500  (reconnection time 2.5s)\n" +
	"< : comment one\n" +
	"< id: 7\n" +
	"<   (end of block: no data, nothing dispatched; last event ID now \"7\")\n" +
	"< event: greeting\n" +
	"< data:hi\n" +
	"< data  (no colon: the value is empty)\n" +
	"< ID: 8  (ignored: unknown field \"ID\")\n" +
	"< retry: 5s  (ignored: not all ASCII digits)\n" +
	"< id: a\\x00b  (ignored: the id holds a NUL)\n" +
	"<   (end of block: event dispatched)\n" +
	"= greeting\n" +
	"  hi\n" +
	"  \n" +
	"<   (end of block: no data, nothing dispatched)\n" +
	"< data: tail\n" +
	"< id: 9\n" +
	"< data: cut  (the connection ended before the line did: discarded)\n" +
	"  (the connection ended inside a block: its event is not dispatched)\n"

// The line view shows each line, however the stream is split into reads
// and over either HTTP version, before the event it dispatched.
func TestRawView(t *testing.T) {
	cut := ssetest.Response{Steps: []ssetest.Step{ssetest.Write(rawStream), ssetest.Drop()}}
	trickled := ssetest.Response{Steps: []ssetest.Step{ssetest.Trickle(rawStream, 1, 0), ssetest.Drop()}}
	tests := []struct {
		name  string
		resp  ssetest.Response
		http2 bool
	}{
		{"HTTP/1.1", cut, false},
		{"HTTP/1.1 a byte per read", trickled, false},
		{"HTTP/2 a byte per read", trickled, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, caFile := serveTLS(t, ssetest.Sequence(tt.resp), tt.http2)
			r := runCommand(t, command(t, "--raw", "--max-retries", "0", "--cacert", caFile, srv.URL))
			wantErr := "ssecat: connection lost (unexpected EOF)\n"
			if tt.http2 {
				wantErr = "ssecat: connection lost (HTTP/2 stream reset, INTERNAL_ERROR)\n"
			}
			if r.code != 1 || r.stdout != rawView || r.stderr != wantErr {
				t.Errorf("exit %d, stderr %q, stdout:\n%s\nwant exit 1, stderr %q, stdout:\n%s", r.code, r.stderr, r.stdout, wantErr, rawView)
			}
		})
	}
}

// The view goes on across connections, and stops with --count.
func TestRawViewReconnectsAndCounts(t *testing.T) {
	srv := ssetest.NewServer(ssetest.Sequence(
		ssetest.Response{Steps: []ssetest.Step{ssetest.Write("data: a\n\ndata: cu"), ssetest.Drop()}},
		ssetest.Response{Steps: []ssetest.Step{ssetest.Write(": again\ndata: b\n\ndata: c\n\n"), ssetest.Stall()}},
	))
	defer srv.Close()
	cmd := command(t, "--raw", "--pretty", "--count", "2", "--initial-delay", "1ms", srv.URL)
	cmd.Env = append(cmd.Env, "NO_COLOR=1")
	r := runCommand(t, cmd)
	want := "< data: a\n" +
		"<   (end of block: event dispatched)\n" +
		"= message a\n" +
		"< data: cu  (the connection ended before the line did: discarded)\n" +
		"< : again\n" +
		"< data: b\n" +
		"<   (end of block: event dispatched)\n" +
		"= message b\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("exit %d, stderr %q, stdout:\n%s\nwant exit 0 and:\n%s", r.code, r.stderr, r.stdout, want)
	}
}

// Lines that lead to no action, such as a retry field or an id-only
// heartbeat, show as soon as they arrive, while the stream is quiet.
func TestRawViewShowsQuietLines(t *testing.T) {
	srv := ssetest.NewServer(ssetest.Sequence(
		ssetest.Response{Steps: []ssetest.Step{ssetest.Write("retry: 1000\nid: 5\n\n"), ssetest.Stall()}},
	))
	defer srv.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	cmd := command(t, "--raw", srv.URL)
	cmd.Stdout = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	got := make(chan string, 1)
	go func() {
		b := bufio.NewReader(pr)
		var lines []string
		for range 3 {
			line, err := b.ReadString('\n')
			if err != nil {
				break
			}
			lines = append(lines, line)
		}
		got <- strings.Join(lines, "")
	}()
	want := "< retry: 1000  (reconnection time 1s)\n" +
		"< id: 5\n" +
		"<   (end of block: no data, nothing dispatched; last event ID now \"5\")\n"
	select {
	case s := <-got:
		if s != want {
			t.Errorf("got:\n%s\nwant:\n%s", s, want)
		}
	case <-time.After(10 * time.Second): // a liveness bound, not a speed claim
		cmd.Process.Kill() // ends the reader too
		t.Fatalf("the lines did not show within 10s; want:\n%s", want)
	}
}

// The view shows the lines of event streams only: the body of a response
// the library refuses is an error's text, not lines the parser read.
func TestRawViewShowsStreamsOnly(t *testing.T) {
	tests := []struct {
		name, contentType string
		stdout, stderr    string
	}{
		{"text/html", "text/html", "",
			"ssecat: server sent content type \"text/html\", want text/event-stream: <h1>Log in</h1> <p>first</p>\n"},
		{"event stream with parameters", "Text/Event-Stream; charset=utf-8",
			"< <h1>Log in</h1>  (ignored: unknown field \"<h1>Log in</h1>\")\n" +
				"< <p>first</p>  (ignored: unknown field \"<p>first</p>\")\n",
			"-- stream ended by the server\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := ssetest.NewServer(ssetest.Sequence(ssetest.Response{
				Header: http.Header{"Content-Type": {tt.contentType}},
				Steps:  []ssetest.Step{ssetest.Write("<h1>Log in</h1>\n<p>first</p>\n")},
			}))
			defer srv.Close()
			r := runCommand(t, command(t, "--raw", "--max-retries", "0", srv.URL))
			if r.stdout != tt.stdout || r.stderr != tt.stderr {
				t.Errorf("stdout:\n%s\nstderr %q\nwant stdout:\n%s\nstderr %q", r.stdout, r.stderr, tt.stdout, tt.stderr)
			}
		})
	}
}
