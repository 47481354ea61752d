package sse

// This file is what traces and metrics show: a span per connection attempt
// and a few counters, kept by a telemetry value that the stream calls at the
// edges of an attempt (started, ended with its classification) and that
// counts bytes with a reader around the body.

import (
	"context"
	"io"
	"net/url"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/ssekit/sse/internal/parser"
)

// ScopeName is the instrumentation scope of the spans and metrics the
// library emits: its module path. They also carry [Version].
const ScopeName = "github.com/ssekit/sse"

// Version is the library's version, reported with [ScopeName].
const Version = "0.1.0"

// Attribute keys of the library's own, under the sse. namespace.
const (
	attrAttempt     = attribute.Key("sse.attempt")       // span: 1 for the first connection attempt
	attrLastEventID = attribute.Key("sse.last_event_id") // span: the Last-Event-ID sent, if any
	attrRetryDelay  = attribute.Key("sse.retry_delay")   // span: seconds waited before the attempt
	attrEvents      = attribute.Key("sse.events")        // span: events received
	attrComments    = attribute.Key("sse.comments")      // span: comment lines received
	attrBytes       = attribute.Key("sse.bytes")         // span: bytes of the body read
	attrEventType   = attribute.Key("sse.event.type")    // metric sse.client.events
	attrReason      = attribute.Key("sse.reconnect.reason")
)

// Metric names, in the style of the OpenTelemetry semantic conventions.
const (
	metricEvents     = "sse.client.events"
	metricComments   = "sse.client.comments"
	metricReconnects = "sse.client.reconnects"
	metricIO         = "sse.client.io"
	metricDuration   = "sse.client.connection.duration"
)

// durationBounds are the connection duration histogram's buckets, in
// seconds: event streams live from moments (a failing server) to days.
var durationBounds = []float64{0.1, 1, 5, 30, 60, 300, 900, 1800, 3600, 7200, 14400, 43200, 86400}

// telemetry holds a stream's tracer and instruments, built once in New, and
// the counts not yet added to the instruments. Only the stream's iterating
// goroutine touches it after New.
//
// The event path only bumps plain counters: they reach the instruments
// before a read of the body once an event or comment is pending or 4 KiB
// arrived uncounted (so metrics are current whenever the stream waits for
// bytes, and bytes are counted as they arrive on streams that live for
// days), and when the connection ends. A wrapper around the body runs the
// flush (see meteredBody), so the event path makes no metric call per event,
// whatever the SDK does per call, and the parser knows nothing of metrics.
type telemetry struct {
	tracer      trace.Tracer
	spanName    string
	attrs       []attribute.KeyValue // of every attempt span
	metricAttrs []attribute.KeyValue // of every metric: the server's address and port

	events     metric.Int64Counter
	comments   metric.Int64Counter
	reconnects metric.Int64Counter
	bytes      metric.Int64Counter
	duration   metric.Float64Histogram
	addOpts    []metric.AddOption    // metricAttrs, precomputed
	recordOpts []metric.RecordOption // metricAttrs, precomputed

	other *typeCount // the bucket of event types past maxInternedTypes
	spare eventType  // handed out for event types past maxInternedTypes

	dirty []*typeCount // event types with a count not yet added
	// Of the current attempt's comments and bytes, how many have been added.
	countedComments int64
	countedBytes    int64
	body            meteredBody // the current attempt's body; see meter
}

// attemptStats is what one connection received.
type attemptStats struct {
	events, comments, bytes int64
}

// eventType is an interned event type, so that counting an event allocates
// nothing.
type eventType struct {
	name  string
	count *typeCount
}

// typeCount is the metric bucket of an event type: its attributes and the
// events not yet added to the counter.
type typeCount struct {
	n    int64
	opts []metric.AddOption
}

