package sse

// Tests of the reconnection policy (reconnect.go): error strategies, the
// default backoff and a user's BackOff, the floor, the retry field,
// Retry-After and the 204 stop.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/ssekit/sse/ssetest"
)

// The default strategy retries what a browser retries: drops, refusals,
// timeouts and orderly ends; a response that is no event stream stops it.
func TestContinueUnlessRejected(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{nil, true}, // an orderly end
		{io.ErrUnexpectedEOF, true},
		{&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, true},
		{&TimeoutError{After: time.Second}, true},
		{fmt.Errorf("wrapped: %w", &StatusError{Code: 503}), false},
		{&StatusError{Code: 404}, false},
		{&StatusError{Code: 204}, false},
		{&ContentTypeError{ContentType: "text/html"}, false},
		{&ContentEncodingError{Encoding: "br"}, false},
		{&TooLargeError{Limit: 1}, true},
		{&RedirectError{Limit: 10}, true},
		{&PanicError{Value: "boom", Func: "source"}, true},
	}
	strategy := ContinueUnlessRejected()
	for _, tt := range tests {
		if got := strategy(tt.err, 1, 0); got != tt.want {
			t.Errorf("ContinueUnlessRejected()(%v) = %v; want %v", tt.err, got, tt.want)
		}
	}
}

func TestErrorStrategyFuncs(t *testing.T) {
	tests := []struct {
		name     string
		strategy ErrorStrategy
		failures int
		elapsed  time.Duration
		want     bool
	}{
		{"AlwaysFail first", AlwaysFail(), 1, 0, false},
		{"AlwaysContinue many", AlwaysContinue(), 1000, time.Hour, true},
		{"ContinueWithMaxAttempts(3) at 3", ContinueWithMaxAttempts(3), 3, 0, true},
		{"ContinueWithMaxAttempts(3) at 4", ContinueWithMaxAttempts(3), 4, 0, false},
		{"ContinueWithMaxAttempts(0) at 1", ContinueWithMaxAttempts(0), 1, 0, false},
		{"ContinueWithTimeLimit(10s) before", ContinueWithTimeLimit(10 * time.Second), 9, 10*time.Second - 1, true},
		{"ContinueWithTimeLimit(10s) at", ContinueWithTimeLimit(10 * time.Second), 9, 10 * time.Second, false},
	}
	for _, tt := range tests {
		if got := tt.strategy(errRefused, tt.failures, tt.elapsed); got != tt.want {
			t.Errorf("%s: failures %d, elapsed %v: got %v; want %v", tt.name, tt.failures, tt.elapsed, got, tt.want)
		}
	}
}

// failingDelays runs a stream whose connections all fail and returns the
// retry delays of its first n Faults and the time between its attempts.
func failingDelays(t *testing.T, n int, opts ...Option) (delays, gaps []time.Duration) {
	t.Helper()
	src := script(scriptStep{err: errRefused})
	s, err := NewStream("mem://test", append([]Option{WithSource(src), WithErrorStrategy(AlwaysContinue())}, opts...)...)
	if err != nil {
		t.Fatalf("NewStream: %v", err)
	}
	defer s.Close()
	return delaysOf(t, s, n), src.gaps()
}

// Without jitter the default backoff doubles from the base delay and stops
// growing at the maximum, 30s unless set.
func TestDefaultBackoffExact(t *testing.T) {
	tests := []struct {
		name string
		opts []Option
		want []time.Duration
	}{
		{"defaults", nil, seconds(1, 2, 4, 8, 16, 30, 30, 30)},
		{"initial delay", []Option{WithInitialDelay(3 * time.Second)}, seconds(3, 6, 12, 24, 30, 30)},
		{"max delay", []Option{WithMaxDelay(10 * time.Second)}, seconds(1, 2, 4, 8, 10, 10)},
		{"initial delay above the max", []Option{WithInitialDelay(45 * time.Second)}, seconds(30, 30, 30)},
		{"initial delay zero grows from the floor", []Option{WithInitialDelay(0)}, seconds(0.1, 0.2, 0.4)},
		{"initial delay zero with no floor", []Option{WithInitialDelay(0), WithMinDelay(0)}, seconds(0, 0, 0)},
		{"multiplier", []Option{WithMultiplier(3)}, seconds(1, 3, 9, 27, 30)},
		{"multiplier 1 is constant", []Option{WithMultiplier(1)}, seconds(1, 1, 1)},
		{"max delay zero is no cap", []Option{WithMaxDelay(0)}, seconds(1, 2, 4, 8, 16, 32, 64, 128)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				delays, gaps := failingDelays(t, len(tt.want), append([]Option{WithJitter(0)}, tt.opts...)...)
				if !slices.Equal(delays, tt.want) {
					t.Errorf("Fault delays: got %v; want %v", delays, tt.want)
				}
				if !slices.Equal(gaps, tt.want[:len(tt.want)-1]) {
					t.Errorf("time between attempts: got %v; want %v", gaps, tt.want[:len(tt.want)-1])
				}
			})
		})
	}
}

