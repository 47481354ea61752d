package ssetest_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/ssekit/sse/ssetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newClient returns a client with a transport of its own, whose idle
// connections are closed when the test ends.
func newClient(t *testing.T) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func TestEncode(t *testing.T) {
	tests := []struct {
		name string
		in   []ssetest.Event
		want string
	}{
		{"data only", []ssetest.Event{{Data: "a"}}, "data: a\n\n"},
		{"empty data", []ssetest.Event{{}}, "data: \n\n"},
		{"all fields", []ssetest.Event{{Type: "t", ID: "7", Data: "x", Retry: 1500 * time.Millisecond}},
			"event: t\nid: 7\nretry: 1500\ndata: x\n\n"},
		{"lines", []ssetest.Event{{Data: "a\nb\r\nc\rd"}}, "data: a\ndata: b\ndata: c\ndata: d\n\n"},
		{"two events", []ssetest.Event{{ID: "1", Data: "a"}, {ID: "2", Data: "b"}}, "id: 1\ndata: a\n\nid: 2\ndata: b\n\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ssetest.Encode(tt.in...); got != tt.want {
				t.Errorf("Encode(%+v) = %q; want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestAfter(t *testing.T) {
	evs := []ssetest.Event{{ID: "1"}, {ID: "2"}, {Data: "no id"}, {ID: "3"}}
	tests := []struct {
		last string
		want int // how many events After returns: the last ones of evs
	}{
		{"", 4}, {"1", 3}, {"2", 2}, {"3", 0}, {"unknown", 4},
	}
	for _, tt := range tests {
		got := ssetest.After(evs, tt.last)
		if !slices.Equal(got, evs[len(evs)-tt.want:]) {
			t.Errorf("After(evs, %q) = %+v; want the last %d events", tt.last, got, tt.want)
		}
	}
}

// TestServerSequence checks statuses, headers, redirects and the recorded
// requests.
func TestServerSequence(t *testing.T) {
	srv := ssetest.NewServer(ssetest.Sequence(
		ssetest.Response{Status: http.StatusServiceUnavailable, Header: http.Header{"Retry-After": {"3"}}},
		ssetest.Redirect(http.StatusFound, "/next"),
		ssetest.Response{Steps: []ssetest.Step{ssetest.Write("data: a\n\n")}},
	))
	defer srv.Close()
	c := newClient(t)

	resp, err := c.Get(srv.URL + "/first")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "3" {
		t.Errorf("first response: got %d, Retry-After %q; want 503, 3", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if ct := resp.Header.Get("Content-Type"); ct == "text/event-stream" {
		t.Errorf("503 response: got Content-Type %q; want none of ours", ct)
	}

	req, _ := http.NewRequest("GET", srv.URL+"/second", nil)
	req.Header.Set("Last-Event-ID", "42")
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "data: a\n\n" || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Errorf("after redirect: got %d %q %q; want 200 %q text/event-stream", resp.StatusCode, body, resp.Header.Get("Content-Type"), "data: a\n\n")
	}

	var paths, ids []string
	for _, r := range srv.Requests() {
		paths = append(paths, r.URL.Path)
		ids = append(ids, r.Header.Get("Last-Event-ID"))
	}
	if want := []string{"/first", "/second", "/next"}; !slices.Equal(paths, want) {
		t.Errorf("request paths: got %q; want %q", paths, want)
	}
	if want := []string{"", "42", "42"}; !slices.Equal(ids, want) {
		t.Errorf("Last-Event-ID headers: got %q; want %q", ids, want)
	}
	// Sequence repeats its last Response.
	resp, err = c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "data: a\n\n" {
		t.Errorf("fourth response: got %q; want the last one repeated", body)
	}
}

// TestServerDrop checks that Drop cuts the body after what was written.
func TestServerDrop(t *testing.T) {
	srv := ssetest.NewServer(ssetest.Sequence(ssetest.Response{Steps: []ssetest.Step{
		ssetest.Write("id: 1\ndata: a\n\nid: 2\nda"), ssetest.Drop(), ssetest.Write("never"),
	}}))
	defer srv.Close()
	resp, err := newClient(t).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if string(body) != "id: 1\ndata: a\n\nid: 2\nda" || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("got %q, %v; want the bytes before Drop, then io.ErrUnexpectedEOF", body, err)
	}
}

// TestServerStallEndsOnClose checks that a stalled response holds the
// connection open until the server closes.
func TestServerStallEndsOnClose(t *testing.T) {
	srv := ssetest.NewServer(ssetest.Sequence(ssetest.Response{Steps: []ssetest.Step{
		ssetest.Write(": hi\n"), ssetest.Stall(),
	}}))
	resp, err := newClient(t).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 16)
	n, err := io.ReadAtLeast(resp.Body, buf, 5)
	if err != nil || string(buf[:n]) != ": hi\n" {
		t.Fatalf("got %q, %v; want %q", buf[:n], err, ": hi\n")
	}
	closed := make(chan struct{})
	go func() {
		srv.Close()
		close(closed)
	}()
	if _, err := io.ReadAll(resp.Body); err == nil {
		t.Error("read after Close: got a clean end; want the connection cut")
	}
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Server.Close did not return while a response stalled")
	}
}

// TestTransportTrickle checks, in memory, that Trickle writes n bytes at a
// time: a Transport hands each write to one read.
func TestTransportTrickle(t *testing.T) {
	const stream = "data: abc\r\n\r\n"
	for _, n := range []int{1, 3} {
		c := &http.Client{Transport: &ssetest.Transport{Handler: ssetest.Sequence(
			ssetest.Response{Steps: []ssetest.Step{ssetest.Trickle(stream, n, 0)}})}}
		resp, err := c.Get("http://sse.test/")
		if err != nil {
			t.Fatal(err)
		}
		var reads []string
		buf := make([]byte, 64)
		for {
			k, err := resp.Body.Read(buf)
			if k > 0 {
				reads = append(reads, string(buf[:k]))
			}
			if err != nil {
				if err != io.EOF {
					t.Fatalf("Trickle(%d): read error %v", n, err)
				}
				break
			}
		}
		resp.Body.Close()
		var want []string
		for i := 0; i < len(stream); i += n {
			want = append(want, stream[i:min(i+n, len(stream))])
		}
		if !slices.Equal(reads, want) {
			t.Errorf("Trickle(%d): got reads %q; want %q", n, reads, want)
		}
	}
}

// TestTransportFakeTime runs a Transport in a synctest bubble: Sleep and
// Trickle pauses take fake time, a Sleep before any write delays the
// response itself, and Drop ends the body with io.ErrUnexpectedEOF.
func TestTransportFakeTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &http.Client{Transport: &ssetest.Transport{Handler: ssetest.Sequence(ssetest.Response{
			Status: http.StatusAccepted,
			Steps: []ssetest.Step{
				ssetest.Sleep(time.Minute),
				ssetest.Trickle("ab", 1, time.Second),
				ssetest.Drop(),
			},
		})}}
		start := time.Now()
		resp, err := c.Get("http://sse.test/")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if got := time.Since(start); got != time.Minute {
			t.Errorf("response after %v; want 1m0s", got)
		}
		if resp.StatusCode != http.StatusAccepted || resp.Header.Get("Content-Type") != "text/event-stream" {
			t.Errorf("got %d %q; want 202 text/event-stream", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		body, err := io.ReadAll(resp.Body)
		if string(body) != "ab" || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("got %q, %v; want %q, io.ErrUnexpectedEOF", body, err, "ab")
		}
		if got := time.Since(start); got != time.Minute+time.Second {
			t.Errorf("body ended after %v; want 1m1s", got)
		}
	})
}

