package sse

// Tests of the Dispatcher (dispatcher.go): Start, Run, Wait, Close and
// Interrupt from outside and from handlers, handler order and context,
// panics and runtime.Goexit, and stopping in every phase.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"github.com/ssekit/sse/ssetest"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.uber.org/goleak"
)

// Handlers run in stream order: OnStart before the connection's events,
// OnFault after the failure it reports.
func TestDispatcherRunOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := script(scriptStep{err: errRefused}, scriptStep{body: "data: a\n\n: c\n\ndata: b\n\n"}, scriptStep{err: errRefused})
		d := newScriptedDispatcher(t, src, WithErrorStrategy(ContinueWithMaxAttempts(1)))
		var l recorder
		l.record(d)
		if err := d.Run(t.Context()); !errors.Is(err, errRefused) {
			t.Errorf("Run: got %v; want the error given up on, %v", err, errRefused)
		}
		want := []string{
			faultOf(errRefused, false, time.Second),
			"start 2", msg("a"), `comment " c"`, msg("b"),
			faultOf(nil, false, 2*time.Second),
			faultOf(errRefused, true, 0),
		}
		if got := l.get(); !slices.Equal(got, want) {
			t.Errorf("handler calls:\ngot  %q\nwant %q", got, want)
		}
	})
}

func TestDispatcherStart(t *testing.T) {
	t.Run("returns nil once connected", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			feed := make(chan string)
			d := newScriptedDispatcher(t, script(scriptStep{body: "data: a\n\n", feed: feed}))
			var l recorder
			l.record(d)
			if err := d.Start(t.Context()); err != nil {
				t.Fatalf("Start: %v", err)
			}
			feed <- "data: b\n\n"
			close(feed)
			if err := d.Wait(); err != nil {
				t.Errorf("Wait: got %v; want nil", err)
			}
			want := []string{"start 1", msg("a"), msg("b"), faultOf(nil, true, 0)}
			if got := l.get(); !slices.Equal(got, want) {
				t.Errorf("calls: got %q; want %q", got, want)
			}
			select {
			case <-d.Done():
			default:
				t.Error("Done is open after Wait returned")
			}
		})
	})
	t.Run("returns the first error under AlwaysFail", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			d := newScriptedDispatcher(t, script(scriptStep{err: errRefused}))
			var l recorder
			l.record(d)
			if err := d.Start(t.Context()); !errors.Is(err, errRefused) {
				t.Errorf("Start: got %v; want %v", err, errRefused)
			}
			if err := d.Wait(); !errors.Is(err, errRefused) {
				t.Errorf("Wait: got %v; want %v", err, errRefused)
			}
			if want := []string{faultOf(errRefused, true, 0)}; !slices.Equal(l.get(), want) {
				t.Errorf("calls: got %q; want %q", l.get(), want)
			}
		})
	})
	t.Run("blocks until success under AlwaysContinue", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			src := script(scriptStep{err: errRefused}, scriptStep{err: errRefused}, scriptStep{err: errRefused},
				scriptStep{body: ":\n", open: -1})
			d := newScriptedDispatcher(t, src, WithErrorStrategy(AlwaysContinue()))
			faults := 0
			d.OnFault(func(context.Context, Fault) { faults++ })
			start := time.Now()
			if err := d.Start(t.Context()); err != nil {
				t.Errorf("Start: got %v; want nil", err)
			}
			if took := time.Since(start); took != 7*time.Second {
				t.Errorf("Start returned after %v; want 7s (1s+2s+4s of backoff)", took)
			}
			if faults != 3 {
				t.Errorf("Faults before Start returned: got %d; want 3", faults)
			}
		})
	})
	t.Run("returns the strategy's final error", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			d := newScriptedDispatcher(t, script(scriptStep{err: errRefused}), WithErrorStrategy(ContinueWithMaxAttempts(2)))
			if err := d.Start(t.Context()); !errors.Is(err, errRefused) {
				t.Errorf("Start: got %v; want %v", err, errRefused)
			}
		})
	})
	t.Run("second Start and Run", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			d := newScriptedDispatcher(t, script(scriptStep{body: ":\n", open: -1}))
			if err := d.Start(t.Context()); err != nil {
				t.Fatalf("Start: %v", err)
			}
			if err := d.Start(t.Context()); !errors.Is(err, ErrStarted) {
				t.Errorf("second Start: got %v; want ErrStarted", err)
			}
			if err := d.Run(t.Context()); !errors.Is(err, ErrStarted) {
				t.Errorf("Run after Start: got %v; want ErrStarted", err)
			}
		})
	})
	t.Run("ctx ending first", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			d := newScriptedDispatcher(t, script(scriptStep{err: errRefused}), WithErrorStrategy(AlwaysContinue()))
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			start := time.Now()
			if err := d.Start(ctx); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Start: got %v; want context.DeadlineExceeded", err)
			}
			if took := time.Since(start); took != 10*time.Second {
				t.Errorf("Start returned after %v; want 10s", took)
			}
			if err := d.Wait(); err != nil {
				t.Errorf("Wait after ctx ended: got %v; want nil", err)
			}
		})
	})
}

