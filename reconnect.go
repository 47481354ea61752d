package sse

// This file answers one question: once a connection attempt has ended,
// does the stream reconnect, and after how long? stream.go classifies how
// the attempt ended, once, as an ending; the error strategy, the backoff,
// the log line, the span and the metrics all read that value.

import (
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
)

// endKind says how a connection attempt ended.
type endKind uint8

const (
	endOrderly    endKind = iota // the server closed the body
	endServerStop                // 204 No Content: the server asks the client to stop
	endInterrupt                 // Interrupt dropped the connection
	endRequested                 // Close or the iteration's context: not a fault
	endTimeout                   // nothing arrived for the read timeout
	endTooLarge                  // a line or event over the size limit
	endRejected                  // the server answered, but not with a stream we can read
	endNetwork                   // anything else: refused, reset, cut mid-stream, ...
)

// ending is how one connection attempt ended, classified once.
type ending struct {
	kind       endKind
	err        error         // nil for an orderly end; already redacted
	status     int           // the response status, for a *StatusError
	retryAfter time.Duration // the response's Retry-After, for a *StatusError
	lasted     time.Duration // how long the connection was open; 0 if it never opened
	events     int64         // events the connection delivered
}

// classify works out how an attempt that failed with err ended. err is nil
// or io.EOF for an orderly end.
func classify(err error) ending {
	var (
		se *StatusError
		ce *ContentTypeError
		ee *ContentEncodingError
		te *TimeoutError
		le *TooLargeError
	)
	switch {
	case err == nil || errors.Is(err, io.EOF):
		return ending{kind: endOrderly}
	case errors.Is(err, ErrClosed):
		return ending{kind: endRequested, err: err}
	case errors.Is(err, ErrInterrupted):
		return ending{kind: endInterrupt, err: err}
	case errors.As(err, &se):
		e := ending{kind: endRejected, err: err, status: se.Code, retryAfter: se.RetryAfter}
		if se.Code == 204 {
			e.kind = endServerStop
		}
		return e
	case errors.As(err, &ce), errors.As(err, &ee):
		return ending{kind: endRejected, err: err}
	case errors.As(err, &te):
		return ending{kind: endTimeout, err: err}
	case errors.As(err, &le):
		return ending{kind: endTooLarge, err: err}
	}
	return ending{kind: endNetwork, err: err}
}

// fault reports whether the ending is a failure for traces and logs: a
// stop that the caller or the server asked for, and an orderly end, are not.
func (e ending) fault() bool {
	switch e.kind {
	case endOrderly, endServerStop, endInterrupt, endRequested:
		return false
	}
	return true
}

// reason names the ending for the error.type attribute and the reconnect
// reason of metrics: the status code for a bad status (as the HTTP
// conventions ask), a short word for the library's own conditions, and the
// Go type otherwise.
func (e ending) reason() string {
	var re *RedirectError
	switch {
	case e.kind == endOrderly:
		return "eof"
	case e.kind == endInterrupt:
		return "interrupt"
	case e.kind == endRequested:
		return "requested"
	case e.status != 0:
		return strconv.Itoa(e.status)
	case e.kind == endRejected:
		var ee *ContentEncodingError
		if errors.As(e.err, &ee) {
			return "content_encoding"
		}
		return "content_type"
	case e.kind == endTimeout:
		return "timeout"
	case e.kind == endTooLarge:
		return "too_large"
	case errors.As(e.err, &re):
		return "redirects"
	case errors.Is(e.err, io.ErrUnexpectedEOF):
		return "unexpected_eof" // the connection dropped mid-stream
	}
	return semconv.ErrorType(e.err).Value.AsString()
}

// ErrorStrategy decides whether a stream reconnects after a connection fails
// or ends. err is nil when the server ended the stream in an orderly way.
// failures counts the consecutive attempts, this one included, since the
// last connection that delivered an event, and elapsed is the time since
// the first of them: so a server that accepts each connection and ends it
// at once keeps adding to the count. It returns true to reconnect, false to
// stop.
//
// An ErrorStrategy runs on the stream's goroutine. It is not consulted after
// a 204 No Content (the stream stops), an Interrupt (it reconnects) or
// Close. One that panics stops the stream with a *[PanicError].
type ErrorStrategy func(err error, failures int, elapsed time.Duration) bool

// ContinueUnlessRejected reconnects after a dropped connection, a
// connection that could not be made, a read timeout and an orderly end of
// the stream, for as long as it takes; it stops when the server answers
// with something other than an event stream: a status other than 2xx (a
// *[StatusError]), another content type (a *[ContentTypeError]) or an
// encoding it cannot decode (a *[ContentEncodingError]). This is how
// browsers' EventSource and the reference Python client behave. It is the
// default.
func ContinueUnlessRejected() ErrorStrategy {
	return func(err error, _ int, _ time.Duration) bool {
		k := classify(err).kind
		return k != endRejected && k != endServerStop
	}
}

// AlwaysFail stops the stream at its first failure, or when the server ends
// it.
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
// stops at the next one. A connection that delivers an event starts the
// count again; one that ends without an event adds to it.
func ContinueWithMaxAttempts(n int) ErrorStrategy {
	return func(_ error, failures int, _ time.Duration) bool { return failures <= n }
}

