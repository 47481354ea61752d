package sse

// This file is what can be configured: the Option type, every With*
// option, and newConfig, the one place that sets the defaults. NewStream
// hands the config to the layers that use it: the source (connect.go), the
// reconnection policy (reconnect.go) and the telemetry (otel.go).

import (
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"slices"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/sirupsen/logrus"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// An Option configures a [Stream] or a [Dispatcher]; see [New].
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// config is everything the options set. Defaults live in newConfig alone.
type config struct {
	client       *http.Client
	method       string
	body         []byte
	header       http.Header
	requestHook  func(*http.Request) error
	maxRedirects int
	compression  bool
	source       Source

	readTimeout  time.Duration
	maxEventSize int
	lastEventID  string

	initialDelay  time.Duration
	maxDelay      time.Duration
	multiplier    float64
	jitter        float64
	minDelay      time.Duration
	backoff       backoff.BackOff // a user's; nil for the default backoff
	resetAfter    time.Duration
	errorStrategy ErrorStrategy
	// Which of the default backoff's options were given: with a user's
	// BackOff, the shape options are refused and the bounds apply on top.
	setInitialDelay, setMultiplier, setMaxDelay, setJitter bool

	log            logrus.FieldLogger
	tracerProvider trace.TracerProvider
	meterProvider  metric.MeterProvider
	propagators    propagation.TextMapPropagator
	redactQuery    []string // query keys whose values traces and logs hide
	redactAllQuery bool
}

func newConfig(opts []Option) *config {
	c := &config{
		client:         http.DefaultClient,
		method:         http.MethodGet,
		header:         make(http.Header),
		maxRedirects:   10,
		maxEventSize:   16 << 20,
		initialDelay:   time.Second,
		maxDelay:       30 * time.Second,
		multiplier:     2,
		jitter:         0.5,
		minDelay:       DefaultMinDelay,
		resetAfter:     time.Minute,
		errorStrategy:  ContinueUnlessRejected(),
		log:            discardLogger(),
		tracerProvider: otel.GetTracerProvider(),
		meterProvider:  otel.GetMeterProvider(),
		propagators:    otel.GetTextMapPropagator(),
	}
	for _, o := range opts {
		o.apply(c)
	}
	if c.backoff != nil { // the user's BackOff shapes the delays; bounds given explicitly apply on top
		if !c.setMaxDelay {
			c.maxDelay = 0
		}
		if !c.setJitter {
			c.jitter = 0
		}
	}
	return c
}

// validate rejects configurations that cannot work.
func (c *config) validate() error {
	negative := func(name string, d time.Duration) error {
		if d < 0 {
			return &ConfigError{Setting: name, Reason: "a negative duration"}
		}
		return nil
	}
	switch {
	case c.client.Timeout != 0:
		return &ConfigError{Setting: "WithHTTPClient", Reason: "http.Client.Timeout cuts every stream off; use WithReadTimeout"}
	case c.multiplier < 1 || math.IsInf(c.multiplier, 0) || math.IsNaN(c.multiplier):
		return &ConfigError{Setting: "WithMultiplier", Reason: "takes a finite factor of at least 1"}
	case c.backoff != nil && (c.setInitialDelay || c.setMultiplier):
		return &ConfigError{Setting: "WithBackOff",
			Reason: "WithInitialDelay and WithMultiplier shape the default backoff; with WithBackOff, shape the BackOff itself"}
	case c.maxEventSize < 1:
		return &ConfigError{Setting: "WithMaxEventSize", Reason: "needs at least 1 byte"}
	case !(c.jitter >= 0 && c.jitter <= 1): // NaN too
		return &ConfigError{Setting: "WithJitter", Reason: "takes a fraction from 0 to 1"}
	}
	for _, err := range []error{negative("WithInitialDelay", c.initialDelay), negative("WithMaxDelay", c.maxDelay),
		negative("WithMinDelay", c.minDelay), negative("WithReadTimeout", c.readTimeout), negative("WithResetAfter", c.resetAfter)} {
		if err != nil {
			return err
		}
	}
	if c.source == nil { // the request options concern HTTP alone
		return c.validateRequest()
	}
	return nil
}

// validateRequest rejects request options that net/http would refuse on
// every attempt. The errors quote no header value, and no header name
// either: a whole "Name: value" line passed as a name would quote a value.
func (c *config) validateRequest() error {
	if !validToken(c.method) {
		return &ConfigError{Setting: "WithMethod", Reason: fmt.Sprintf("%q is not an HTTP method", c.method)}
	}
	for _, name := range slices.Sorted(maps.Keys(c.header)) {
		if !validToken(name) {
			return &ConfigError{Setting: "WithHeader", Reason: "a header name is empty or has a character not allowed in an HTTP token"}
		}
		for _, v := range c.header[name] {
			if i := invalidHeaderByte(v); i >= 0 {
				return &ConfigError{Setting: "WithHeader", Reason: fmt.Sprintf("the value of %s has a control character at byte %d", name, i)}
			}
		}
	}
	if i := invalidHeaderByte(c.lastEventID); i >= 0 {
		return &ConfigError{Setting: "WithLastEventID",
			Reason: fmt.Sprintf("the ID has a control character at byte %d, which cannot be sent as Last-Event-ID", i)}
	}
	return nil
}

// discard is the default logger, shared by every stream: it writes
// nothing, and does not even format what is below a panic.
var discard = func() logrus.FieldLogger {
	l := logrus.New()
	l.Out = io.Discard
	l.Level = logrus.PanicLevel
	return l
}()

func discardLogger() logrus.FieldLogger { return discard }

// WithHTTPClient sets the client for HTTP requests. Default:
// http.DefaultClient. A client with a Timeout is rejected by [New], because
// net/http applies it to the whole body and so to the life of the stream;
// use [WithReadTimeout]. The client is not modified: the stream uses a copy
// (sharing its Transport) whose CheckRedirect first applies the rules given
// at [WithMaxRedirects] (no redirect from https to http; credentials stay
// with their origin), and then calls the client's own CheckRedirect, if it
// has one, in place of the limit.
func WithHTTPClient(client *http.Client) Option {
	return optionFunc(func(c *config) {
		if client != nil {
			c.client = client
		}
	})
}

// WithMethod sets the HTTP method. Default: GET. [New] rejects a method
// that is not an HTTP token, with a *[ConfigError].
func WithMethod(method string) Option {
	return optionFunc(func(c *config) {
		if method != "" {
			c.method = method
		}
	})
}

// WithBody sets the request body, sent again on every reconnection.
// Default: none. Set its Content-Type with [WithHeader].
func WithBody(body []byte) Option {
	return optionFunc(func(c *config) { c.body = body })
}

// WithHeader adds a request header, sent on every connection attempt. It may
// be given more than once. Default: only Accept: text/event-stream,
// Cache-Control: no-cache, Accept-Encoding: identity (gzip with
// [WithCompression]), and Last-Event-ID when there is one; a header set
// here replaces the first three. [New] rejects a name that is not an HTTP
// token and a value with a control character other than tab (net/http would
// refuse to send them), with a *[ConfigError]. A redirect to another origin
// drops the header unless it is one that describes the request, such as
// Accept or Content-Type; see [WithMaxRedirects].
func WithHeader(name, value string) Option {
	return optionFunc(func(c *config) { c.header.Add(name, value) })
}

// WithRequestHook sets a function that may change each HTTP request before it
// is sent, for anything the other options do not cover. An error it returns
// fails that connection attempt. Default: none.
func WithRequestHook(hook func(*http.Request) error) Option {
	return optionFunc(func(c *config) { c.requestHook = hook })
}

// WithMaxRedirects sets how many redirects one connection attempt may follow
// before it fails with a *[RedirectError]. Default: 10. A client given to
// [WithHTTPClient] with its own CheckRedirect decides this itself.
//
// Two rules hold whatever the limit and the client: a redirect from https
// to http fails with a *[RedirectError] whose Downgrade is set; and once a
// redirect leaves the origin (scheme, host and port) of the stream's URL,
// the request keeps only the headers that describe it (Accept,
// Accept-Encoding, Accept-Language, Cache-Control, Content-Language,
// Content-Type, Last-Event-ID, Pragma, User-Agent and the trace context),
// for the rest of the redirects. Authorization, Cookie,
// Proxy-Authorization, Referer and every other header, from [WithHeader] or
// a request hook, stay with the origin, even when the new host is a
// subdomain or the same host on another port. A client's own CheckRedirect
// runs after these rules, sees the request as it will be sent, and may put
// a header back on purpose. Credentials in the URL's user info are not sent
// past the origin either; cookies from the client's Jar follow their own
// scope.
func WithMaxRedirects(n int) Option {
	return optionFunc(func(c *config) { c.maxRedirects = max(n, 0) })
}

// WithCompression asks the server for a gzip body (Accept-Encoding: gzip),
// and decodes it as it arrives, so that each event comes out as soon as the
// server has flushed it. Default: off; requests say Accept-Encoding:
// identity, because a proxy that compresses an event stream may also
// buffer it, and the stream then stalls with nothing to show why. A gzip
// body is decoded either way, and a [WithHeader] Accept-Encoding replaces
// both; a body in any other encoding than identity and gzip fails the
// attempt with a *[ContentEncodingError].
func WithCompression() Option {
	return optionFunc(func(c *config) { c.compression = true })
}

// WithSource replaces HTTP with src, which is opened once per connection
// attempt. The URL given to [New] then only names the stream in logs and
// traces, and may be empty. The HTTP options have no effect.
func WithSource(src Source) Option {
	return optionFunc(func(c *config) { c.source = src })
}

// WithReadTimeout fails a connection that stays silent for d. While the
// stream waits for the response head, d is one deadline for the whole head
// (net/http hands over no partial head, so its bytes cannot restart the
// clock); once the head has arrived, any byte of the body restarts it, and
// only time spent waiting for bytes counts, not time spent in handlers.
// Servers that are quiet for long send comments to keep the stream alive.
// Default: 0, no timeout.
func WithReadTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.readTimeout = d })
}