// The server's retry field is a base delay like WithInitialDelay: the
// backoff's cap still applies to it.
func TestRetryFieldAboveMaxDelay(t *testing.T) {
	tests := []struct {
		retry string
		opts  []Option
		want  []time.Duration
	}{
		{"60000", nil, seconds(30, 30, 0)},
		{"9223372036854775807", nil, seconds(30, 30, 0)},
		{"18446744073709551615", nil, seconds(30, 30, 0)},
		{"9223372036854775807", []Option{WithJitter(0.5)}, nil}, // checked for range below
		{"9223372036854775807", []Option{WithMaxDelay(0)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.retry, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				src := script(scriptStep{body: "retry: " + tt.retry + "\n\n"}, scriptStep{err: errRefused})
				s := newScripted(t, src, append([]Option{WithErrorStrategy(ContinueWithMaxAttempts(2))}, tt.opts...)...)
				var delays []time.Duration
				for a := range s.All(t.Context()) {
					if f, ok := a.(Fault); ok {
						delays = append(delays, f.RetryDelay)
						if len(delays) == 1 {
							s.Interrupt() // skip the delay, however long it is
						}
					}
				}
				if tt.want != nil && !slices.Equal(delays, tt.want) {
					t.Errorf("delays after retry: %s with a 30s cap: got %v; want %v", tt.retry, delays, tt.want)
				}
				for _, d := range delays {
					if d < 0 {
						t.Errorf("delays after retry: %s: got %v; want none negative", tt.retry, delays)
					}
				}
			})
		})
	}
}

// The default jitter takes a random part of at most the given fraction off
// each delay, never adding to it.
func TestDefaultBackoffJitter(t *testing.T) {
	tests := []struct {
		name     string
		opts     []Option
		fraction float64
	}{
		{"default 0.5", nil, 0.5},
		{"0.25", []Option{WithJitter(0.25)}, 0.25},
		{"1", []Option{WithJitter(1)}, 1},
	}
	base := seconds(1, 2, 4, 8, 16, 30, 30, 30, 30, 30)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewStream("mem://test", append([]Option{WithSource(script(scriptStep{err: errRefused}))}, tt.opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			const rounds = 200
			varied := 0
			for range rounds {
				s.policy.growth = 0
				for i, b := range base {
					d, ok, _ := s.policy.delay(ending{kind: endNetwork})
					lo := b - time.Duration(tt.fraction*float64(b))
					if !ok || d < lo || d > b {
						t.Fatalf("delay %d (base %v): got %v, %v; want within [%v, %v]", i, b, d, ok, lo, b)
					}
					if d != b {
						varied++
					}
				}
			}
			if varied < rounds*len(base)/2 {
				t.Errorf("delays below the base: got %d of %d; want most of them", varied, rounds*len(base))
			}
		})
	}
}

// countingBackOff is a user BackOff that returns fixed delays, then Stop,
// and counts its resets.
type countingBackOff struct {
	delays []time.Duration
	i      int
	resets int
}

func (b *countingBackOff) NextBackOff() time.Duration {
	if b.i >= len(b.delays) {
		return backoff.Stop
	}
	b.i++
	return b.delays[b.i-1]
}

func (b *countingBackOff) Reset() { b.i = 0; b.resets++ }