func TestDispatcherClose(t *testing.T) {
	t.Run("from outside waits for the goroutine", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			d := newScriptedDispatcher(t, script(scriptStep{body: "data: a\n\n", open: -1}))
			var l recorder
			l.record(d)
			if err := d.Start(t.Context()); err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
			if err := d.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			select {
			case <-d.Done():
			default:
				t.Error("Done is open after Close returned")
			}
			if err := d.Wait(); err != nil {
				t.Errorf("Wait after Close: got %v; want nil", err)
			}
			if want := []string{"start 1", msg("a")}; !slices.Equal(l.get(), want) {
				t.Errorf("calls: got %q; want %q (Close is not a Fault)", l.get(), want)
			}
			if err := d.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
		})
	})
	t.Run("during a backoff sleep returns promptly", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			d := newScriptedDispatcher(t, script(scriptStep{err: errRefused}), WithErrorStrategy(AlwaysContinue()),
				WithInitialDelay(time.Hour), WithMaxDelay(time.Hour))
			go d.Start(context.Background())
			synctest.Wait() // the dispatcher sleeps its hour
			start := time.Now()
			d.Close()
			if took := time.Since(start); took != 0 {
				t.Errorf("Close took %v during a backoff sleep; want no time", took)
			}
		})
	})
	t.Run("before Start", func(t *testing.T) {
		d := newScriptedDispatcher(t, script(scriptStep{body: ":\n"}))
		d.Close()
		select {
		case <-d.Done():
		default:
			t.Error("Done is open after Close before Start")
		}
		if err := d.Start(t.Context()); !errors.Is(err, ErrClosed) {
			t.Errorf("Start after Close: got %v; want ErrClosed", err)
		}
		if err := d.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})
	t.Run("ctx cancelled", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			d := newScriptedDispatcher(t, script(scriptStep{body: ":\n", open: -1}))
			ctx, cancel := context.WithCancel(t.Context())
			if err := d.Start(ctx); err != nil {
				t.Fatal(err)
			}
			faults := 0
			d.OnFault(func(context.Context, Fault) { faults++ })
			cancel()
			if err := d.Wait(); err != nil {
				t.Errorf("Wait: got %v; want nil", err)
			}
			if faults != 0 {
				t.Errorf("Faults after cancel: got %d; want 0", faults)
			}
		})
	})
}

// Close, Interrupt and Wait called from a handler return at once instead of
// waiting for the goroutine they run on.
func TestDispatcherCallsFromHandler(t *testing.T) {
	t.Run("Close", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			d := newScriptedDispatcher(t, script(scriptStep{body: "data: a\n\ndata: b\n\n", open: -1}))
			var l recorder
			d.OnEvent(func(_ context.Context, ev Event) {
				l.add("first %s", ev.Data)
				d.Close()
				l.add("closed")
			})
			d.OnEvent(func(_ context.Context, ev Event) { l.add("second %s", ev.Data) })
			d.OnFault(func(_ context.Context, f Fault) { l.add("%s", describe(f)) })
			if err := d.Start(t.Context()); err != nil {
				t.Fatal(err)
			}
			<-d.Done()
			if want := []string{"first a", "closed"}; !slices.Equal(l.get(), want) {
				t.Errorf("calls: got %q; want %q", l.get(), want)
			}
		})
	})
	t.Run("Interrupt", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			src := script(scriptStep{body: "id: 1\ndata: a\n\n", open: -1}, scriptStep{body: "data: b\n\n"})
			d := newScriptedDispatcher(t, src)
			var l recorder
			l.record(d)
			d.OnEvent(func(_ context.Context, ev Event) {
				if ev.Data == "a" {
					d.Interrupt()
				}
			})
			if err := d.Run(t.Context()); err != nil {
				t.Errorf("Run: %v", err)
			}
			want := []string{
				"start 1", describe(Event{Type: "message", Data: "a", ID: "1", HasID: true, LastEventID: "1"}),
				faultOf(ErrInterrupted, false, time.Second),
				"start 2", describe(Event{Type: "message", Data: "b", LastEventID: "1"}),
				faultOf(nil, true, 0),
			}
			if got := l.get(); !slices.Equal(got, want) {
				t.Errorf("calls:\ngot  %q\nwant %q", got, want)
			}
		})
	})
	t.Run("Wait", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			d := newScriptedDispatcher(t, script(scriptStep{body: "data: a\n\n"}))
			var got error
			d.OnEvent(func(context.Context, Event) { got = d.Wait() })
			d.Run(t.Context())
			if !errors.Is(got, ErrStarted) {
				t.Errorf("Wait in a handler: got %v; want ErrStarted", got)
			}
		})
	})
}

