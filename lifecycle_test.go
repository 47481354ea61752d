package sse

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
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

// countingSource wraps a Source and counts the bodies it opened that are not
// closed yet.
type countingSource struct {
	Source
	open atomic.Int32
}

func (c *countingSource) Open(ctx context.Context, lastEventID string) (io.ReadCloser, error) {
	body, err := c.Source.Open(ctx, lastEventID)
	if err != nil {
		return nil, err
	}
	c.open.Add(1)
	return &countedBody{ReadCloser: body, open: &c.open}, nil
}

type countedBody struct {
	io.ReadCloser
	open *atomic.Int32
	once sync.Once
}

func (b *countedBody) Close() error {
	b.once.Do(func() { b.open.Add(-1) })
	return b.ReadCloser.Close()
}

// A handler that calls runtime.Goexit, as t.Fatal does in a user's test,
// ends the dispatcher goroutine. Nothing hangs and nothing is silent: Start
// (during Start) or Wait returns ErrHandlerExited, no further handler runs,
// the connection is closed, the stop is logged, and Close and Done behave.
func TestDispatcherHandlerGoexit(t *testing.T) {
	tests := []struct {
		kind     string
		register func(d *Dispatcher, exit func())
		startErr error // nil: Start returns before the handler runs
	}{
		{"start", func(d *Dispatcher, exit func()) { d.OnStart(func(context.Context, Start) { exit() }) }, ErrHandlerExited},
		{"fault", func(d *Dispatcher, exit func()) { d.OnFault(func(context.Context, Fault) { exit() }) }, ErrHandlerExited},
		{"comment", func(d *Dispatcher, exit func()) { d.OnComment(func(context.Context, Comment) { exit() }) }, nil},
		{"event", func(d *Dispatcher, exit func()) { d.OnEvent(func(context.Context, Event) { exit() }) }, nil},
		{"json", func(d *Dispatcher, exit func()) { OnJSON(d, "j", func(context.Context, int, Event) { exit() }) }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				feed := make(chan string)
				src := &countingSource{Source: script(scriptStep{err: errRefused}, scriptStep{feed: feed})}
				logger, hook := logtest.NewNullLogger()
				spans := tracetest.NewSpanRecorder()
				d := newScriptedDispatcher(t, src, WithErrorStrategy(AlwaysContinue()), WithLogger(logger),
					WithTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))))
				var l recorder
				tt.register(d, func() {
					l.add("exit")
					runtime.Goexit()
				})
				l.record(d)
				if err := d.Start(t.Context()); err != tt.startErr {
					t.Fatalf("Start: got %v; want %v", err, tt.startErr)
				}
				if tt.startErr == nil {
					feed <- ": c\n\nevent: j\ndata: 1\n\n"
				}
				if err := d.Wait(); err != ErrHandlerExited {
					t.Errorf("Wait: got %v; want ErrHandlerExited", err)
				}
				select {
				case <-d.Done():
				default:
					t.Error("Done is open after Wait returned")
				}
				if calls := l.get(); slices.Index(calls, "exit") != len(calls)-1 {
					t.Errorf("calls: got %q; want them to end with the handler that exited", calls)
				}
				if n := src.open.Load(); n != 0 {
					t.Errorf("bodies left open: %d; want 0", n)
				}
				if started, ended := len(spans.Started()), len(spans.Ended()); ended != started {
					t.Errorf("attempt spans: %d started, %d ended; want all ended", started, ended)
				}
				if err := d.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
				if e := hook.LastEntry(); e == nil || e.Level != logrus.ErrorLevel || !strings.Contains(e.Message, "Goexit") {
					t.Errorf("last log entry: got %v; want an error that names runtime.Goexit", e)
				}
			})
		})
	}
}