// WithMaxEventSize bounds the memory a stream may use for one line, and for
// one event's data, in bytes. A larger one fails the connection with a
// *[TooLargeError]. Default: 16 MiB.
func WithMaxEventSize(n int) Option {
	return optionFunc(func(c *config) { c.maxEventSize = n })
}

// WithLastEventID presets the last event ID, as if received in an id field:
// the first request sends it as Last-Event-ID. Default: none. [New] rejects
// an ID with a control character other than tab, with a *[ConfigError]:
// net/http cannot send it. An id field from the server with such a
// character is not sent either, but the stream goes on; see
// [Stream.LastEventID].
func WithLastEventID(id string) Option {
	return optionFunc(func(c *config) { c.lastEventID = id })
}

// WithInitialDelay sets the base delay of the default backoff: the delay
// before the first reconnection, which then grows by [WithMultiplier] with
// each consecutive attempt that fails or ends early. The server's retry field
// replaces the base (and only the base: the growth goes on). A base below
// the minimum delay ([WithMinDelay]) counts as the minimum. It cannot be
// combined with [WithBackOff]. Default: 1s.
func WithInitialDelay(d time.Duration) Option {
	return optionFunc(func(c *config) { c.initialDelay, c.setInitialDelay = d, true })
}

// WithMultiplier sets the factor by which the default backoff's delay
// grows with each consecutive attempt that fails or ends before the
// [WithResetAfter] threshold; 1 keeps the delay constant. It cannot be
// combined with [WithBackOff]. Default: 2.
func WithMultiplier(m float64) Option {
	return optionFunc(func(c *config) { c.multiplier, c.setMultiplier = m, true })
}