// A panicking handler becomes a non-final Fault with a *PanicError, and the
// stream goes on; a panic in OnFault is only logged.
func TestDispatcherPanics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newScriptedDispatcher(t, script(scriptStep{body: ": c\n\ndata: a\n\ndata: b\n\n"}))
		var l recorder
		var panics []*PanicError
		d.OnStart(func(context.Context, Start) { panic("in start") })
		d.OnComment(func(context.Context, Comment) { panic("in comment") })
		d.OnEvent(func(_ context.Context, ev Event) {
			if ev.Data == "a" {
				panic("in event")
			}
		})
		d.OnEvent(func(_ context.Context, ev Event) { l.add("%s", describe(ev)) })
		d.OnFault(func(_ context.Context, f Fault) {
			var pe *PanicError
			if errors.As(f.Err, &pe) {
				if f.Final || f.RetryDelay != 0 {
					t.Errorf("panic Fault: got final %v, delay %v; want non-final, 0", f.Final, f.RetryDelay)
				}
				if len(pe.Stack) == 0 {
					t.Errorf("PanicError %v has no stack", pe.Value)
				}
				panics = append(panics, pe)
				return
			}
			l.add("%s", describe(f))
		})
		d.OnFault(func(context.Context, Fault) { panic("in fault") })
		if err := d.Run(t.Context()); err != nil {
			t.Errorf("Run: %v", err)
		}
		var values []any
		for _, pe := range panics {
			values = append(values, pe.Value)
		}
		if want := []any{"in start", "in comment", "in event"}; !slices.Equal(values, want) {
			t.Errorf("panics: got %v; want %v", values, want)
		}
		if want := []string{msg("a"), msg("b"), faultOf(nil, true, 0)}; !slices.Equal(l.get(), want) {
			t.Errorf("calls: got %q; want %q", l.get(), want)
		}
	})
}

// A slow handler slows the stream but loses nothing.
func TestDispatcherSlowHandler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var body string
		var want []string
		for i := range 200 {
			body += fmt.Sprintf("id: %d\ndata: %d\n\n", i, i)
			want = append(want, fmt.Sprint(i))
		}
		d := newScriptedDispatcher(t, script(scriptStep{body: body}))
		var got []string
		d.OnEvent(func(_ context.Context, ev Event) {
			time.Sleep(time.Second)
			got = append(got, ev.Data)
		})
		start := time.Now()
		d.Run(t.Context())
		if !slices.Equal(got, want) {
			t.Errorf("events: got %d of 200, %q...; want all in order", len(got), got[:min(len(got), 5)])
		}
		if took := time.Since(start); took != 200*time.Second {
			t.Errorf("took %v; want 200s, one handler at a time", took)
		}
		if id := d.LastEventID(); id != "199" {
			t.Errorf("LastEventID: got %q; want 199", id)
		}
	})
}

// startWaiting starts a dispatcher on a connection that sends body and
// then what is fed to it, and returns once the dispatcher waits for more.
// Call it inside a synctest bubble.
func startWaiting(t *testing.T, body string) (*Dispatcher, chan<- string) {
	t.Helper()
	feed := make(chan string)
	d := newScriptedDispatcher(t, script(scriptStep{body: body, feed: feed}))
	if err := d.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	synctest.Wait()
	return d, feed
}

// A handler registered after Start sees the following events.
func TestDispatcherRegisterAfterStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, feed := startWaiting(t, "data: a\n\n") // event a goes to no handler
		var l recorder
		l.record(d)
		feed <- "data: b\n\n"
		close(feed)
		d.Wait()
		if want := []string{msg("b"), faultOf(nil, true, 0)}; !slices.Equal(l.get(), want) {
			t.Errorf("calls: got %q; want %q", l.get(), want)
		}
	})
}

// A first comment handler registered while the dispatcher waits for bytes
// gets the comments that follow the next event (see OnComment).
func TestDispatcherCommentHandlerAfterStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, feed := startWaiting(t, ": before\n") // with no comment handler
		var got []string
		d.OnComment(func(_ context.Context, c Comment) { got = append(got, c.Text) })
		feed <- ": maybe\ndata: x\n\n: after\n"
		close(feed)
		d.Wait()
		if !slices.Contains(got, " after") || slices.Contains(got, " before") {
			t.Errorf("comments: got %q; want \" after\" (and not \" before\")", got)
		}
	})
}

// Registering typed and all-type handlers from many goroutines while events
// flow is race-free, and every handler registered before an event sees it.
func TestDispatcherConcurrentRegistration(t *testing.T) {
	feed := make(chan string)
	d := newScriptedDispatcher(t, script(scriptStep{body: "data: first\n\n", feed: feed}))
	if err := d.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	const goroutines, each = 8, 25
	var (
		mu   sync.Mutex
		seen = map[string]int{}
		wg   sync.WaitGroup
	)
	stopFeeding := make(chan struct{})
	fed := make(chan struct{})
	go func() {
		defer close(fed)
		for {
			select {
			case feed <- "data: noise\n\n":
			case <-stopFeeding:
				return
			}
		}
	}()
	for range goroutines {
		wg.Go(func() {
			count := func(_ context.Context, ev Event) {
				mu.Lock()
				seen[ev.Data]++
				mu.Unlock()
			}
			for range each {
				d.OnEvent(count, "message")
				d.OnEvent(count) // all types: appended to every type's list
				d.OnComment(func(context.Context, Comment) {})
			}
		})
	}
	wg.Wait()
	close(stopFeeding)
	<-fed
	feed <- "data: last\n\n"
	close(feed)
	d.Wait()
	mu.Lock()
	defer mu.Unlock()
	if seen["last"] != 2*goroutines*each {
		t.Errorf("handlers that saw the last event: got %d; want %d", seen["last"], 2*goroutines*each)
	}
}

func TestDispatcherNextRetryDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newScriptedDispatcher(t, script(scriptStep{err: errRefused}, scriptStep{body: ":\n", open: -1}),
			WithErrorStrategy(AlwaysContinue()), WithInitialDelay(2*time.Second))
		if got := d.NextRetryDelay(); got != 0 {
			t.Errorf("before Start: got %v; want 0", got)
		}
		var inFault time.Duration
		d.OnFault(func(context.Context, Fault) { inFault = d.NextRetryDelay() })
		if err := d.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		if inFault != 2*time.Second {
			t.Errorf("in OnFault: got %v; want 2s", inFault)
		}
	})
}

// Close, Wait and Interrupt called from any kind of handler return at once
// and do what they do from outside: Close stops the handlers that would
// follow, Wait returns ErrStarted, and Interrupt drops the connection (or,
// from OnFault, cuts the delay before the next one short).
func TestDispatcherCallsFromEachHandlerKind(t *testing.T) {
	// run starts a dispatcher whose first handler of the given kind calls
	// call, once, and returns the calls of all handlers and the source.
	run := func(t *testing.T, kind string, call func(d *Dispatcher)) ([]string, *scriptedSource) {
		src := script(scriptStep{err: errRefused}, scriptStep{body: ": c\n\nevent: j\ndata: 1\n\n", open: -1})
		d := newScriptedDispatcher(t, src, WithErrorStrategy(AlwaysContinue()))
		var l recorder
		called := false
		first := func(k string) {
			l.add("first %s", k)
			if k == kind && !called {
				called = true
				call(d)
			}
		}
		d.OnStart(func(context.Context, Start) { first("start") })
		d.OnComment(func(context.Context, Comment) { first("comment") })
		d.OnEvent(func(context.Context, Event) { first("event") })
		OnJSON(d, "j", func(context.Context, int, Event) { first("json") })
		d.OnFault(func(context.Context, Fault) { first("fault") })
		d.OnStart(func(context.Context, Start) { l.add("second start") })
		d.OnComment(func(context.Context, Comment) { l.add("second comment") })
		d.OnEvent(func(context.Context, Event) { l.add("second event") })
		d.OnFault(func(_ context.Context, f Fault) { l.add("second %s", describe(f)) })
		d.Start(t.Context())
		time.Sleep(time.Minute) // through any reconnection delay, until the open connection waits
		return l.get(), src
	}
	for _, kind := range []string{"start", "comment", "event", "json", "fault"} {
		t.Run(kind, func(t *testing.T) {
			t.Run("Close", func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					calls, _ := run(t, kind, func(d *Dispatcher) { d.Close() })
					if i := slices.Index(calls, "first "+kind); i < 0 || i != len(calls)-1 {
						t.Errorf("calls: got %q; want them to end with the handler that called Close", calls)
					}
				})
			})
			t.Run("Wait", func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					var err error
					calls, _ := run(t, kind, func(d *Dispatcher) { err = d.Wait() })
					if err != ErrStarted {
						t.Errorf("Wait: got %v; want ErrStarted", err)
					}
					if !slices.Contains(calls, "second event") {
						t.Errorf("calls: got %q; want the stream to go on to its event", calls)
					}
				})
			})
			t.Run("Interrupt", func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					calls, src := run(t, kind, func(d *Dispatcher) { d.Interrupt() })
					if kind == "fault" {
						if gaps := src.gaps(); len(gaps) != 1 || gaps[0] != 0 {
							t.Errorf("gaps between attempts: got %v; want [0s], no delay after the interrupted fault", gaps)
						}
						return
					}
					if n := src.attempts(); n != 3 {
						t.Errorf("attempts: got %d; want 3 (refused, interrupted, open)", n)
					}
					if want := "second " + faultOf(ErrInterrupted, false, 2*time.Second); !slices.Contains(calls, want) {
						t.Errorf("calls: got %q; want %q", calls, want)
					}
				})
			})
		})
	}
}

// Close while Start waits for a first connection makes Start return
// ErrClosed at once.
func TestDispatcherCloseWhileStarting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newScriptedDispatcher(t, script(scriptStep{err: errRefused}), WithErrorStrategy(AlwaysContinue()))
		started := make(chan error)
		go func() { started <- d.Start(context.Background()) }()
		synctest.Wait() // Start waits through a backoff sleep
		now := time.Now()
		d.Close()
		if err := <-started; !errors.Is(err, ErrClosed) {
			t.Errorf("Start: got %v; want ErrClosed", err)
		}
		if took := time.Since(now); took != 0 {
			t.Errorf("Start returned %v after Close; want at once", took)
		}
	})
}

// Handlers get a context they can use for their own work: the one of a
// connection Fault has not ended with the connection, but ends with the
// dispatcher.
func TestDispatcherHandlerContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := script(scriptStep{body: "data: a\n\n"}, scriptStep{err: errRefused})
		d := newScriptedDispatcher(t, src, WithErrorStrategy(ContinueWithMaxAttempts(1)))
		var l recorder
		var faultCtx context.Context
		d.OnEvent(func(ctx context.Context, _ Event) { l.add("event ctx err %v", ctx.Err()) })
		d.OnFault(func(ctx context.Context, f Fault) {
			l.add("fault ctx err %v", ctx.Err())
			faultCtx = ctx
		})
		runCtx, cancel := context.WithCancel(t.Context())
		defer cancel()
		d.Run(runCtx)
		want := []string{"event ctx err <nil>", "fault ctx err <nil>", "fault ctx err <nil>"}
		if got := l.get(); !slices.Equal(got, want) {
			t.Errorf("got %q; want %q", got, want)
		}
		cancel()
		if faultCtx == nil || faultCtx.Err() == nil {
			t.Error("the Fault's context did not end with the dispatcher's context")
		}
	})
}

// Cancelling the dispatcher's context stops it like Close: no handler runs
// after the one that cancelled, even for events already read.
func TestDispatcherCancelFromHandler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newScriptedDispatcher(t, script(scriptStep{body: "data: a\n\ndata: b\n\ndata: c\n\n", open: -1}))
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		var l recorder
		d.OnEvent(func(_ context.Context, ev Event) {
			l.add("%s", ev.Data)
			if ev.Data == "a" {
				cancel()
			}
		})
		d.OnEvent(func(_ context.Context, ev Event) { l.add("second %s", ev.Data) })
		d.Run(ctx)
		if got := l.get(); !slices.Equal(got, []string{"a"}) {
			t.Errorf("calls: got %q; want only the handler that cancelled", got)
		}
	})
}

// WaitConnected returns at the first connection; with a deadline it returns
// the deadline's cause while the stream keeps trying; a stream that stops
// before it connects reports why.
func TestDispatcherWaitConnected(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := script(scriptStep{err: errRefused}, scriptStep{err: errRefused}, scriptStep{body: "data: x\n\n", open: -1})
		d := newScriptedDispatcher(t, src, WithErrorStrategy(AlwaysContinue()))
		go d.Run(t.Context())
		short, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
		defer cancel()
		if err := d.WaitConnected(short); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("WaitConnected with a 500ms deadline: got %v; want the deadline", err)
		}
		start := time.Now()
		if err := d.WaitConnected(t.Context()); err != nil {
			t.Errorf("WaitConnected: got %v; want nil", err)
		}
		if got := time.Since(start); got != 2500*time.Millisecond { // attempts at 0, 1s, 3s
			t.Errorf("connected %v after the first wait ended; want 2.5s", got)
		}
		if err := d.WaitConnected(t.Context()); err != nil {
			t.Errorf("WaitConnected once connected: got %v; want nil at once", err)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		d := newScriptedDispatcher(t, script(scriptStep{err: &StatusError{Code: 204}}))
		go d.Run(t.Context())
		if err := d.WaitConnected(t.Context()); !errors.Is(err, ErrServerStopped) {
			t.Errorf("WaitConnected on a stream stopped by a 204: got %v; want ErrServerStopped", err)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		d := newScriptedDispatcher(t, script(scriptStep{err: errRefused}), WithErrorStrategy(AlwaysContinue()))
		go d.Run(t.Context())
		time.Sleep(time.Second)
		d.Close()
		if err := d.WaitConnected(t.Context()); !errors.Is(err, ErrClosed) {
			t.Errorf("WaitConnected after Close: got %v; want ErrClosed", err)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		// First asked after the connection, and after the stream ended.
		d := newScriptedDispatcher(t, script(scriptStep{body: "data: x\n\n"}))
		if err := d.Run(t.Context()); err != nil {
			t.Fatalf("Run: %v", err)
		}
		if err := d.WaitConnected(t.Context()); err != nil {
			t.Errorf("WaitConnected first called after a connection: got %v; want nil", err)
		}
	})
}

