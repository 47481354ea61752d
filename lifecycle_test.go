package sse

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"testing/synctest"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// Breaking out of an iteration and then closing the stream ends the
// connection and its span: nobody iterates any more to do it.
func TestStreamCloseAfterBreakEndsConnection(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: a\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	rec := tracetest.NewSpanRecorder()
	s, err := NewStream(srv.URL, WithTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))))
	if err != nil {
		t.Fatal(err)
	}
	for range s.Events(context.Background()) {
		break
	}
	if n := len(rec.Ended()); n != 0 {
		t.Fatalf("after break: %d spans ended; want 0 (the connection stays open)", n)
	}
	s.Close()
	if n := len(rec.Ended()); n != 1 {
		t.Fatalf("after Close: %d spans ended; want 1", n)
	}
}

// Start returns after the handlers of the action that decided it have run,
// so its caller may read what they wrote without further synchronisation
// (the race detector checks that).
func TestStartReturnsAfterHandlers(t *testing.T) {
	t.Run("connected", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}))
		defer srv.Close()
		d, _ := New(srv.URL)
		attempt := 0
		d.OnStart(func(_ context.Context, s Start) { attempt = s.Attempt })
		if err := d.Start(context.Background()); err != nil {
			t.Fatalf("Start: %v", err)
		}
		if attempt != 1 {
			t.Errorf("after Start, OnStart saw attempt %d; want 1", attempt)
		}
		d.Close()
	})
	t.Run("failed", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusBadGateway)
		}))
		defer srv.Close()
		d, _ := New(srv.URL)
		var seen error
		d.OnFault(func(_ context.Context, f Fault) { seen = f.Err })
		err := d.Start(context.Background())
		var se *StatusError
		if !errors.As(err, &se) || se.Code != http.StatusBadGateway {
			t.Fatalf("Start = %v; want *StatusError 502", err)
		}
		if seen != err {
			t.Errorf("after Start, OnFault had seen %v; want %v", seen, err)
		}
		d.Close()
	})
}

// A handler of one dispatcher that closes another waits, as any caller
// from outside does, until the other's goroutine has exited, although that
// one is inside a handler at the time; then it goes on with its own stream.
func TestDispatcherHandlerClosesAnother(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var l callLog
		b := newScriptedDispatcher(t, script(scriptStep{body: "data: b\n\n", open: -1}))
		inB := make(chan struct{})
		b.OnEvent(func(ctx context.Context, _ Event) {
			close(inB)
			<-ctx.Done() // Close releases it
			l.add("b's handler released")
		})
		feed := make(chan string)
		a := newScriptedDispatcher(t, script(scriptStep{body: "data: 1\n\n", feed: feed}))
		a.OnEvent(func(_ context.Context, ev Event) {
			if ev.Data == "1" {
				<-inB
				b.Close()
				select {
				case <-b.Done():
					l.add("b closed and done")
				default:
					l.add("b closed but still running")
				}
			}
			l.add("a got %s", ev.Data)
		})
		if err := b.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := a.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		feed <- "data: 2\n\n"
		close(feed)
		a.Wait()
		want := []string{"b's handler released", "b closed and done", "a got 1", "a got 2"}
		if got := l.get(); !slices.Equal(got, want) {
			t.Errorf("calls: got %q; want %q", got, want)
		}
	})
}

// goroutineID tells goroutines apart and is stable on one.
func TestGoroutineID(t *testing.T) {
	id := goroutineID()
	if again := goroutineID(); again != id {
		t.Errorf("goroutineID twice on one goroutine: got %d, then %d", id, again)
	}
	other := make(chan int64)
	go func() { other <- goroutineID() }()
	if o := <-other; o == id {
		t.Errorf("goroutineID on two goroutines: got %d for both", id)
	}
}