// WithMaxDelay caps the reconnection delay; 0 removes the cap. With
// [WithBackOff] it caps the BackOff's delays when given. Default: 30s (no cap
// on a user's BackOff).
func WithMaxDelay(d time.Duration) Option {
	return optionFunc(func(c *config) { c.maxDelay, c.setMaxDelay = d, true })
}

// WithMinDelay sets the floor under every reconnection delay: whatever the
// server's retry field, the jitter or a BackOff say, the stream waits at
// least d before it reconnects (an [Interrupt] during a delay still
// reconnects at once). Below [DefaultMinDelay] it is an explicit opt-in to
// faster reconnection, for tests and servers you trust. Default:
// DefaultMinDelay (100ms).
func WithMinDelay(d time.Duration) Option {
	return optionFunc(func(c *config) { c.minDelay = d })
}

// WithJitter sets the fraction of each reconnection delay that may be taken
// off at random, so that clients do not reconnect in step. 0 turns jitter
// off. It applies to the server's retry field too: with the default, a
// server's "retry: 1000" gives a delay from 500ms to 1s. With [WithBackOff]
// it applies to the BackOff's delays when given. Default: 0.5 (none on a
// user's BackOff).
func WithJitter(fraction float64) Option {
	return optionFunc(func(c *config) { c.jitter, c.setJitter = fraction, true })
}