// TestDispatcherPanicsOverHTTP checks over HTTP that handlers that panic, in OnEvent,
// OnStart or OnFault, become Faults (or a log entry, for OnFault) and
// change nothing else; the other handlers still run, in order.
func TestDispatcherPanicsOverHTTP(t *testing.T) {
	srv := ssetest.NewServer(ssetest.Sequence(ssetest.Response{Steps: []ssetest.Step{
		ssetest.Write(ssetest.Encode(ssetest.Event{ID: "1", Data: "a"}, ssetest.Event{ID: "2", Data: "boom"}, ssetest.Event{ID: "3", Data: "c"}))}}))
	defer srv.Close()
	logger, hook := logtest.NewNullLogger()
	d, err := New(srv.URL, WithErrorStrategy(AlwaysFail()), WithHTTPClient(testClient(t)), WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	var l recorder
	d.OnStart(func(context.Context, Start) { panic("start") })
	d.OnEvent(func(_ context.Context, ev Event) {
		l.add("first %s", ev.Data)
		if ev.Data == "boom" {
			panic(ev.Data)
		}
	})
	d.OnFault(func(_ context.Context, f Fault) {
		l.add("%s", describe(f))
		if !f.Final {
			panic("in OnFault")
		}
	})
	d.OnEvent(func(_ context.Context, ev Event) { l.add("second %s", ev.Data) })
	if err := d.Run(context.Background()); err != nil {
		t.Fatalf("Run: got %v; want nil", err)
	}
	checkActions(t, "handler calls", l.get(), []string{
		"fault panic start final=false delay=0s",
		"first a", "second a",
		"first boom", "fault panic boom final=false delay=0s", "second boom",
		"first c", "second c",
		"fault end final=true delay=0s",
	})
	var onFaultPanics int
	for _, e := range hook.AllEntries() {
		if e.Level == logrus.ErrorLevel && e.Message == "sse: OnFault handler panicked" {
			onFaultPanics++
		}
	}
	if onFaultPanics != 2 {
		t.Errorf("logged %d OnFault panics; want 2", onFaultPanics)
	}
}

// TestDispatcherSlowHandlerOverHTTP checks over HTTP that a handler that blocks stalls the
// stream and loses nothing; a handler blocked when Close comes is released
// by its context, whose cause is ErrClosed.
func TestDispatcherSlowHandlerOverHTTP(t *testing.T) {
	const n = 200
	events := make([]ssetest.Event, n)
	for i := range events {
		events[i] = ssetest.Event{ID: strconv.Itoa(i + 1), Data: strings.Repeat("x", i)}
	}
	srv := ssetest.NewServer(ssetest.Responder(func(r *http.Request) ssetest.Response {
		if r.URL.Path == "/stall" {
			return ssetest.Response{Steps: []ssetest.Step{ssetest.Write("data: wait\n\n"), ssetest.Stall()}}
		}
		return ssetest.Response{Steps: []ssetest.Step{ssetest.Write(ssetest.Encode(events...))}}
	}))
	defer srv.Close()

	t.Run("slow", func(t *testing.T) {
		d, err := New(srv.URL, WithErrorStrategy(AlwaysFail()), WithHTTPClient(testClient(t)))
		if err != nil {
			t.Fatal(err)
		}
		release := make(chan struct{})
		var got []string
		d.OnEvent(func(_ context.Context, ev Event) {
			if ev.ID == "1" {
				<-release
			}
			got = append(got, ev.ID)
		})
		if err := d.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		close(release)
		if err := d.Wait(); err != nil {
			t.Fatalf("Wait: got %v; want nil", err)
		}
		if len(got) != n || got[0] != "1" || got[n-1] != strconv.Itoa(n) {
			t.Fatalf("got %d events; want %d", len(got), n)
		}
		for i, id := range got {
			if id != strconv.Itoa(i+1) {
				t.Fatalf("event %d has id %s", i+1, id)
			}
		}
	})

	t.Run("blocked at Close", func(t *testing.T) {
		d, err := New(srv.URL+"/stall", WithErrorStrategy(AlwaysFail()), WithHTTPClient(testClient(t)))
		if err != nil {
			t.Fatal(err)
		}
		entered := make(chan struct{})
		var cause error
		d.OnEvent(func(ctx context.Context, _ Event) {
			close(entered)
			<-ctx.Done()
			cause = context.Cause(ctx)
		})
		d.OnFault(func(_ context.Context, f Fault) { t.Errorf("got %s; want no Fault after Close", describe(f)) })
		if err := d.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		<-entered
		d.Close() // returns once the handler has
		if !errors.Is(cause, ErrClosed) {
			t.Errorf("handler's context ended with %v; want ErrClosed", cause)
		}
		if err := d.Wait(); err != nil {
			t.Errorf("Wait: got %v; want nil", err)
		}
	})
}

// TestDispatcherCloseFromHandlerOverHTTP checks over HTTP that Close called by a handler
// returns at once, no later handler runs, and Wait from a handler refuses
// to wait for itself.
func TestDispatcherCloseFromHandlerOverHTTP(t *testing.T) {
	srv := ssetest.NewServer(ssetest.Sequence(ssetest.Response{Steps: []ssetest.Step{
		ssetest.Write(ssetest.Encode(ssetest.Event{ID: "1"}, ssetest.Event{ID: "2"}, ssetest.Event{ID: "3"})), ssetest.Stall()}}))
	defer srv.Close()
	d, err := New(srv.URL, WithErrorStrategy(AlwaysFail()), WithHTTPClient(testClient(t)))
	if err != nil {
		t.Fatal(err)
	}
	var l recorder
	d.OnEvent(func(_ context.Context, ev Event) {
		l.add("first %s", ev.ID)
		if ev.ID == "2" {
			l.add("wait %v", d.Wait())
			l.add("close %v", d.Close())
			l.add("close again %v", d.Close())
		}
	})
	d.OnEvent(func(_ context.Context, ev Event) { l.add("second %s", ev.ID) })
	d.OnFault(func(_ context.Context, f Fault) { l.add("%s", describe(f)) })
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the dispatcher did not stop after Close from a handler")
	}
	if err := d.Wait(); err != nil {
		t.Errorf("Wait: got %v; want nil", err)
	}
	checkActions(t, "handler calls", l.get(), []string{
		"first 1", "second 1", "first 2", "wait sse: already started", "close <nil>", "close again <nil>",
	})
}