// newTelemetry builds the telemetry of a stream of rawURL; redactedURL is
// what traces may show of it (see redactor.URL).
func newTelemetry(c *config, rawURL, redactedURL string) *telemetry {
	t := &telemetry{
		tracer:   c.tracerProvider.Tracer(ScopeName, trace.WithInstrumentationVersion(Version)),
		spanName: "sse.connect",
	}
	if rawURL != "" {
		t.attrs = append(t.attrs, semconv.URLFull(redactedURL))
	}
	if c.source == nil {
		t.spanName = c.method // the HTTP conventions name client spans by method
		t.attrs = append(t.attrs, semconv.HTTPRequestMethodKey.String(c.method))
		if u, err := url.Parse(rawURL); err == nil {
			t.metricAttrs = append(t.metricAttrs, semconv.ServerAddress(u.Hostname()))
			if port := serverPort(u); port > 0 {
				t.metricAttrs = append(t.metricAttrs, semconv.ServerPort(port))
			}
		}
		t.attrs = append(t.attrs, t.metricAttrs...)
	}
	set := attribute.NewSet(t.metricAttrs...)
	t.addOpts = []metric.AddOption{metric.WithAttributeSet(set)}
	t.recordOpts = []metric.RecordOption{metric.WithAttributeSet(set)}

	m := c.meterProvider.Meter(ScopeName, metric.WithInstrumentationVersion(Version))
	// Creating an instrument fails only for an invalid name or unit; ours are
	// constants, and the API hands back a working instrument even then.
	t.events, _ = m.Int64Counter(metricEvents, metric.WithUnit("{event}"),
		metric.WithDescription("Events received, by event type."))
	t.comments, _ = m.Int64Counter(metricComments, metric.WithUnit("{comment}"),
		metric.WithDescription("Comment lines received."))
	t.reconnects, _ = m.Int64Counter(metricReconnects, metric.WithUnit("{reconnect}"),
		metric.WithDescription("Reconnections scheduled, by reason."))
	t.bytes, _ = m.Int64Counter(metricIO, metric.WithUnit("By"),
		metric.WithDescription("Bytes read from event stream bodies."))
	t.duration, _ = m.Float64Histogram(metricDuration, metric.WithUnit("s"),
		metric.WithDescription("How long connections stayed open, from the response to their end."),
		metric.WithExplicitBucketBoundaries(durationBounds...))
	return t
}

func (t *telemetry) typeCount(name string) *typeCount {
	attrs := append(t.metricAttrs[:len(t.metricAttrs):len(t.metricAttrs)], attrEventType.String(name))
	return &typeCount{opts: []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attrs...))}}
}

// eventType makes the interned form of an event type. Types past the
// interning bound share one metric bucket, to bound metric cardinality, and
// one reused eventType: the stream reads its name at once and keeps none.
func (t *telemetry) eventType(name string, interned bool) *eventType {
	if !interned {
		if t.other == nil { // made when first needed: most streams never need it
			t.other = t.typeCount("_OTHER")
			t.spare.count = t.other
		}
		t.spare.name = name
		return &t.spare
	}
	return &eventType{name: name, count: t.typeCount(name)}
}

// event counts an event of type et. It neither allocates nor locks.
func (t *telemetry) event(_ context.Context, et *eventType) {
	c := et.count
	if c.n == 0 {
		t.dirty = append(t.dirty, c) // within capacity after the first few events
	}
	c.n++
}

// flush adds the pending counts to the instruments; read and comments are
// what the current attempt has received so far. ctx is the attempt's, so
// that exemplars point at its span.
func (t *telemetry) flush(ctx context.Context, read, comments int64) {
	for _, c := range t.dirty {
		t.events.Add(ctx, c.n, c.opts...)
		c.n = 0
	}
	clear(t.dirty)
	t.dirty = t.dirty[:0]
	if comments > t.countedComments {
		t.comments.Add(ctx, comments-t.countedComments, t.addOpts...)
		t.countedComments = comments
	}
	if read > t.countedBytes {
		t.bytes.Add(ctx, read-t.countedBytes, t.addOpts...)
		t.countedBytes = read
	}
}

// flushBytes is how many bytes may arrive uncounted, with no event or
// comment pending, before a read of the body adds them to the counter.
const flushBytes = 4 << 10

