package ssetest_test

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/ssekit/sse"
	"github.com/ssekit/sse/ssetest"
)

// A server that drops every connection in the middle of an event, and
// replays from the client's Last-Event-ID: the handler still sees each
// event once, in order.
func Example() {
	events := []ssetest.Event{{ID: "1", Data: "a"}, {ID: "2", Data: "b"}, {ID: "3", Data: "c"}}
	srv := ssetest.NewServer(ssetest.Responder(func(r *http.Request) ssetest.Response {
		rest := ssetest.After(events, r.Header.Get("Last-Event-ID"))
		if len(rest) == 0 {
			return ssetest.Response{Status: http.StatusNoContent} // nothing left: the client stops
		}
		// The first event whole, and five bytes of the next.
		wire := ssetest.Encode(rest...)
		cut := min(len(ssetest.Encode(rest[0]))+5, len(wire))
		return ssetest.Response{Steps: []ssetest.Step{ssetest.Write(wire[:cut]), ssetest.Drop()}}
	}))
	defer srv.Close()

	d, _ := sse.New(srv.URL, sse.WithErrorStrategy(sse.AlwaysContinue()),
		sse.WithInitialDelay(time.Millisecond), sse.WithMinDelay(0), sse.WithJitter(0))
	d.OnEvent(func(_ context.Context, ev sse.Event) { fmt.Println(ev.ID, ev.Data) })
	err := d.Run(context.Background())
	fmt.Println(err)
	for _, r := range srv.Requests() {
		fmt.Printf("Last-Event-ID: %q\n", r.Header.Get("Last-Event-ID"))
	}
	// Output:
	// 1 a
	// 2 b
	// 3 c
	// <nil>
	// Last-Event-ID: ""
	// Last-Event-ID: "1"
	// Last-Event-ID: "2"
	// Last-Event-ID: "3"
}

// A Transport serves scripts in memory, without sockets. Inside a
// testing/synctest bubble, timeouts and retry delays then run on fake time,
// so a test can use realistic values and still finish at once; this example
// runs on real time, so its read timeout is short.
func ExampleTransport() {
	client := &http.Client{Transport: &ssetest.Transport{Handler: ssetest.Sequence(
		ssetest.Response{Steps: []ssetest.Step{ssetest.Write("data: first\n\n"), ssetest.Stall()}},
	)}}
	d, _ := sse.New("http://example.test/", sse.WithHTTPClient(client), sse.WithReadTimeout(20*time.Millisecond),
		sse.WithErrorStrategy(sse.AlwaysFail())) // stop at the first failure, for a short example
	d.OnEvent(func(_ context.Context, ev sse.Event) { fmt.Println(ev.Data) })
	d.OnFault(func(_ context.Context, f sse.Fault) { fmt.Println(f.Err, f.Final) })
	d.Run(context.Background())
	// Output:
	// first
	// sse: no data received for 20ms true
}
