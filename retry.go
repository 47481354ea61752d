package sse

import (
	"math/rand/v2"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// ErrorStrategy decides whether a stream reconnects after a connection fails
// or ends. err is nil when the server ended the stream in an orderly way.
// failures counts the consecutive failures since the last successful
// connection, this one included, and elapsed is the time since the first of
// them. It returns true to reconnect, false to stop.
//
// An ErrorStrategy runs on the stream's goroutine. It is not consulted after
// a 204 No Content (the stream stops), an Interrupt (it reconnects) or Close.
type ErrorStrategy func(err error, failures int, elapsed time.Duration) bool

// AlwaysFail stops the stream at its first failure, or when the server ends
// it. It is the default.
func AlwaysFail() ErrorStrategy {
	return func(error, int, time.Duration) bool { return false }
}

// AlwaysContinue reconnects after every failure, for as long as it takes.
// A server that stays down keeps the stream retrying, within the backoff's
// delays, until Close or the context stops it.
func AlwaysContinue() ErrorStrategy {
	return func(error, int, time.Duration) bool { return true }
}

// ContinueWithMaxAttempts reconnects after up to n consecutive failures and
// stops at the next one. A successful connection starts the count again.
func ContinueWithMaxAttempts(n int) ErrorStrategy {
	return func(_ error, failures int, _ time.Duration) bool { return failures <= n }
}

// ContinueWithTimeLimit reconnects until d has passed since the first of the
// consecutive failures, then stops. A successful connection starts the clock
// again.
func ContinueWithTimeLimit(d time.Duration) ErrorStrategy {
	return func(_ error, _ int, elapsed time.Duration) bool { return elapsed < d }
}

// retryDelay adapts a backoff.BackOff to the reconnection rules of SSE: the
// server's retry field sets the base delay, and the default backoff takes
// its jitter off the delay, as the reference client does, instead of
// spreading it both ways as backoff.ExponentialBackOff does.
type retryDelay struct {
	b      backoff.BackOff
	jitter float64 // fraction taken off at random; 0 for a user's BackOff
}

// setBase applies a new base delay, from the retry field or the options.
func (r *retryDelay) setBase(d time.Duration) {
	if eb, ok := r.b.(*backoff.ExponentialBackOff); ok {
		eb.InitialInterval = d
		eb.Reset()
	}
}

// next returns the delay before the next attempt; false means the backoff
// says stop.
func (r *retryDelay) next() (time.Duration, bool) {
	d := r.b.NextBackOff()
	if d == backoff.Stop {
		return 0, false
	}
	// ExponentialBackOff returns its InitialInterval uncapped, so a base delay
	// (WithInitialDelay or the retry field) above MaxInterval needs the cap here.
	if eb, ok := r.b.(*backoff.ExponentialBackOff); ok && eb.RandomizationFactor == 0 && eb.MaxInterval > 0 {
		d = min(d, eb.MaxInterval)
	}
	if r.jitter > 0 {
		d -= time.Duration(rand.Float64() * r.jitter * float64(d))
	}
	return d, true
}

func (r *retryDelay) reset() { r.b.Reset() }