func TestWithBackOff(t *testing.T) {
	tests := []struct {
		name string
		b    backoff.BackOff
		want []time.Duration // the delays of the Faults; the last Fault is final
	}{
		{"constant, no jitter added", backoff.NewConstantBackOff(7 * time.Second), seconds(7, 7, 7, 7)},
		{"Stop after two", backoff.WithMaxRetries(backoff.NewConstantBackOff(time.Second), 2), seconds(1, 1, 0)},
		{"StopBackOff", &backoff.StopBackOff{}, seconds(0)},
		{"user delays", &countingBackOff{delays: seconds(0.5, 3)}, seconds(0.5, 3, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				delays, gaps := failingDelays(t, 4, WithBackOff(tt.b))
				if !slices.Equal(delays, tt.want) {
					t.Errorf("Fault delays: got %v; want %v", delays, tt.want)
				}
				wantGaps := tt.want[:len(tt.want)-1]
				if !slices.Equal(gaps, wantGaps) {
					t.Errorf("time between attempts: got %v; want %v", gaps, wantGaps)
				}
			})
		})
	}
}

// backoff.Stop ends the stream even under AlwaysContinue, with a final Fault.
func TestWithBackOffStopIsFinal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newScripted(t, script(scriptStep{err: errRefused}), WithBackOff(&backoff.StopBackOff{}), WithErrorStrategy(AlwaysContinue()))
		got := pull(t.Context(), s, 100)
		if want := []string{faultOf(errRefused, true, 0)}; !slices.Equal(got, want) {
			t.Errorf("got %q; want %q", got, want)
		}
	})
}

// A user BackOff is reset when the stream starts, and once a connection has
// stayed up for the reset threshold, and not before.
func TestWithBackOffReset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &countingBackOff{delays: seconds(1, 2, 3)}
		src := script(scriptStep{err: errRefused}, scriptStep{body: "data: x\n\n", open: 5 * time.Second},
			scriptStep{body: "data: x\n\n", open: 10 * time.Second}, scriptStep{err: errRefused})
		s := newScripted(t, src, WithBackOff(b), WithResetAfter(10*time.Second), WithErrorStrategy(ContinueWithMaxAttempts(1)))
		var delays []time.Duration
		for a := range s.All(t.Context()) {
			if f, ok := a.(Fault); ok {
				delays = append(delays, f.RetryDelay)
			}
		}
		// fail (1s); up 5s (2s); up 10s: reset (1s); a second consecutive failure: final.
		if want := seconds(1, 2, 1, 0); !slices.Equal(delays, want) {
			t.Errorf("delays: got %v; want %v", delays, want)
		}
		if b.resets != 2 { // when the stream started, and after the long connection
			t.Errorf("Reset calls: got %d; want 2", b.resets)
		}
	})
}