// The dispatcher goroutine runs the stream's callbacks too: one that calls
// runtime.Goexit stops the stream as a handler's does.
func TestDispatcherCallbackGoexit(t *testing.T) {
	tests := []struct {
		name string
		opt  Option
	}{
		{"source", WithSource(SourceFunc(func(context.Context, string) (io.ReadCloser, error) {
			runtime.Goexit()
			return nil, nil
		}))},
		{"error strategy", WithErrorStrategy(func(error, int, time.Duration) bool {
			runtime.Goexit()
			return true
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				d := newScriptedDispatcher(t, script(scriptStep{err: errRefused}), tt.opt)
				if err := d.Start(t.Context()); err != ErrHandlerExited {
					t.Errorf("Start: got %v; want ErrHandlerExited", err)
				}
				if err := d.Wait(); err != ErrHandlerExited {
					t.Errorf("Wait: got %v; want ErrHandlerExited", err)
				}
			})
		})
	}
}

// A handler that panics in OnStart becomes a Fault, and Start still returns
// (nil: the connection succeeded) after that Fault's handlers have run.
func TestDispatcherStartAfterOnStartPanic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newScriptedDispatcher(t, script(scriptStep{body: ":\n", open: -1}))
		d.OnStart(func(context.Context, Start) { panic("in start") })
		var seen []any
		d.OnFault(func(_ context.Context, f Fault) {
			var pe *PanicError
			if errors.As(f.Err, &pe) {
				seen = append(seen, pe.Value)
			}
		})
		if err := d.Start(t.Context()); err != nil {
			t.Errorf("Start: got %v; want nil", err)
		}
		if !slices.Equal(seen, []any{"in start"}) {
			t.Errorf("panics reported before Start returned: got %v; want [in start]", seen)
		}
	})
}

// An OnStart handler that stops the dispatcher during Start makes Start
// return why: the stream is not running, whatever the connection did.
func TestDispatcherStopFromOnStart(t *testing.T) {
	t.Run("Close", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			src := &countingSource{Source: script(scriptStep{body: "data: a\n\n", open: -1})}
			d := newScriptedDispatcher(t, src)
			d.OnStart(func(context.Context, Start) { d.Close() })
			if err := d.Start(t.Context()); err != ErrClosed {
				t.Errorf("Start: got %v; want ErrClosed", err)
			}
			if err := d.Wait(); err != nil {
				t.Errorf("Wait: got %v; want nil (Close is no failure)", err)
			}
			if n := src.open.Load(); n != 0 {
				t.Errorf("bodies left open: %d; want 0", n)
			}
		})
	})
	t.Run("cancel", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			d := newScriptedDispatcher(t, script(scriptStep{body: "data: a\n\n", open: -1}))
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			d.OnStart(func(context.Context, Start) { cancel() })
			if err := d.Start(ctx); err != context.Canceled {
				t.Errorf("Start: got %v; want context.Canceled", err)
			}
			if err := d.Wait(); err != nil {
				t.Errorf("Wait: got %v; want nil", err)
			}
		})
	})
}

// Wait called before Start waits, as Done does, until the dispatcher has
// been started and has stopped, or until Close.
func TestDispatcherWaitBeforeStart(t *testing.T) {
	waitEarly := func(d *Dispatcher) <-chan error {
		waited := make(chan error, 1)
		go func() { waited <- d.Wait() }()
		synctest.Wait()
		return waited
	}
	t.Run("then Start", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			d := newScriptedDispatcher(t, script(scriptStep{body: "data: a\n\n", open: time.Second}))
			waited := waitEarly(d)
			select {
			case err := <-waited:
				t.Fatalf("Wait before Start returned %v at once; want it to wait", err)
			default:
			}
			start := time.Now()
			if err := d.Start(t.Context()); err != nil {
				t.Fatal(err)
			}
			if err := <-waited; err != nil {
				t.Errorf("Wait: got %v; want nil (the server ended the stream)", err)
			}
			if took := time.Since(start); took != time.Second {
				t.Errorf("Wait returned %v after Start; want 1s, when the stream ended", took)
			}
		})
	})
	t.Run("then Close", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			d := newScriptedDispatcher(t, script(scriptStep{body: ":\n"}))
			waited := waitEarly(d)
			d.Close()
			if err := <-waited; err != nil {
				t.Errorf("Wait: got %v; want nil", err)
			}
		})
	})
}

// A handler of one dispatcher that closes another waits, as any caller
// from outside does, until the other's goroutine has exited, although that
// one is inside a handler at the time; then it goes on with its own stream.
func TestDispatcherHandlerClosesAnother(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var l recorder
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