// TestTransportCancel checks that cancelling the request, while the
// handler stalls before or after its headers, ends both sides.
func TestTransportCancel(t *testing.T) {
	for _, steps := range [][]ssetest.Step{
		{ssetest.Stall()},
		{ssetest.Write(""), ssetest.Stall()},
	} {
		synctest.Test(t, func(t *testing.T) {
			ended := make(chan struct{})
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				defer close(ended)
				ssetest.Sequence(ssetest.Response{Steps: steps}).ServeHTTP(w, r)
			})
			ctx, cancel := context.WithCancel(context.Background())
			req, _ := http.NewRequestWithContext(ctx, "GET", "http://sse.test/", nil)
			go func() {
				time.Sleep(time.Second)
				cancel()
			}()
			resp, err := (&http.Client{Transport: &ssetest.Transport{Handler: h}}).Do(req)
			if err == nil {
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%d steps: got %v; want context.Canceled", len(steps), err)
			}
			<-ended
		})
	}
}

// TestResponderHeaderOverride checks that a script's own Content-Type wins.
func TestResponderHeaderOverride(t *testing.T) {
	srv := ssetest.NewServer(ssetest.Sequence(ssetest.Response{
		Header: http.Header{"Content-Type": {"application/json"}},
		Steps:  []ssetest.Step{ssetest.Write("{}")},
	}))
	defer srv.Close()
	resp, err := newClient(t).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" || !strings.EqualFold(string(body), "{}") {
		t.Errorf("got %q %q; want application/json {}", ct, body)
	}
}

// TestTransportRequest checks that the handler sees the request as sent:
// method, path, headers and body.
func TestTransportRequest(t *testing.T) {
	var got string
	c := &http.Client{Transport: &ssetest.Transport{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = r.Method + " " + r.RequestURI + " " + r.Header.Get("Last-Event-ID") + " " + string(b)
	})}}
	req, _ := http.NewRequest("POST", "http://sse.test/feed?x=1", strings.NewReader(`{"q":1}`))
	req.Header.Set("Last-Event-ID", "9")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := `POST /feed?x=1 9 {"q":1}`; got != want {
		t.Errorf("handler saw %q; want %q", got, want)
	}
}
