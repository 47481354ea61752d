package sse

import (
	"errors"
	"fmt"
	"runtime/debug"
	"time"
)

// Errors a stream reports. Match them with errors.Is and errors.As; the
// text is for people.
var (
	// ErrClosed is the cause of a stream stopped by Close.
	ErrClosed = errors.New("sse: closed")

	// ErrInterrupted is the error of the Fault that follows an Interrupt.
	ErrInterrupted = errors.New("sse: connection interrupted")

	// ErrStarted is returned by a second Start or Run of one Dispatcher.
	ErrStarted = errors.New("sse: already started")

	// ErrServerStopped is matched (with errors.Is) by the error of the
	// final Fault of a stream that stopped because the server asked it to,
	// with a 204 No Content response: a *StatusError with Code 204. Such a
	// stop is no failure anywhere: Start, Run and Wait return nil, Events
	// ends without an error, and logs and traces show an orderly stop.
	ErrServerStopped = errors.New("sse: server asked the client to stop (204 No Content)")
)

// StatusError reports a response whose status is not a 2xx success, or is
// 204 No Content, which the server uses to tell the client to stop: a stream
// never reconnects after a 204, whatever its error strategy.
type StatusError struct {
	Code int // the HTTP status code
	// RetryAfter is the delay a 429 or 503 response asked for in its
	// Retry-After header, or 0. Where the error strategy retries, the next
	// delay is at least this long (at most [MaxRetryAfter]).
	RetryAfter time.Duration
}

// Is reports whether a 204 matches [ErrServerStopped].
func (e *StatusError) Is(target error) bool {
	return target == ErrServerStopped && e.Code == 204
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("sse: unexpected status %d", e.Code)
}

// ContentTypeError reports a response whose Content-Type is not
// text/event-stream (parameters such as charset are allowed).
type ContentTypeError struct {
	ContentType string // the Content-Type header as received; may be empty
}

func (e *ContentTypeError) Error() string {
	if e.ContentType == "" {
		return "sse: response has no content type, want text/event-stream"
	}
	return fmt.Sprintf("sse: content type %q, want text/event-stream", e.ContentType)
}

// TooLargeError reports a line, or an event's data, larger than the limit
// set with [WithMaxEventSize]. The connection is dropped: the stream cannot
// be resynchronised safely in the middle of an oversized line.
type TooLargeError struct {
	Limit int // the limit in bytes
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("sse: line or event larger than %d bytes", e.Limit)
}

// TimeoutError reports a connection that received no bytes for the read
// timeout set with [WithReadTimeout].
type TimeoutError struct {
	After time.Duration // the read timeout
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("sse: no data received for %v", e.After)
}

// Timeout reports true, so that net.Error style checks see a timeout.
func (e *TimeoutError) Timeout() bool { return true }

// RedirectError reports a request that was redirected more often than
// [WithMaxRedirects] allows, which also ends redirect loops.
type RedirectError struct {
	Limit int    // the number of redirects allowed
	URL   string // the last location the server redirected to
}

func (e *RedirectError) Error() string {
	return fmt.Sprintf("sse: more than %d redirects (last to %s)", e.Limit, e.URL)
}

// PanicError is the error of a Fault raised by a handler that panicked. The
// stream goes on; the panic reached no further than the dispatcher.
//
// A callback of the stream's own that panics (an [ErrorStrategy], a
// backoff.BackOff, a [Source], a request hook) is reported the same way,
// with Func naming it: a panicking Source fails that connection attempt,
// a panicking strategy or BackOff stops the stream.
type PanicError struct {
	Value any    // the value passed to panic
	Stack []byte // the stack of the goroutine that panicked
	Func  string // what panicked: "" for a handler, else "error strategy", "backoff" or "source"
}

func (e *PanicError) Error() string {
	what := e.Func
	if what == "" {
		what = "handler"
	}
	return fmt.Sprintf("sse: %s panicked: %v", what, e.Value)
}

func newPanicError(v any) *PanicError {
	return &PanicError{Value: v, Stack: debug.Stack()}
}

// DecodeError is the error of a Fault raised when an event routed to an
// [OnJSON] handler does not decode. The handler is not called; the stream
// goes on.
type DecodeError struct {
	Event Event // the event that did not decode
	Err   error // the decoder's error
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("sse: decoding %q event: %v", e.Event.Type, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }
