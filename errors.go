package sse

// This file holds what can go wrong, as values for errors.Is and errors.As:
// sentinels for lifecycle conditions, and a type for each failure that
// carries data.

import (
	"errors"
	"fmt"
	"net/http"
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

	// ErrHandlerExited is returned by Start, Run and Wait of a Dispatcher
	// whose handler called runtime.Goexit (as testing.T.FailNow and Fatal
	// do); the stream stopped there.
	ErrHandlerExited = errors.New("sse: a handler called runtime.Goexit")

	// ErrServerStopped is matched (with errors.Is) by the error of the
	// final Fault of a stream that stopped because the server asked it to,
	// with a 204 No Content response: a *StatusError with Code 204. Such a
	// stop is no failure anywhere: Start, Run and Wait return nil, Events
	// ends without an error, and logs and traces show an orderly stop.
	ErrServerStopped = errors.New("sse: server asked the client to stop (204 No Content)")
)

// StatusError reports a response whose status is not a 2xx success, or is
// 204 No Content, which the server uses to tell the client to stop: a stream
// never reconnects after a 204, whatever its error strategy. Its text names
// the status only; the response's header and the start of its body are in
// its fields.
type StatusError struct {
	Code int // the HTTP status code

	// Header is the response's header.
	Header http.Header

	// Body is the start of the response's body, gzip decoded if need be:
	// at most 4 KiB, and only what arrived within a second of the
	// response's head, so that a server trickling its error page cannot
	// hold the connection attempt. Nil for an empty body.
	Body []byte

	// RetryAfter is the delay asked for by the Retry-After header of a 429
	// Too Many Requests or 503 Service Unavailable response, as
	// delay-seconds or an HTTP-date, counted from when the response came.
	// It is 0 for other statuses, for an absent or malformed header and for
	// a date already past, and never negative; a delay too long for a
	// Duration is the longest Duration. It reports what the server asked
	// for; where the error strategy retries, the next delay is at least
	// this long, up to [MaxRetryAfter].
	RetryAfter time.Duration
}

// Is reports whether a 204 matches [ErrServerStopped].
func (e *StatusError) Is(target error) bool {
	return target == ErrServerStopped && e.Code == 204
}

func (e *StatusError) Error() string {
	if text := http.StatusText(e.Code); text != "" {
		return fmt.Sprintf("sse: unexpected status %d %s", e.Code, text)
	}
	return fmt.Sprintf("sse: unexpected status %d", e.Code)
}

// ContentTypeError reports a response whose Content-Type is not
// text/event-stream (parameters such as charset are allowed).
type ContentTypeError struct {
	ContentType string // the Content-Type header as received; may be empty

	// Header and Body are the response's header and the start of its
	// body, as in a *[StatusError].
	Header http.Header
	Body   []byte
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

// ContentEncodingError reports a response whose Content-Encoding the
// stream cannot decode: anything but identity and gzip (gzip is decoded
// whether or not [WithCompression] asked for it). Read as it is, such a
// body would end the stream without an event and without an error.
type ContentEncodingError struct {
	Encoding string // the Content-Encoding header as received
}

func (e *ContentEncodingError) Error() string {
	return fmt.Sprintf("sse: content encoding %q cannot be decoded", e.Encoding)
}

// RedirectError reports a redirect the stream refused to follow: one past
// the number [WithMaxRedirects] allows, which also ends redirect loops, or
// one from https to plain http, which would send the request, and whatever
// it carries, unencrypted.
type RedirectError struct {
	Limit     int    // the number of redirects allowed; 0 for a Downgrade
	URL       string // where the refused redirect led, redacted as logs show URLs
	Downgrade bool   // the redirect led from https to http
}

func (e *RedirectError) Error() string {
	if e.Downgrade {
		return fmt.Sprintf("sse: refused redirect from https to %s", e.URL)
	}
	return fmt.Sprintf("sse: more than %d redirects (last to %s)", e.Limit, e.URL)
}

// ConfigError reports a URL or option that [New] and [NewStream] reject:
// a URL without a host or with a scheme other than http and https, a header
// name or method that is not an HTTP token, a header or last event ID value
// with a control character that net/http refuses to send, or an option value
// the stream cannot work with (a negative duration, a jitter outside 0..1,
// a multiplier below 1, a size limit below 1, an http.Client with a
// Timeout). Its text never quotes a header value or a credential.
type ConfigError struct {
	Setting string // what is wrong: "URL", or an option such as "WithHeader"
	Reason  string // why, for people
	Err     error  // the underlying error, if any, such as the URL parser's
}

func (e *ConfigError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("sse: %s: %s: %v", e.Setting, e.Reason, e.Err)
	}
	return fmt.Sprintf("sse: %s: %s", e.Setting, e.Reason)
}

func (e *ConfigError) Unwrap() error { return e.Err }

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
