package sse

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// faultDelaysFor ranges over s until n Faults have arrived (or a final
// one) and returns their retry delays.
func faultDelaysFor(t *testing.T, s *Stream, n int) []time.Duration {
	t.Helper()
	var delays []time.Duration
	for a := range s.All(t.Context()) {
		if f, ok := a.(Fault); ok {
			delays = append(delays, f.RetryDelay)
			if len(delays) == n || f.Final {
				break
			}
		}
	}
	return delays
}

// A server that sends "retry: 0" and drops each connection at once cannot
// make the client reconnect faster than the floor, and the delay keeps
// growing across the short connections.
func TestRetryZeroIsFloored(t *testing.T) {
	for _, jitter := range []float64{0, 0.5} {
		synctest.Test(t, func(t *testing.T) {
			src := script(scriptStep{body: "retry: 0\n\ndata: x\n\n"})
			s := newScripted(t, src, WithErrorStrategy(ContinueUnlessRejected()), WithJitter(jitter))
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			for range s.All(ctx) {
			}
			gaps := src.gaps()
			if len(gaps) > 8 {
				t.Errorf("jitter %v: %d connections in 10s; want at most 8 (delays 0.1s, 0.2s, 0.4s, ... from the floor)", jitter, len(gaps)+1)
			}
			for i, g := range gaps {
				if g < DefaultMinDelay {
					t.Errorf("jitter %v: gap %d is %v; want at least the floor %v", jitter, i, g, DefaultMinDelay)
				}
			}
			if jitter == 0 {
				if want := seconds(0.1, 0.2, 0.4, 0.8, 1.6, 3.2); !slices.Equal(gaps, want) {
					t.Errorf("gaps: got %v; want %v", gaps, want)
				}
			}
		})
	}
}

// The server's retry field sets the base delay, and only the base:
// connections that end early still make it grow, from the new base.
func TestRetryFieldSetsBaseOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := script(scriptStep{body: "retry: 300\n\ndata: x\n\n", open: time.Second})
		s := newScripted(t, src, WithErrorStrategy(AlwaysContinue()))
		if got, want := faultDelaysFor(t, s, 5), seconds(0.3, 0.6, 1.2, 2.4, 4.8); !slices.Equal(got, want) {
			t.Errorf("delays: got %v; want %v", got, want)
		}
	})
}

// Connections that succeed but end before the reset threshold count as
// failures for the delay, which grows until one stays up long enough.
func TestShortConnectionsGrowTheDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := func(d time.Duration) scriptStep { return scriptStep{body: "data: x\n\n", open: d} }
		src := script(up(time.Second), up(time.Second), up(time.Second), up(time.Minute), up(time.Second))
		s := newScripted(t, src, WithErrorStrategy(AlwaysContinue()))
		// 1s, 2s, 4s; then up a minute: from the base again (1s); then 2s.
		if got, want := faultDelaysFor(t, s, 5), seconds(1, 2, 4, 1, 2); !slices.Equal(got, want) {
			t.Errorf("delays: got %v; want %v", got, want)
		}
	})
}

// WithResetAfter(0) never resets the delay, as the Python client's
// threshold of 0 does not.
func TestResetAfterZeroNeverResets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := script(scriptStep{body: "data: x\n\n", open: 2 * time.Hour})
		s := newScripted(t, src, WithErrorStrategy(AlwaysContinue()), WithResetAfter(0))
		if got, want := faultDelaysFor(t, s, 4), seconds(1, 2, 4, 8); !slices.Equal(got, want) {
			t.Errorf("delays: got %v; want %v", got, want)
		}
	})
}

// A Retry-After on a retried 429 or 503 sets the next delay, up to the cap.
func TestRetryAfterSetsTheDelay(t *testing.T) {
	tests := []struct {
		name       string
		retryAfter time.Duration
		want       time.Duration
	}{
		{"above the backoff", 7 * time.Second, 7 * time.Second},
		{"below the backoff", time.Millisecond, time.Second},
		{"capped", 48 * time.Hour, MaxRetryAfter},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				src := script(scriptStep{err: &StatusError{Code: 503, RetryAfter: tt.retryAfter}})
				s := newScripted(t, src, WithErrorStrategy(AlwaysContinue()), WithMaxDelay(time.Second))
				got := faultDelaysFor(t, s, 2)
				if want := []time.Duration{tt.want, tt.want}; !slices.Equal(got, want) {
					t.Errorf("delays: got %v; want %v", got, want)
				}
				if gaps := src.gaps(); gaps[0] != tt.want {
					t.Errorf("time to the next attempt: got %v; want %v", gaps[0], tt.want)
				}
			})
		})
	}
}

// The same over HTTP: the header of a 503 reaches the reconnection policy.
func TestRetryAfterOverHTTP(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var at []time.Time
		client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			mu.Lock()
			at = append(at, time.Now())
			mu.Unlock()
			resp, w := memResponse(r)
			w.Close() // an empty body
			resp.StatusCode = 503
			resp.Header.Set("Retry-After", "42")
			return resp, nil
		})}
		s, err := NewStream("http://sse.test/", WithHTTPClient(client), WithErrorStrategy(AlwaysContinue()), WithJitter(0))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if got := faultDelaysFor(t, s, 2); !slices.Equal(got, seconds(42, 42)) {
			t.Errorf("delays: got %v; want 42s twice", got)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(at) < 2 || at[1].Sub(at[0]) != 42*time.Second {
			t.Errorf("requests at %v; want the second 42s after the first", at)
		}
	})
}

// A user's BackOff is never changed by the stream, so one may serve two
// streams at once (run with -race); the retry field does not touch it.
func TestUserBackOffSharedAndUntouched(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := backoff.NewExponentialBackOff(backoff.WithInitialInterval(time.Second), backoff.WithMaxElapsedTime(0))
		before := *b
		var wg sync.WaitGroup
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				src := script(scriptStep{body: "retry: 5\n\ndata: x\n\n"})
				s := newScripted(t, src, WithBackOff(b), WithErrorStrategy(AlwaysContinue()))
				if got := faultDelaysFor(t, s, 5); len(got) != 5 {
					t.Errorf("faults: got %v; want 5", got)
				}
			}()
		}
		wg.Wait()
		if b.InitialInterval != before.InitialInterval || b.Multiplier != before.Multiplier ||
			b.MaxInterval != before.MaxInterval || b.RandomizationFactor != before.RandomizationFactor {
			t.Errorf("the BackOff's settings changed: got %+v; want %+v", *b, before)
		}
	})
}

// A BackOff built long before the stream starts does not give up at once:
// the stream resets it when it starts (v4's MaxElapsedTime counts from the
// last Reset).
func TestUserBackOffBuiltLongBefore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := backoff.NewExponentialBackOff() // MaxElapsedTime 15 minutes
		time.Sleep(16 * time.Minute)
		s := newScripted(t, script(scriptStep{err: errRefused}), WithBackOff(b), WithErrorStrategy(AlwaysContinue()))
		for i, d := range faultDelaysFor(t, s, 3) {
			if d == 0 {
				t.Errorf("fault %d: final, with no delay; want a retry", i)
			}
		}
	})
}

// The shape options of the default backoff are refused with a user's; its
// bounds apply on top when given.
func TestUserBackOffWithOptions(t *testing.T) {
	constant := func() backoff.BackOff { return backoff.NewConstantBackOff(time.Minute) }
	for _, opt := range []Option{WithInitialDelay(time.Second), WithMultiplier(3)} {
		if _, err := NewStream("mem://x", WithSource(script(scriptStep{})), WithBackOff(constant()), opt); err == nil {
			t.Errorf("NewStream with a BackOff and a shape option: got no error; want one")
		}
	}
	synctest.Test(t, func(t *testing.T) {
		s := newScripted(t, script(scriptStep{err: errRefused}), WithBackOff(constant()), WithMaxDelay(10*time.Second),
			WithErrorStrategy(AlwaysContinue()))
		if got := faultDelaysFor(t, s, 2); !slices.Equal(got, seconds(10, 10)) {
			t.Errorf("delays under a 10s cap: got %v; want 10s, 10s", got)
		}
		s = newScripted(t, script(scriptStep{err: errRefused}), WithBackOff(backoff.NewConstantBackOff(0)),
			WithErrorStrategy(AlwaysContinue()))
		if got := faultDelaysFor(t, s, 2); !slices.Equal(got, []time.Duration{DefaultMinDelay, DefaultMinDelay}) {
			t.Errorf("delays of a zero BackOff: got %v; want the floor", got)
		}
	})
}

func TestOptionsRejectedBounds(t *testing.T) {
	for name, opt := range map[string]Option{
		"multiplier below 1": WithMultiplier(0.5),
		"multiplier NaN":     WithMultiplier(nan()),
		"negative floor":     WithMinDelay(-time.Second),
	} {
		if _, err := NewStream("mem://x", WithSource(script(scriptStep{})), opt); err == nil {
			t.Errorf("NewStream with %s: got no error; want one", name)
		}
	}
}