// meteredBody is a connection's body as the parser reads it, in the way
// otelhttp wraps a response body: it counts the bytes read and, before a
// read, adds the pending counts to the instruments, so that they are
// current whenever the stream waits for bytes. It also runs the stream's
// read timeout, only while a Read waits for bytes (so that time a consumer
// or a handler takes does not count as silence): one wrapper rather than
// two, as every wrapper costs a call per read, which a trickling server
// (one byte per read) pays per byte. Checking for pending counts costs a
// few comparisons per read (a flush per read would cost an SDK call or
// more), and the parser is held as itself, not as an interface, for the
// same reason.
type meteredBody struct {
	r     io.Reader
	t     *telemetry
	ctx   context.Context // the attempt's, so that exemplars point at its span
	p     *parser.Parser  // counts the comment lines, those nobody receives included
	n     int64           // bytes read on this connection
	timer *time.Timer     // the read timeout, nil for none; runs during a Read
	d     time.Duration   // what timer is reset to
}

func (b *meteredBody) Read(p []byte) (n int, err error) {
	t := b.t
	if len(t.dirty) > 0 || b.n-t.countedBytes >= flushBytes || b.p.Comments() != t.countedComments {
		t.flush(b.ctx, b.n, b.p.Comments())
	}
	if b.timer == nil {
		n, err = b.r.Read(p)
	} else {
		b.timer.Reset(b.d)
		n, err = b.r.Read(p)
		b.timer.Stop()
	}
	b.n += int64(n)
	return n, err
}

// meter returns body wrapped to count what the attempt of ctx reads, to
// keep the metrics current, and to run the read timeout timer, which fires
// after d without bytes (nil: no timeout); p is the parser that reads it.
// The wrapper belongs to t and serves one connection at a time, so a
// connection allocates none.
func (t *telemetry) meter(ctx context.Context, body io.Reader, p *parser.Parser, timer *time.Timer, d time.Duration) io.Reader {
	t.body = meteredBody{r: body, t: t, ctx: ctx, p: p, timer: timer, d: d}
	return &t.body
}

// bytesRead returns the bytes read so far from the current attempt's body.
func (t *telemetry) bytesRead() int64 { return t.body.n }

// reconnect counts a scheduled reconnection by the reason for it.
func (t *telemetry) reconnect(ctx context.Context, e ending, retry bool) {
	if retry {
		attrs := append(t.metricAttrs[:len(t.metricAttrs):len(t.metricAttrs)], attrReason.String(e.reason()))
		t.reconnects.Add(ctx, 1, metric.WithAttributes(attrs...))
	}
}

// startAttempt opens the span of one connection attempt, as a child of ctx.
func (t *telemetry) startAttempt(ctx context.Context, attempt int, lastEventID string, delay time.Duration) (context.Context, trace.Span) {
	attrs := append(t.attrs[:len(t.attrs):len(t.attrs)],
		attrAttempt.Int(attempt), attrRetryDelay.Float64(delay.Seconds()))
	if lastEventID != "" {
		attrs = append(attrs, attrLastEventID.String(lastEventID))
	}
	return t.tracer.Start(ctx, t.spanName, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
}

// recordStatus adds the response status to the attempt's span.
func recordStatus(ctx context.Context, code int) {
	trace.SpanFromContext(ctx).SetAttributes(semconv.HTTPResponseStatusCode(code))
}

// endAttempt records how an attempt ended and ends its span. Only a
// failure is an error: a stop the caller asked for (Close, a cancelled
// context, Interrupt), an orderly end of the stream and a 204, the server's
// way of saying stop, are not.
func (t *telemetry) endAttempt(ctx context.Context, span trace.Span, opened time.Time, st attemptStats, e ending) {
	t.flush(ctx, st.bytes, st.comments)
	t.countedBytes, t.countedComments = 0, 0 // the next attempt counts from its own start
	t.body = meteredBody{}                   // keeps neither the closed body nor the attempt's context
	if !opened.IsZero() {
		t.duration.Record(ctx, time.Since(opened).Seconds(), t.recordOpts...)
	}
	if !span.IsRecording() {
		span.End()
		return
	}
	span.SetAttributes(attrEvents.Int64(st.events), attrComments.Int64(st.comments), attrBytes.Int64(st.bytes))
	if e.fault() {
		span.RecordError(e.err)
		span.SetStatus(codes.Error, e.err.Error())
		span.SetAttributes(semconv.ErrorTypeKey.String(e.reason()))
	}
	span.End()
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