// TestDispatcherInterruptFromHandlerResumes checks over HTTP that Interrupt called by a
// handler reconnects with the last event ID, every event arrives exactly
// once, in order, and an event without an id after the reconnection
// reports the ID from before it.
func TestDispatcherInterruptFromHandlerResumes(t *testing.T) {
	events := make([]ssetest.Event, 10)
	for i := range events {
		events[i] = ssetest.Event{ID: strconv.Itoa(i + 1), Data: "e" + strconv.Itoa(i+1)}
	}
	var (
		mu    sync.Mutex
		calls int
	)
	srv := ssetest.NewServer(ssetest.Responder(func(r *http.Request) ssetest.Response {
		mu.Lock()
		defer mu.Unlock()
		calls++
		rest := ssetest.After(events, r.Header.Get("Last-Event-ID"))
		switch {
		case len(rest) == 0:
			return ssetest.Response{Status: http.StatusNoContent}
		case calls == 1:
			return ssetest.Response{Steps: []ssetest.Step{ssetest.Write(ssetest.Encode(rest[:3]...)), ssetest.Stall()}}
		}
		// An event without an id keeps the last event ID of the stream.
		return ssetest.Response{Steps: []ssetest.Step{ssetest.Write(ssetest.Encode(rest...) + "data: tail\n\n")}}
	}))
	defer srv.Close()
	d, err := New(srv.URL, WithHTTPClient(testClient(t)), WithErrorStrategy(AlwaysContinue()),
		WithInitialDelay(time.Millisecond), WithMinDelay(0), WithJitter(0))
	if err != nil {
		t.Fatal(err)
	}
	var l recorder
	l.record(d)
	d.OnEvent(func(_ context.Context, ev Event) {
		if ev.ID == "3" {
			d.Interrupt()
		}
	})
	if err := d.Run(context.Background()); err != nil {
		t.Fatalf("Run: got %v; want nil: the final 204 is the server's stop", err)
	}
	want := []string{"start 1"}
	for i := range 3 {
		want = append(want, fmt.Sprintf(`event message id="%d" last="%d" "e%d" has_id`, i+1, i+1, i+1))
	}
	want = append(want, "fault interrupted final=false delay=1ms", "start 2")
	for i := 3; i < 10; i++ {
		want = append(want, fmt.Sprintf(`event message id="%d" last="%d" "e%d" has_id`, i+1, i+1, i+1))
	}
	// The Interrupt was the caller's, so it does not add to the backoff's growth.
	want = append(want, `event message id="" last="10" "tail"`, "fault end final=false delay=1ms", "fault status 204 final=true delay=0s")
	checkActions(t, "actions", l.get(), want)
	checkActions(t, "Last-Event-ID headers", headerValues(srv.Requests(), "Last-Event-ID"), []string{"", "3", "10"})
}

// TestDispatcherStopInEveryPhase closes the dispatcher, or cancels its
// context, while it connects, while it reads and while it waits to
// reconnect. Each stops it without a Fault, and Start reports why. In
// memory, on fake time, the stop takes no time at all: nothing waits for a
// timer. On loopback sockets, where a read blocks in net/http, the stop
// comes (within a generous bound; no speed is claimed) and leaves no
// goroutine behind.
func TestDispatcherStopInEveryPhase(t *testing.T) {
	phases := []struct {
		name string
		resp ssetest.Response
		// reached waits on a socket until the dispatcher is in the phase;
		// faults counts the Faults delivered so far. In memory,
		// synctest.Wait does that.
		reached func(t *testing.T, srv *ssetest.Server, faults func() int)
		faults  []string
	}{
		{"connect", ssetest.Response{Steps: []ssetest.Step{ssetest.Stall()}}, func(t *testing.T, srv *ssetest.Server, _ func() int) {
			waitFor(t, "the request", func() bool { return len(srv.Requests()) == 1 })
		}, nil},
		{"read", ssetest.Response{Steps: []ssetest.Step{ssetest.Write(": hi\n"), ssetest.Stall()}}, func(t *testing.T, _ *ssetest.Server, _ func() int) {
			waitInPhase(t, "parser.(*Parser).fill", "net/http.(*body).Read")
		}, nil},
		{"backoff", ssetest.Response{Status: http.StatusServiceUnavailable}, func(t *testing.T, _ *ssetest.Server, faults func() int) {
			waitFor(t, "the 503", func() bool { return faults() == 1 })
			waitInPhase(t, "sse.(*Stream).sleep")
		}, []string{"fault status 503 final=false delay=1h0m0s"}},
	}
	// stop starts a dispatcher on client, waits with reached until it is in
	// the phase, stops it as how says, and checks how it stopped; it
	// returns how long the stop took.
	stop := func(t *testing.T, how string, client *http.Client, url string, reached func(faults func() int), wantFaults []string, startOK bool) time.Duration {
		d, err := New(url, WithHTTPClient(client), WithErrorStrategy(AlwaysContinue()),
			WithInitialDelay(time.Hour), WithMaxDelay(time.Hour), WithJitter(0))
		if err != nil {
			t.Fatal(err)
		}
		var l recorder
		d.OnFault(func(_ context.Context, f Fault) { l.add("%s", describe(f)) })
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		started := make(chan error, 1)
		go func() { started <- d.Start(ctx) }()
		reached(func() int { return len(l.get()) })

		begin := time.Now()
		if how == "Close" {
			d.Close()
		} else {
			cancel()
		}
		select {
		case <-d.Done():
		case <-time.After(10 * time.Second): // liveness only
			t.Fatal("the dispatcher did not stop")
		}
		took := time.Since(begin)
		if err := d.Wait(); err != nil {
			t.Errorf("Wait: got %v; want nil", err)
		}
		err = <-started
		if startOK {
			if err != nil {
				t.Errorf("Start: got %v; want nil, the connection succeeded", err)
			}
		} else if want := map[string]error{"Close": ErrClosed, "cancel": context.Canceled}[how]; !errors.Is(err, want) {
			t.Errorf("Start: got %v; want %v", err, want)
		}
		checkActions(t, "faults", l.get(), wantFaults)
		return took
	}
	for _, ph := range phases {
		for _, how := range []string{"Close", "cancel"} {
			t.Run(ph.name+" "+how, func(t *testing.T) {
				t.Run("memory", func(t *testing.T) {
					synctest.Test(t, func(t *testing.T) {
						client := &http.Client{Transport: &ssetest.Transport{Handler: ssetest.Sequence(ph.resp)}}
						took := stop(t, how, client, "http://sse.test/", func(func() int) { synctest.Wait() }, ph.faults, ph.name == "read")
						if took != 0 {
							t.Errorf("%s took %v of fake time to stop the dispatcher; want none", how, took)
						}
					})
				})
				t.Run("socket", func(t *testing.T) {
					defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
					srv := ssetest.NewServer(ssetest.Sequence(ph.resp))
					defer srv.Close()
					client := testClient(t)
					defer client.Transport.(*http.Transport).CloseIdleConnections()
					took := stop(t, how, client, srv.URL, func(faults func() int) { ph.reached(t, srv, faults) }, ph.faults, ph.name == "read")
					t.Logf("stopped in %v", took)
				})
			})
		}
	}
}