// TestBackoffAfterFailedAttempts checks on fake time that 503 storms and refused
// connections are retried after exactly the delays of the backoff
// (doubling from 1s, capped at 8s, no jitter), the strategy's limits hold,
// and a connection that stayed up for WithResetAfter starts the delays
// again from the base.
func TestBackoffAfterFailedAttempts(t *testing.T) {
	type answer struct {
		status  int           // 0: refuse the connection
		stayFor time.Duration // for a 200: how long the stream lasts
	}
	tests := []struct {
		name      string
		strategy  ErrorStrategy
		answers   []answer // the last one repeats
		faults    []string
		requestAt []time.Duration // when each request arrived
	}{
		{"503 storm then a long connection",
			AlwaysContinue(),
			[]answer{{503, 0}, {503, 0}, {503, 0}, {503, 0}, {503, 0}, {503, 0}, {200, 0}, {200, 2 * time.Minute}, {503, 0}, {200, 10 * time.Second}, {204, 0}},
			[]string{
				"fault status 503 final=false delay=1s", "fault status 503 final=false delay=2s",
				"fault status 503 final=false delay=4s", "fault status 503 final=false delay=8s",
				"fault status 503 final=false delay=8s", "fault status 503 final=false delay=8s",
				"fault end final=false delay=8s", // up for no time: the backoff goes on
				"fault end final=false delay=1s", // up for 2m >= 1m: reset
				"fault status 503 final=false delay=2s",
				"fault end final=false delay=4s", // up for 10s < 1m: no reset
				"fault status 204 final=true delay=0s",
			},
			[]time.Duration{0, 1 * time.Second, 3 * time.Second, 7 * time.Second, 15 * time.Second, 23 * time.Second, 31 * time.Second,
				39 * time.Second, 39*time.Second + 2*time.Minute + 1*time.Second, 42*time.Second + 2*time.Minute,
				56*time.Second + 2*time.Minute},
		},
		{"reset after a custom threshold",
			AlwaysContinue(),
			[]answer{{503, 0}, {503, 0}, {200, 10 * time.Second}, {503, 0}, {204, 0}},
			[]string{
				"fault status 503 final=false delay=1s", "fault status 503 final=false delay=2s",
				"fault end final=false delay=1s", // up for 10s >= 5s: reset
				"fault status 503 final=false delay=2s",
				"fault status 204 final=true delay=0s",
			},
			[]time.Duration{0, 1 * time.Second, 3 * time.Second, 14 * time.Second, 16 * time.Second},
		},
		{"refusals until the attempts run out",
			ContinueWithMaxAttempts(3),
			[]answer{{0, 0}},
			[]string{
				"fault refused final=false delay=1s", "fault refused final=false delay=2s",
				"fault refused final=false delay=4s", "fault refused final=true delay=0s",
			},
			[]time.Duration{0, 1 * time.Second, 3 * time.Second, 7 * time.Second},
		},
		{"503 and refusals until the time limit",
			ContinueWithTimeLimit(10 * time.Second),
			[]answer{{503, 0}, {0, 0}},
			[]string{
				"fault status 503 final=false delay=1s", "fault refused final=false delay=2s",
				"fault refused final=false delay=4s", "fault refused final=false delay=8s",
				"fault refused final=true delay=0s", // 15s after the first failure
			},
			[]time.Duration{0, 1 * time.Second, 3 * time.Second, 7 * time.Second, 15 * time.Second},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				begin := time.Now()
				var at []time.Duration
				tr := &ssetest.Transport{Handler: ssetest.Responder(func(*http.Request) ssetest.Response {
					a := tt.answers[min(len(at)-1, len(tt.answers)-1)]
					return ssetest.Response{Status: a.status, Steps: []ssetest.Step{ssetest.Write("data: up\n\n"), ssetest.Sleep(a.stayFor)}}
				})}
				client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
					at = append(at, time.Since(begin))
					if tt.answers[min(len(at)-1, len(tt.answers)-1)].status == 0 {
						return nil, refusedError()
					}
					return tr.RoundTrip(r)
				})}
				resetAfter := time.Minute // the default
				if tt.name == "reset after a custom threshold" {
					resetAfter = 5 * time.Second
				}
				d, err := New("http://test/", WithHTTPClient(client), WithErrorStrategy(tt.strategy),
					WithJitter(0), WithMaxDelay(8*time.Second), WithResetAfter(resetAfter))
				if err != nil {
					t.Fatal(err)
				}
				var faults []string
				d.OnFault(func(_ context.Context, f Fault) {
					faults = append(faults, describe(f))
					if got := d.NextRetryDelay(); got != f.RetryDelay {
						t.Errorf("NextRetryDelay() = %v in OnFault; want the Fault's %v", got, f.RetryDelay)
					}
				})
				// A final 204 is the server's stop, which Run does not report.
				serverStop := strings.Contains(tt.faults[len(tt.faults)-1], "status 204")
				if err := d.Run(context.Background()); (err == nil) != serverStop {
					t.Errorf("Run: got %v; want nil exactly when the server asked to stop", err)
				}
				checkActions(t, "faults", faults, tt.faults)
				if !slices.Equal(at, tt.requestAt) {
					t.Errorf("requests at\ngot  %v\nwant %v", at, tt.requestAt)
				}
			})
		})
	}
}

// The retry field replaces the base delay: the next reconnection waits that
// long, and the backoff doubles from there.
func TestRetryFieldSetsTheNextDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := script(scriptStep{body: "retry: 5000\n\n"}, scriptStep{err: errRefused})
		s := newScripted(t, src, WithErrorStrategy(ContinueWithMaxAttempts(3)))
		got := pull(t.Context(), s, 100)
		want := []string{
			"start 1",
			faultOf(nil, false, 5*time.Second),
			faultOf(errRefused, false, 10*time.Second),
			faultOf(errRefused, false, 20*time.Second),
			faultOf(errRefused, true, 0),
		}
		if !slices.Equal(got, want) {
			t.Errorf("after retry: 5000:\ngot  %q\nwant %q", got, want)
		}
		wantGaps := []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second}
		if gaps := src.gaps(); !slices.Equal(gaps, wantGaps) {
			t.Errorf("time between attempts: got %v; want %v", gaps, wantGaps)
		}
	})
}

