package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// demoTiming sets the pace of the demo feed.
type demoTiming struct {
	tick  time.Duration // between two steps of the feed
	retry time.Duration // the retry field the server sends
}

// demoPace is the demo's pace: about three seconds in all. Tests make it
// instant.
var demoPace = demoTiming{tick: 150 * time.Millisecond, retry: 300 * time.Millisecond}

// demoStep is one step of the demo feed: an event, or a heartbeat comment
// when comment is set.
type demoStep struct {
	comment       string
	typ, id, data string
	drop          bool // the server drops the connection after this step
}

// demoScript is the demo feed, a day on a small market. The connection
// drops after ids 4 and 8, and the server resumes after the Last-Event-ID
// the client sends; once the feed is over it answers 204 No Content, which
// tells the client to stop.
var demoScript = []demoStep{
	{typ: "status", id: "1", data: `{"market":"open","session":"2026-11-23"}`},
	{typ: "price", id: "2", data: `{"symbol":"ACME","price":101.25}`},
	{comment: " heartbeat"},
	{typ: "price", id: "3", data: `{"symbol":"GLOBEX","price":54.10}`},
	{typ: "trade", id: "4", data: `{"symbol":"ACME","qty":300,"price":101.30}`, drop: true},
	{typ: "price", id: "5", data: `{"symbol":"ACME","price":101.40}`},
	{typ: "notice", id: "6", data: "Trading in INITECH resumes at 14:05.\nOpen orders are kept."},
	{comment: " heartbeat"},
	{typ: "trade", id: "7", data: `{"symbol":"INITECH","qty":1200,"price":12.05}`},
	{typ: "price", id: "8", data: `{"symbol":"GLOBEX","price":53.95}`, drop: true},
	{typ: "price", id: "9", data: `{"symbol":"INITECH","price":12.20}`},
	{typ: "message", data: "ACME volume passed one million shares"},
	{comment: " heartbeat"},
	{typ: "trade", id: "10", data: `{"symbol":"GLOBEX","qty":50,"price":54.00}`},
	{typ: "status", id: "11", data: `{"market":"closed"}`},
}

// runDemo serves demoScript on a loopback port and reads it with consume,
// the code path of any other URL.
func runDemo(ctx context.Context, cfg *config, body []byte, out printer, stderr io.Writer) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintf(stderr, "ssecat: demo server: %v\n", err)
		return exitFailed
	}
	feed := &demoServer{timing: demoPace, script: demoScript, quit: make(chan struct{})}
	srv := &http.Server{Handler: feed, ErrorLog: log.New(io.Discard, "", 0), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan struct{})
	go func() {
		defer close(served)
		srv.Serve(ln)
	}()
	defer func() {
		feed.stop()
		srv.Close()
		<-served
		feed.wait()
	}()

	cfg.url = "http://" + ln.Addr().String() + "/feed"
	if len(cfg.events) == 0 {
		cfg.comments = true // the heartbeats are part of the show
	}
	out.notice("demo feed at " + cfg.url)
	return consume(ctx, cfg, body, out, stderr)
}

// demoServer serves a script as an event stream.
type demoServer struct {
	timing demoTiming
	script []demoStep
	quit   chan struct{} // closed by stop

	mu       sync.Mutex
	stopped  bool
	handlers sync.WaitGroup
}

// stop ends the handlers that are running and refuses new ones.
func (d *demoServer) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.stopped {
		d.stopped = true
		close(d.quit)
	}
}

// wait returns once no handler runs.
func (d *demoServer) wait() { d.handlers.Wait() }

func (d *demoServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	if d.stopped {
		d.mu.Unlock()
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	d.handlers.Add(1)
	d.mu.Unlock()
	defer d.handlers.Done()

	last := r.Header.Get("Last-Event-ID")
	start := d.resumeAt(last)
	if start < 0 {
		w.WriteHeader(http.StatusNoContent) // the feed is over: the client must stop
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	rc := http.NewResponseController(w)
	var b strings.Builder
	fmt.Fprintf(&b, "retry: %d\n", d.timing.retry.Milliseconds())
	if last != "" {
		fmt.Fprintf(&b, ": resuming after id %s\n", last)
	}
	b.WriteString("\n")
	io.WriteString(w, b.String())
	rc.Flush()

	for _, st := range d.script[start:] {
		if !d.pause(r.Context()) {
			return
		}
		io.WriteString(w, st.encode())
		if rc.Flush() != nil {
			return
		}
		if st.drop {
			panic(http.ErrAbortHandler) // cut the connection without ending the response
		}
	}
}

// resumeAt returns the index of the step after the event with id last, or
// of the first step when last is empty or unknown; -1 when no event is left
// to send.
func (d *demoServer) resumeAt(last string) int {
	start := 0
	if last != "" {
		for i, st := range d.script {
			if st.id == last {
				start = i + 1
			}
		}
	}
	for _, st := range d.script[start:] {
		if st.comment == "" {
			return start
		}
	}
	return -1
}

// pause waits one tick; false means the client went away or the demo ends.
func (d *demoServer) pause(ctx context.Context) bool {
	if d.timing.tick <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d.timing.tick)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-d.quit:
	}
	return false
}

// encode returns the step in the event stream format.
func (st demoStep) encode() string {
	if st.comment != "" {
		return ":" + st.comment + "\n\n"
	}
	var b strings.Builder
	if st.typ != "message" {
		b.WriteString("event: " + st.typ + "\n")
	}
	if st.id != "" {
		b.WriteString("id: " + st.id + "\n")
	}
	for l := range strings.SplitSeq(st.data, "\n") {
		b.WriteString("data: " + l + "\n")
	}
	b.WriteString("\n")
	return b.String()
}
