package sse

import (
	"context"
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