// A user callback that panics on the stream's goroutine does not take the
// process down: a Source fails that attempt, a strategy or BackOff stops
// the stream, each with a *PanicError that names it.
func TestDispatcherCallbackPanics(t *testing.T) {
	panicky := SourceFunc(func(context.Context, string) (io.ReadCloser, error) { panic("source boom") })
	tests := []struct {
		name      string
		opts      []Option
		wantFunc  string
		wantFinal bool
	}{
		{"source", []Option{WithSource(panicky), WithErrorStrategy(ContinueWithMaxAttempts(1))}, "source", false},
		{"error strategy", []Option{WithSource(script(scriptStep{err: errRefused})),
			WithErrorStrategy(func(error, int, time.Duration) bool { panic("strategy boom") })}, "error strategy", true},
		{"backoff", []Option{WithSource(script(scriptStep{err: errRefused})), WithErrorStrategy(AlwaysContinue()),
			WithBackOff(panickyBackOff{})}, "backoff", true},
		{"request hook", []Option{WithHTTPClient(&http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			resp, _ := memResponse(r)
			return resp, nil
		})}), WithRequestHook(func(*http.Request) error { panic("hook boom") }), WithErrorStrategy(ContinueWithMaxAttempts(1))}, "source", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				d, err := New("http://sse.test/", tt.opts...)
				if err != nil {
					t.Fatal(err)
				}
				var faults []Fault
				d.OnFault(func(_ context.Context, f Fault) { faults = append(faults, f) })
				err = d.Run(t.Context())
				var pe *PanicError
				if len(faults) == 0 || !errors.As(faults[0].Err, &pe) || pe.Func != tt.wantFunc || faults[0].Final != tt.wantFinal {
					t.Fatalf("faults: got %v; want the first a *PanicError from the %s, final %v", faults, tt.wantFunc, tt.wantFinal)
				}
				if !errors.As(err, &pe) {
					t.Errorf("Run: got %v; want the *PanicError", err)
				}
			})
		})
	}
}

type panickyBackOff struct{}

func (panickyBackOff) NextBackOff() time.Duration { panic("backoff boom") }

func (panickyBackOff) Reset() {}

// Start returns after the handlers of the action that decided it have run,
// so its caller may read what they wrote without further synchronisation
// (the race detector checks that).
func TestDispatcherStartReturnsAfterHandlers(t *testing.T) {
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

// TestDispatcherFaultContextEndsWithClose checks that the context an OnFault
// handler receives lives on after the attempt, until the dispatcher stops:
// work a handler starts on it ends with Close.
func TestDispatcherFaultContextEndsWithClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newScriptedDispatcher(t, script(scriptStep{err: errors.New("refused")}, scriptStep{open: -1}),
			WithErrorStrategy(AlwaysContinue()), WithInitialDelay(time.Second))
		faultCtx := make(chan context.Context, 1)
		d.OnFault(func(ctx context.Context, _ Fault) {
			select {
			case faultCtx <- ctx:
			default:
			}
		})
		if err := d.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		ctx := <-faultCtx
		synctest.Wait() // the stream waits out its retry delay
		if ctx.Err() != nil {
			t.Fatalf("fault context: err %v; want one still live after the attempt", ctx.Err())
		}
		d.Close()
		synctest.Wait()
		if cause := context.Cause(ctx); !errors.Is(cause, ErrClosed) {
			t.Errorf("fault context after Close: cause %v; want ErrClosed", cause)
		}
	})
}