// ContinueWithTimeLimit reconnects until d has passed since the first of the
// consecutive failures, then stops. A connection that delivers an event
// starts the clock again.
func ContinueWithTimeLimit(d time.Duration) ErrorStrategy {
	return func(_ error, _ int, elapsed time.Duration) bool { return elapsed < d }
}

// Bounds of the reconnection delay.
const (
	// DefaultMinDelay is the shortest delay before a reconnection unless
	// [WithMinDelay] sets another: no server's retry field, and no
	// configuration but that option, brings the delay below it.
	DefaultMinDelay = 100 * time.Millisecond

	// MaxRetryAfter caps the delay a server's Retry-After header can ask
	// for, so that a hostile or mistaken value cannot park a stream for days.
	MaxRetryAfter = 10 * time.Minute
)

// userBackOffMu serialises calls into users' BackOffs: one BackOff may be
// given to several streams, and BackOffs are not safe for concurrent use.
var userBackOffMu sync.Mutex

// reconnector decides whether and when a stream reconnects. Only the
// stream's iterating goroutine touches it.
type reconnector struct {
	strategy ErrorStrategy
	user     backoff.BackOff // WithBackOff's, opaque; nil for the default backoff

	base       time.Duration // WithInitialDelay, or the server's retry field
	maxDelay   time.Duration // 0: no cap
	multiplier float64
	jitter     float64
	floor      time.Duration
	resetAfter time.Duration // 0: never

	started      bool      // the user's BackOff was reset when the stream started
	growth       int       // consecutive attempts that ended before resetAfter
	failures     int       // consecutive attempts without an event, for the strategy
	firstFailure time.Time // when the first of them ended
}

func newReconnector(c *config) reconnector {
	return reconnector{
		strategy:   c.errorStrategy,
		user:       c.backoff,
		base:       c.initialDelay,
		maxDelay:   c.maxDelay,
		multiplier: c.multiplier,
		jitter:     c.jitter,
		floor:      c.minDelay,
		resetAfter: c.resetAfter,
	}
}

// start prepares a start of the stream: the first one resets the user's
// BackOff, whose own clock (v4's MaxElapsedTime) may have run since it was
// built; every one makes the error strategy count afresh.
func (r *reconnector) start() error {
	r.failures = 0
	if r.started || r.user == nil {
		return nil
	}
	r.started = true
	return callBackOff(func() { r.user.Reset() })
}

// setBase applies the server's retry field: it replaces the base delay and
// leaves the growth of consecutive failures as it is.
func (r *reconnector) setBase(d time.Duration) { r.base = d }

// decide returns whether to reconnect after e, and after how long. When it
// says stop, the delay is still computed: a later start waits it first.
func (r *reconnector) decide(e ending, now time.Time) (retry bool, d time.Duration, err error) {
	if r.resetAfter > 0 && e.lasted >= r.resetAfter {
		r.growth = 0
		if r.user != nil {
			if err := callBackOff(func() { r.user.Reset() }); err != nil {
				return false, 0, err
			}
		}
	}
	if e.events > 0 {
		r.failures = 0
	}
	r.failures++
	if r.failures == 1 {
		r.firstFailure = now
	}
	switch e.kind {
	case endServerStop:
		retry = false
	case endInterrupt:
		retry = true
	default:
		if err := callUser("error strategy", func() { retry = r.strategy(e.err, r.failures, now.Sub(r.firstFailure)) }); err != nil {
			return false, 0, err
		}
	}
	d, ok, err := r.delay(e)
	if err != nil {
		return false, 0, err
	}
	return retry && ok, d, nil
}

// delay computes the next delay; ok is false when the user's BackOff says
// stop.
func (r *reconnector) delay(e ending) (d time.Duration, ok bool, err error) {
	if r.user != nil {
		if err := callBackOff(func() { d = r.user.NextBackOff() }); err != nil || d == backoff.Stop {
			return 0, false, err
		}
	} else {
		d = scale(max(r.base, r.floor), r.multiplier, r.growth)
	}
	if e.kind != endInterrupt { // the caller's own request does not count against the server
		r.growth = min(r.growth+1, 64)
	}
	if r.maxDelay > 0 {
		d = min(d, r.maxDelay)
	}
	if r.jitter > 0 {
		d -= time.Duration(rand.Float64() * r.jitter * float64(d))
	}
	if e.retryAfter > 0 {
		d = max(d, min(e.retryAfter, MaxRetryAfter))
	}
	return max(d, r.floor), true, nil
}

// scale returns d × m^n, saturating instead of overflowing.
func scale(d time.Duration, m float64, n int) time.Duration {
	if n == 0 || m == 1 {
		return d
	}
	f := float64(d) * math.Pow(m, float64(n))
	if f >= math.MaxInt64 || math.IsNaN(f) {
		return math.MaxInt64
	}
	return time.Duration(f)
}

// callUser runs a user's callback on the stream's goroutine; a panic
// becomes a *PanicError naming what panicked, instead of ending the process.
func callUser(what string, fn func()) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack(), Func: what}
		}
	}()
	fn()
	return nil
}

// callBackOff runs fn, a call into the user's BackOff, as callUser does,
// and under userBackOffMu.
func callBackOff(fn func()) error {
	userBackOffMu.Lock()
	defer userBackOffMu.Unlock()
	return callUser("backoff", fn)
}