// The backoff starts again from the base delay once a connection has stayed
// up for the WithResetAfter threshold, and only then.
func TestBackoffResetAfterLongConnection(t *testing.T) {
	tests := []struct {
		name   string
		upFor  time.Duration
		reset  time.Duration
		wantNx time.Duration // the delay after the long connection ends
	}{
		{"up for the default 60s", 60 * time.Second, 0, time.Second},
		{"up for 59s of the default 60s", 59 * time.Second, 0, 4 * time.Second},
		{"up for 10s of 10s", 10 * time.Second, 10 * time.Second, time.Second},
		{"up for 9s of 10s", 9 * time.Second, 10 * time.Second, 4 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				src := script(scriptStep{err: errRefused}, scriptStep{err: errRefused},
					scriptStep{body: "data: a\n\n", open: tt.upFor}, scriptStep{err: errRefused})
				opts := []Option{WithErrorStrategy(ContinueWithMaxAttempts(5))}
				if tt.reset != 0 {
					opts = append(opts, WithResetAfter(tt.reset))
				}
				s := newScripted(t, src, opts...)
				var delays []time.Duration
				for a := range s.All(t.Context()) {
					if f, ok := a.(Fault); ok {
						delays = append(delays, f.RetryDelay)
						if len(delays) == 3 {
							break
						}
					}
				}
				want := []time.Duration{time.Second, 2 * time.Second, tt.wantNx}
				if !slices.Equal(delays, want) {
					t.Errorf("delays: got %v; want %v", delays, want)
				}
			})
		})
	}
}

func TestErrorStrategies(t *testing.T) {
	tests := []struct {
		name     string
		strategy ErrorStrategy
		steps    []scriptStep
		want     []string
	}{
		{
			name:     "AlwaysFail stops at the first failure",
			strategy: AlwaysFail(),
			steps:    []scriptStep{{err: errRefused}},
			want:     []string{faultOf(errRefused, true, 0)},
		},
		{
			name:     "AlwaysFail stops at an orderly end",
			strategy: AlwaysFail(),
			steps:    []scriptStep{{body: ":\n"}},
			want:     []string{"start 1", `comment ""`, faultOf(nil, true, 0)},
		},
		{
			name:     "AlwaysContinue keeps retrying",
			strategy: AlwaysContinue(),
			steps:    []scriptStep{{err: errRefused}, {err: errRefused}, {err: errRefused}, {err: errRefused}, {body: ":\n", open: -1}},
			want: []string{faultOf(errRefused, false, 1*time.Second), faultOf(errRefused, false, 2*time.Second),
				faultOf(errRefused, false, 4*time.Second), faultOf(errRefused, false, 8*time.Second), "start 5", `comment ""`},
		},
		{
			name:     "ContinueWithMaxAttempts counts consecutive failures",
			strategy: ContinueWithMaxAttempts(2),
			steps:    []scriptStep{{err: errRefused}, {err: errRefused}, {err: errRefused}},
			want:     []string{faultOf(errRefused, false, time.Second), faultOf(errRefused, false, 2*time.Second), faultOf(errRefused, true, 0)},
		},
		{
			name:     "ContinueWithMaxAttempts starts again after a success",
			strategy: ContinueWithMaxAttempts(1),
			steps:    []scriptStep{{err: errRefused}, {body: "data: x\n\n"}, {err: errRefused}, {err: errRefused}},
			want: []string{faultOf(errRefused, false, time.Second), "start 2", msg("x"), faultOf(nil, false, 2*time.Second),
				faultOf(errRefused, true, 0)},
		},
		{
			// Failures at 0s, 1s, 3s, 7s and 15s after the first: the last is past 10s.
			name:     "ContinueWithTimeLimit",
			strategy: ContinueWithTimeLimit(10 * time.Second),
			steps:    []scriptStep{{err: errRefused}},
			want: []string{faultOf(errRefused, false, 1*time.Second), faultOf(errRefused, false, 2*time.Second),
				faultOf(errRefused, false, 4*time.Second), faultOf(errRefused, false, 8*time.Second), faultOf(errRefused, true, 0)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := newScripted(t, script(tt.steps...), WithErrorStrategy(tt.strategy))
				if got := pull(t.Context(), s, len(tt.want)); !slices.Equal(got, tt.want) {
					t.Errorf("\ngot  %q\nwant %q", got, tt.want)
				}
			})
		})
	}
}

// A custom strategy sees the error (nil for an orderly end), the count of
// consecutive failures and the time since the first of them.
func TestCustomErrorStrategy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		type call struct {
			err      error
			failures int
			elapsed  time.Duration
		}
		var calls []call
		strategy := func(err error, failures int, elapsed time.Duration) bool {
			calls = append(calls, call{err, failures, elapsed})
			return len(calls) < 4
		}
		src := script(scriptStep{err: errRefused}, scriptStep{err: errRefused}, scriptStep{body: "data: a\n\n", open: 3 * time.Second}, scriptStep{err: errRefused})
		s := newScripted(t, src, WithErrorStrategy(strategy))
		pull(t.Context(), s, 100)
		want := []call{{errRefused, 1, 0}, {errRefused, 2, time.Second}, {nil, 1, 0}, {errRefused, 2, 4 * time.Second}}
		if !slices.Equal(calls, want) {
			t.Errorf("strategy calls: got %v; want %v", calls, want)
		}
	})
}

// A 204 stops the stream even when the error strategy would continue; other
// bad statuses are retried.
func TestStatus204StopsWhateverTheStrategy(t *testing.T) {
	for _, code := range []int{204, 503} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			var log requestLog
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				log.record(r)
				w.WriteHeader(code)
			}))
			defer srv.Close()
			strategyCalls := 0
			got, _ := pullHTTP(t, srv, "", 3, WithInitialDelay(0), WithMinDelay(0), WithErrorStrategy(func(error, int, time.Duration) bool {
				strategyCalls++
				return true
			}))
			f := got[len(got)-1].(Fault)
			var se *StatusError
			if !errors.As(f.Err, &se) || se.Code != code {
				t.Fatalf("error: got %v; want a *StatusError %d", f.Err, code)
			}
			if code == 204 {
				if len(got) != 1 || !f.Final || log.count() != 1 || strategyCalls != 0 {
					t.Errorf("204: got actions %v, %d requests, %d strategy calls; want one final Fault, 1 request, 0 calls",
						got, log.count(), strategyCalls)
				}
			} else if len(got) != 3 || f.Final || log.count() != 3 {
				t.Errorf("%d: got actions %v, %d requests; want 3 retried Faults", code, got, log.count())
			}
		})
	}
}

// delaysOf ranges over s until n Faults have arrived (or a final
// one) and returns their retry delays.
func delaysOf(t *testing.T, s *Stream, n int) []time.Duration {
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
		if got, want := delaysOf(t, s, 5), seconds(0.3, 0.6, 1.2, 2.4, 4.8); !slices.Equal(got, want) {
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
		if got, want := delaysOf(t, s, 5), seconds(1, 2, 4, 1, 2); !slices.Equal(got, want) {
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
		if got, want := delaysOf(t, s, 4), seconds(1, 2, 4, 8); !slices.Equal(got, want) {
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
				got := delaysOf(t, s, 2)
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
		if got := delaysOf(t, s, 2); !slices.Equal(got, seconds(42, 42)) {
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
				if got := delaysOf(t, s, 5); len(got) != 5 {
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
		for i, d := range delaysOf(t, s, 3) {
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
		if got := delaysOf(t, s, 2); !slices.Equal(got, seconds(10, 10)) {
			t.Errorf("delays under a 10s cap: got %v; want 10s, 10s", got)
		}
		s = newScripted(t, script(scriptStep{err: errRefused}), WithBackOff(backoff.NewConstantBackOff(0)),
			WithErrorStrategy(AlwaysContinue()))
		if got := delaysOf(t, s, 2); !slices.Equal(got, []time.Duration{DefaultMinDelay, DefaultMinDelay}) {
			t.Errorf("delays of a zero BackOff: got %v; want the floor", got)
		}
	})
}

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
