package sse_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/ssekit/sse"
)

// feed starts a test server that sends body as an event stream and ends
// it; when the client reconnects, it answers 204 No Content, the way a
// server tells an event stream client to stop.
func feed(body string) *httptest.Server {
	var served atomic.Bool
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if served.Swap(true) {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, body)
	}))
}

// A Dispatcher calls its handlers on its own goroutine, in stream order.
// Here the server sends three events and ends the stream; the dispatcher
// reconnects, as it does after any drop, and the server answers 204 No
// Content, its way of saying stop: the dispatcher stops, and Run returns
// nil.
func Example() {
	srv := feed("event: greeting\ndata: hello\nid: 1\n\ndata: line one\ndata: line two\n\n: just a comment\n\n")
	defer srv.Close()

	d, err := sse.New(srv.URL)
	if err != nil {
		panic(err)
	}
	d.OnEvent(func(ctx context.Context, ev sse.Event) {
		fmt.Printf("%s %q (last id %q)\n", ev.Type, ev.Data, ev.LastEventID)
	})
	d.OnComment(func(ctx context.Context, c sse.Comment) {
		fmt.Printf("comment %q\n", c.Text)
	})
	if err := d.Run(context.Background()); err != nil {
		fmt.Println("failed:", err)
	}
	// Output:
	// greeting "hello" (last id "1")
	// message "line one\nline two" (last id "1")
	// comment " just a comment"
}

// OnEvent with no types receives every event, also the events of types that
// have handlers of their own (a browser's onmessage sees only "message"
// events: name "message" for that). Each event reaches its handlers in the
// order they were registered.
func ExampleDispatcher_OnEvent() {
	srv := feed("event: price\ndata: 42\n\ndata: hello\n\n")
	defer srv.Close()

	d, _ := sse.New(srv.URL)
	d.OnEvent(func(ctx context.Context, ev sse.Event) { fmt.Println("every type:", ev.Type, ev.Data) })
	d.OnEvent(func(ctx context.Context, ev sse.Event) { fmt.Println("price:", ev.Data) }, "price")
	d.OnEvent(func(ctx context.Context, ev sse.Event) { fmt.Println("message:", ev.Data) }, "message")
	d.Run(context.Background())
	// Output:
	// every type: price 42
	// price: 42
	// every type: message hello
	// message: hello
}

// OnJSON decodes each event of one type into a Go value.
func ExampleOnJSON() {
	srv := feed("event: price\ndata: {\"symbol\":\"ACME\",\"px\":42.5}\n\nevent: price\ndata: not json\n\n")
	defer srv.Close()

	type price struct {
		Symbol string  `json:"symbol"`
		Px     float64 `json:"px"`
	}
	d, _ := sse.New(srv.URL)
	sse.OnJSON(d, "price", func(ctx context.Context, p price, ev sse.Event) {
		fmt.Println(p.Symbol, p.Px)
	})
	d.OnFault(func(ctx context.Context, f sse.Fault) {
		var de *sse.DecodeError
		if errors.As(f.Err, &de) {
			fmt.Println("bad price:", de.Event.Data)
		}
	})
	d.Run(context.Background())
	// Output:
	// ACME 42.5
	// bad price: not json
}

// By default a stream reconnects after a drop, and tells the server where
// to resume with the Last-Event-ID header; it stops when the server answers
// 204 No Content, which is how a server says stop, and is no failure.
func ExampleContinueUnlessRejected() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("Last-Event-ID") {
		case "":
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, "id: 1\ndata: first\n\n") // and the connection drops
		case "1":
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, "id: 2\ndata: second\n\n")
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	defer srv.Close()

	d, _ := sse.New(srv.URL, sse.WithInitialDelay(10*time.Millisecond))
	d.OnStart(func(ctx context.Context, s sse.Start) { fmt.Println("connected, attempt", s.Attempt) })
	d.OnEvent(func(ctx context.Context, ev sse.Event) { fmt.Println(ev.ID, ev.Data) })
	d.OnFault(func(ctx context.Context, f sse.Fault) {
		if errors.Is(f.Err, sse.ErrServerStopped) {
			fmt.Println("the server asked to stop")
		}
	})
	fmt.Println("Run returned", d.Run(context.Background()))
	// Output:
	// connected, attempt 1
	// 1 first
	// connected, attempt 2
	// 2 second
	// the server asked to stop
	// Run returned <nil>
}

// A Stream is the same engine without a goroutine: range over its events.
func ExampleStream_Events() {
	srv := feed("data: a\n\ndata: b\n\n")
	defer srv.Close()

	s, _ := sse.NewStream(srv.URL)
	defer s.Close()
	for ev, err := range s.Events(context.Background()) {
		if err != nil {
			fmt.Println("failed:", err)
			break
		}
		fmt.Println(ev.Data)
	}
	// Output:
	// a
	// b
}

