package sse

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the spans and metrics the
// library emits: its module path.
const ScopeName = "github.com/ssekit/sse"

// Version is the library's version, reported with [ScopeName].
const Version = "0.1.0"

// Attribute keys of the library's own, under the sse. namespace.
const (
	attrAttempt     = attribute.Key("sse.attempt")
	attrLastEventID = attribute.Key("sse.last_event_id")
	attrRetryDelay  = attribute.Key("sse.retry_delay_ms")
	attrEvents      = attribute.Key("sse.events")
	attrComments    = attribute.Key("sse.comments")
	attrBytes       = attribute.Key("sse.bytes")
	attrEventType   = attribute.Key("sse.event.type")
	attrReason      = attribute.Key("sse.reconnect.reason")
)

// telemetry holds a stream's tracer and instruments, built once in New.
type telemetry struct {
	tracer   trace.Tracer
	spanName string
	attrs    []attribute.KeyValue // of every attempt span

	events     metric.Int64Counter
	comments   metric.Int64Counter
	reconnects metric.Int64Counter
	bytes      metric.Int64Counter
	duration   metric.Float64Histogram
	other      *eventType // the bucket for types past maxInternedTypes
}

// attemptStats is what one connection received.
type attemptStats struct {
	events, comments, bytes int64
}

// eventType is an interned event type with its metric attributes, so that
// counting an event allocates nothing.
type eventType struct {
	name string
	opts []metric.AddOption
}

func newTelemetry(c *config, rawURL string) *telemetry {
	t := &telemetry{
		tracer:   c.tracerProvider.Tracer(ScopeName, trace.WithInstrumentationVersion(Version)),
		spanName: "sse.connect",
	}
	if c.source == nil {
		t.spanName = c.method
		t.attrs = append(t.attrs, semconv.HTTPRequestMethodKey.String(c.method), semconv.URLFull(redactURL(rawURL)))
		if u, err := url.Parse(rawURL); err == nil {
			t.attrs = append(t.attrs, semconv.ServerAddress(u.Hostname()))
			if port := serverPort(u); port > 0 {
				t.attrs = append(t.attrs, semconv.ServerPort(port))
			}
		}
	} else if rawURL != "" {
		t.attrs = append(t.attrs, semconv.URLFull(redactURL(rawURL)))
	}
	m := c.meterProvider.Meter(ScopeName, metric.WithInstrumentationVersion(Version))
	// Instrument errors only happen for invalid names; ours are constants.
	t.events, _ = m.Int64Counter("sse.client.events", metric.WithUnit("{event}"),
		metric.WithDescription("Events received, by event type."))
	t.comments, _ = m.Int64Counter("sse.client.comments", metric.WithUnit("{comment}"),
		metric.WithDescription("Comment lines received."))
	t.reconnects, _ = m.Int64Counter("sse.client.reconnects", metric.WithUnit("{reconnect}"),
		metric.WithDescription("Reconnections scheduled, by reason."))
	t.bytes, _ = m.Int64Counter("sse.client.bytes", metric.WithUnit("By"),
		metric.WithDescription("Bytes read from event streams."))
	t.duration, _ = m.Float64Histogram("sse.client.connection.duration", metric.WithUnit("s"),
		metric.WithDescription("How long connections stayed open."))
	t.other = t.eventType("_OTHER", true)
	return t
}

// eventType makes the interned form of an event type. Types past the
// interning bound share one metric bucket, to bound metric cardinality.
func (t *telemetry) eventType(name string, interned bool) *eventType {
	if !interned {
		return &eventType{name: name, opts: t.other.opts}
	}
	return &eventType{name: name, opts: []metric.AddOption{
		metric.WithAttributeSet(attribute.NewSet(attrEventType.String(name))),
	}}
}

func (t *telemetry) event(ctx context.Context, et *eventType) {
	t.events.Add(ctx, 1, et.opts...)
}

func (t *telemetry) comment(ctx context.Context) {
	t.comments.Add(ctx, 1)
}

// reconnect counts a scheduled reconnection by the reason for it.
func (t *telemetry) reconnect(ctx context.Context, err error, retry bool) {
	if retry {
		t.reconnects.Add(ctx, 1, metric.WithAttributes(attrReason.String(errorType(err))))
	}
}

// startAttempt opens the span of one connection attempt, as a child of ctx.
func (t *telemetry) startAttempt(ctx context.Context, attempt int, lastEventID string, delay time.Duration) (context.Context, trace.Span) {
	attrs := append(t.attrs[:len(t.attrs):len(t.attrs)],
		attrAttempt.Int(attempt), attrRetryDelay.Int64(delay.Milliseconds()))
	if lastEventID != "" {
		attrs = append(attrs, attrLastEventID.String(lastEventID))
	}
	return t.tracer.Start(ctx, t.spanName, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
}

// recordStatus adds the response status to the attempt's span.
func recordStatus(ctx context.Context, code int) {
	trace.SpanFromContext(ctx).SetAttributes(semconv.HTTPResponseStatusCode(code))
}

// endAttempt records how an attempt ended and ends its span. A stop the
// caller asked for (Close, a cancelled context, Interrupt) is not an error.
func (t *telemetry) endAttempt(ctx context.Context, span trace.Span, opened time.Time, st attemptStats, err error, requested bool) {
	span.SetAttributes(attrEvents.Int64(st.events), attrComments.Int64(st.comments), attrBytes.Int64(st.bytes))
	if err != nil && !requested && !errors.Is(err, ErrInterrupted) {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		span.SetAttributes(semconv.ErrorTypeKey.String(errorType(err)))
	}
	if st.bytes > 0 {
		t.bytes.Add(ctx, st.bytes)
	}
	if !opened.IsZero() {
		t.duration.Record(ctx, time.Since(opened).Seconds())
	}
	span.End()
}

// errorType names an error for error.type and reconnect reasons: the status
// code for a bad status, a short word for the library's own conditions, and
// the Go type otherwise.
func errorType(err error) string {
	var (
		se *StatusError
		ce *ContentTypeError
		te *TimeoutError
		le *TooLargeError
		re *RedirectError
	)
	switch {
	case err == nil:
		return "eof"
	case errors.Is(err, ErrInterrupted):
		return "interrupt"
	case errors.As(err, &se):
		return strconv.Itoa(se.Code)
	case errors.As(err, &ce):
		return "content_type"
	case errors.As(err, &te):
		return "timeout"
	case errors.As(err, &le):
		return "too_large"
	case errors.As(err, &re):
		return "redirects"
	}
	return semconv.ErrorType(err).Value.AsString()
}

// redactURL hides credentials, as the HTTP semantic conventions ask.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	if u.User != nil {
		u.User = url.UserPassword("REDACTED", "REDACTED")
	}
	return u.String()
}

func serverPort(u *url.URL) int {
	if p := u.Port(); p != "" {
		n, _ := strconv.Atoi(p)
		return n
	}
	switch u.Scheme {
	case "http":
		return 80
	case "https":
		return 443
	}
	return 0
}