func nan() float64 { var zero float64; return zero / zero }

// Ranging again after the error strategy gave up waits the next delay
// before it reconnects, so a loop around the range cannot hammer a server.
func TestRangeAgainWaitsTheDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := script(scriptStep{err: errRefused})
		s := newScripted(t, src, WithErrorStrategy(ContinueWithMaxAttempts(1)))
		for range 3 {
			for range s.All(t.Context()) {
			}
		}
		// Per range: refused, 1s, refused (final; the next delay is 2s).
		// The next range's count starts afresh, but not its delay.
		if got, want := src.gaps(), seconds(1, 2, 4, 8, 16); !slices.Equal(got, want) {
			t.Errorf("time between attempts: got %v; want %v", got, want)
		}
	})
}

// A user callback that panics on the stream's goroutine does not take the
// process down: a Source fails that attempt, a strategy or BackOff stops
// the stream, each with a *PanicError that names it.
func TestCallbackPanics(t *testing.T) {
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
func (panickyBackOff) Reset()                     {}

// A range that broke out of its loop leaves the connection to the next
// range, which answers to its own context: cancelling it ends a read that
// is blocked on that connection.
func TestRangeObeysItsOwnContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newScripted(t, script(scriptStep{body: "data: x\n\n", open: -1}))
		for a := range s.All(t.Context()) {
			if _, ok := a.(Event); ok {
				break // the connection stays open, with nothing more to read
			}
		}
		ctx, cancel := context.WithCancel(t.Context())
		go func() {
			time.Sleep(time.Second)
			cancel()
		}()
		start := time.Now()
		for a := range s.All(ctx) {
			t.Errorf("second range: got %s; want nothing before its context ends", describe(a))
		}
		if waited := time.Since(start); waited != time.Second {
			t.Errorf("second range ended after %v; want when its context ended, 1s", waited)
		}
	})
}

// A range whose context was cancelled cannot end a later range: many
// rounds, so that a late cancel callback of the first has its chance.
func TestRangeAfterCancelledRange(t *testing.T) {
	s := newScripted(t, script(scriptStep{body: "data: x\n\n", open: -1}))
	for i := range 2000 {
		ctx, cancel := context.WithCancel(t.Context())
		for range s.All(ctx) {
			cancel() // ends this range, and its connection
		}
		cancel()
		live, stop := context.WithCancel(t.Context())
		var got []string
		for a := range s.All(live) {
			if got = append(got, describe(a)); len(got) == 2 {
				stop() // and so its connection: the next round connects again
			}
		}
		stop()
		if want := []string{"start " + strconv.Itoa(2*i+2), msg("x")}; !slices.Equal(got, want) {
			t.Fatalf("round %d: a range with a live context got %q; want %q", i, got, want)
		}
	}
}

// The read timeout bounds the wait for the response head as one deadline,
// and then the silence between bytes of the body.
func TestReadTimeoutPhases(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		slowHead := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			select {
			case <-time.After(3 * time.Second):
			case <-r.Context().Done():
				return nil, r.Context().Err()
			}
			resp, _ := memResponse(r)
			return resp, nil
		})}
		s, err := NewStream("http://sse.test/", WithHTTPClient(slowHead), WithReadTimeout(2*time.Second), WithErrorStrategy(AlwaysFail()))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		start := time.Now()
		var got []Action
		for a := range s.All(t.Context()) {
			got = append(got, a)
		}
		var te *TimeoutError
		if f, ok := lastFault(got); len(got) != 1 || !ok || !errors.As(f.Err, &te) || time.Since(start) != 2*time.Second {
			t.Errorf("a head 3s late under a 2s timeout: got %v after %v; want one *TimeoutError Fault after 2s", got, time.Since(start))
		}
	})
	synctest.Test(t, func(t *testing.T) {
		src := script(scriptStep{dribble: []string{"data: 1\n\n", ": tick\n", "data: 2\n\n", ": tick\n"}, dribbleEvery: 1500 * time.Millisecond})
		s := newScripted(t, src, WithReadTimeout(2*time.Second))
		got := pull(t.Context(), s, 10)
		if want := []string{"start 1", msg("1"), `comment " tick"`, msg("2"), `comment " tick"`, faultOf(nil, true, 0)}; !slices.Equal(got, want) {
			t.Errorf("bytes every 1.5s under a 2s timeout: got %q; want %q", got, want)
		}
	})
}