// All yields everything that happens on the stream, not only events.
func ExampleStream_All() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "try later", http.StatusServiceUnavailable)
	}))
	defer srv.Close()

	s, _ := sse.NewStream(srv.URL)
	for a := range s.All(context.Background()) {
		switch a := a.(type) {
		case sse.Fault:
			fmt.Println("fault:", a.Err, "final:", a.Final)
		default:
			fmt.Printf("%T\n", a)
		}
	}
	// Output:
	// fault: sse: unexpected status 503 Service Unavailable final: true
}

// WithSource reads any io.Reader instead of HTTP, one per connection.
func ExampleWithSource() {
	src := sse.SourceFunc(func(ctx context.Context, lastEventID string) (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader("retry: 5000\r\ndata: from a file\r\n\r\n")), nil
	})
	// A file ends for good, so stop there rather than read it again.
	d, _ := sse.New("", sse.WithSource(src), sse.WithErrorStrategy(sse.AlwaysFail()))
	d.OnEvent(func(ctx context.Context, ev sse.Event) { fmt.Println(ev.Data) })
	d.Run(context.Background())
	// Output:
	// from a file
}

// Spans go to the provider given to WithTracerProvider (by default the
// global one): one client span per connection attempt, a child of the
// context given to Start or Run. Handlers receive a context that carries
// it, so their own spans nest under the connection, and the propagators
// put it into the request's headers.
func ExampleWithTracerProvider() {
	seen := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Get("Traceparent")
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, ": hello\n\nevent: tick\ndata: 1\n\nevent: tick\ndata: 2\n\n")
	}))
	defer srv.Close()

	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	d, _ := sse.New(srv.URL, sse.WithTracerProvider(tp), sse.WithPropagators(propagation.TraceContext{}),
		sse.WithErrorStrategy(sse.AlwaysFail())) // one connection, for a short example
	d.OnEvent(func(ctx context.Context, ev sse.Event) {
		_, span := tp.Tracer("example").Start(ctx, "handle "+ev.Data)
		span.End()
	})
	d.Run(context.Background())

	names := make(map[trace.SpanID]string)
	for _, s := range spans.Ended() {
		names[s.SpanContext().SpanID()] = s.Name()
	}
	for _, s := range spans.Ended() {
		if s.Parent().IsValid() {
			fmt.Println(s.Name(), "in", names[s.Parent().SpanID()])
			continue
		}
		fmt.Println(s.Name(), s.SpanKind(), s.InstrumentationScope().Name)
		attrs := attribute.NewSet(s.Attributes()...)
		for _, k := range []attribute.Key{"http.response.status_code", "sse.attempt", "sse.events", "sse.comments"} {
			v, _ := attrs.Value(k)
			fmt.Printf("  %s=%s\n", k, v.String())
		}
		sc := s.SpanContext()
		fmt.Println("  sent as traceparent:", <-seen == "00-"+sc.TraceID().String()+"-"+sc.SpanID().String()+"-01")
	}
	// Output:
	// handle 1 in GET
	// handle 2 in GET
	// GET client github.com/ssekit/sse
	//   http.response.status_code=200
	//   sse.attempt=1
	//   sse.events=2
	//   sse.comments=1
	//   sent as traceparent: true
}

// A Decoder reads events from any io.Reader without copying them: here each
// event's data is unmarshalled straight from the decoder's buffer.
func ExampleDecoder() {
	in := strings.NewReader("event: tick\ndata: {\"n\":1}\n\n: heartbeat\n\nevent: tick\ndata: {\"n\":2}\n\n")
	d := sse.NewDecoder(in)
	for d.Next() {
		var tick struct{ N int }
		if err := json.Unmarshal(d.Data(), &tick); err != nil {
			fmt.Println("bad tick:", err)
			continue
		}
		fmt.Println(string(d.Type()), tick.N)
	}
	if err := d.Err(); err != nil {
		fmt.Println("failed:", err)
	}
	// Output:
	// tick 1
	// tick 2
}

// Start waits for the first connection for as long as it takes. To wait at
// most a while and let the stream keep trying in the background, run it on
// a goroutine and wait with WaitConnected. Here the server answers 503
// twice before it streams.
func ExampleDispatcher_WaitConnected() {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			http.Error(w, "warming up", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: ready\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	defer srv.Close()

	d, _ := sse.New(srv.URL, sse.WithErrorStrategy(sse.AlwaysContinue()), sse.WithInitialDelay(10*time.Millisecond))
	go d.Run(context.Background())
	defer d.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.WaitConnected(ctx); err != nil {
		fmt.Println("not connected yet, still trying:", err)
		return
	}
	fmt.Println("connected after", calls.Load(), "requests")
	// Output: connected after 3 requests
}