// WithBackOff replaces the default backoff: reconnection delays come from
// b.NextBackOff, and backoff.Stop ends the stream. The stream treats b as
// opaque and never changes its settings: it calls b.Reset when the stream
// first starts (v4's MaxElapsedTime counts from the last Reset) and once a
// connection has stayed up for the [WithResetAfter] threshold. The server's
// retry field does not apply to b. [WithMaxDelay] and [WithJitter] apply on
// top of b's delays when given, and [WithMinDelay] always does;
// [WithInitialDelay] and [WithMultiplier] are refused by [New]. Calls into b
// are serialised across streams, so one b may serve several streams, which
// then share its sequence of delays.
func WithBackOff(b backoff.BackOff) Option {
	return optionFunc(func(c *config) { c.backoff = b })
}

// WithResetAfter sets how long a connection must stay up before the
// reconnection delay starts again from the base delay; until then, each
// connection that ends adds to the delay's growth, as a failed attempt
// does. 0 means never reset, as in the reference Python client. Default:
// 60s.
func WithResetAfter(d time.Duration) Option {
	return optionFunc(func(c *config) { c.resetAfter = d })
}

// WithErrorStrategy decides which failures the stream retries. Default:
// [ContinueUnlessRejected]: reconnect after drops and network failures,
// stop when the server answers with an error status or another content
// type, as browsers and the reference Python client do.
func WithErrorStrategy(s ErrorStrategy) Option {
	return optionFunc(func(c *config) {
		if s != nil {
			c.errorStrategy = s
		}
	})
}

// WithLogger sets where the stream logs: connections at Info and Debug,
// retried failures at Warn, giving up on a failure and handler panics at
// Error, a stop the server asked for (end of stream, 204) at Info. Entries
// carry the fields url, attempt, last_event_id, and delay, status and error
// where they apply. Header values and event data are never logged.
// Default: nothing is logged.
func WithLogger(l logrus.FieldLogger) Option {
	return optionFunc(func(c *config) {
		if l != nil {
			c.log = l
		}
	})
}

// WithTracerProvider sets where connection spans go. Default: the global
// provider, otel.GetTracerProvider().
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(c *config) {
		if tp != nil {
			c.tracerProvider = tp
		}
	})
}

// WithMeterProvider sets where stream metrics go. Default: the global
// provider, otel.GetMeterProvider().
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) {
		if mp != nil {
			c.meterProvider = mp
		}
	})
}

// WithRedactedQuery names query parameters whose values traces (url.full),
// logs and errors show as REDACTED, in the stream's URL and in any other
// URL an error quotes, such as a redirect's; it may be given more than
// once. With no names, every query value is hidden. Credentials in a URL,
// and the values of AWSAccessKeyId, Signature, sig and X-Goog-Signature,
// are always hidden, as the OpenTelemetry semantic conventions ask.
// Requests are not changed. Default: only those.
func WithRedactedQuery(names ...string) Option {
	return optionFunc(func(c *config) {
		if len(names) == 0 {
			c.redactAllQuery = true
		}
		c.redactQuery = append(c.redactQuery, names...)
	})
}

// WithPropagators sets how trace context is injected into each request's
// headers. Default: the global propagators, otel.GetTextMapPropagator().
func WithPropagators(p propagation.TextMapPropagator) Option {
	return optionFunc(func(c *config) {
		if p != nil {
			c.propagators = p
		}
	})
}
