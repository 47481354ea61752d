package sse

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cenkalti/backoff/v4"
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

// faultDelays runs a stream whose connections all fail and returns the
// retry delays of its first n Faults and the time between its attempts.
func faultDelays(t *testing.T, n int, opts ...Option) (delays, gaps []time.Duration) {
	t.Helper()
	src := script(scriptStep{err: errRefused})
	s, err := NewStream("mem://test", append([]Option{WithSource(src), WithErrorStrategy(AlwaysContinue())}, opts...)...)
	if err != nil {
		t.Fatalf("NewStream: %v", err)
	}
	defer s.Close()
	for a := range s.All(t.Context()) {
		f := a.(Fault)
		delays = append(delays, f.RetryDelay)
		if len(delays) == n || f.Final {
			break
		}
	}
	return delays, src.gaps()
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
				delays, gaps := faultDelays(t, len(tt.want), append([]Option{WithJitter(0)}, tt.opts...)...)
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
				delays, gaps := faultDelays(t, 4, WithBackOff(tt.b))
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

func TestOptionsRejected(t *testing.T) {
	tests := []struct {
		name string
		opt  Option
	}{
		{"jitter below 0", WithJitter(-0.1)},
		{"jitter above 1", WithJitter(1.5)},
		{"negative initial delay", WithInitialDelay(-time.Second)},
		{"negative max delay", WithMaxDelay(-time.Second)},
		{"negative read timeout", WithReadTimeout(-time.Second)},
		{"negative reset threshold", WithResetAfter(-time.Second)},
		{"zero max event size", WithMaxEventSize(0)},
	}
	for _, tt := range tests {
		if d, err := New("http://127.0.0.1/", tt.opt); err == nil {
			d.Close()
			t.Errorf("New with %s: got no error; want one", tt.name)
		}
	}
}

// The defaults the option docs promise, from the one place that sets them.
func TestConfigDefaults(t *testing.T) {
	c := newConfig(nil)
	checks := []struct {
		name      string
		got, want any
	}{
		{"HTTP client", c.client, http.DefaultClient},
		{"method", c.method, http.MethodGet},
		{"max redirects", c.maxRedirects, 10},
		{"max event size", c.maxEventSize, 16 << 20},
		{"read timeout", c.readTimeout, time.Duration(0)},
		{"initial delay", c.initialDelay, time.Second},
		{"max delay", c.maxDelay, 30 * time.Second},
		{"jitter", c.jitter, 0.5},
		{"reset after", c.resetAfter, time.Minute},
		{"last event ID", c.lastEventID, ""},
		{"error strategy retries a refused connection", c.errorStrategy(errRefused, 1000, time.Hour), true},
		{"error strategy retries an orderly end", c.errorStrategy(nil, 1000, time.Hour), true},
		{"error strategy stops at a 500", c.errorStrategy(&StatusError{Code: 500}, 1, 0), false},
		{"error strategy stops at a wrong content type", c.errorStrategy(&ContentTypeError{}, 1, 0), false},
		{"no user backoff", c.backoff, backoff.BackOff(nil)},
		{"multiplier", c.multiplier, 2.0},
		{"min delay", c.minDelay, DefaultMinDelay},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("default %s: got %v; want %v", ch.name, ch.got, ch.want)
		}
	}
}
