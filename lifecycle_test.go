package sse

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

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
	s, err := NewStream(srv.URL, WithErrorStrategy(AlwaysFail()), WithTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))))
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
