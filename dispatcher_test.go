package sse

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
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
}
