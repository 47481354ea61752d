package sse_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/ssekit/sse"
	"github.com/ssekit/sse/ssetest"
)

// otelRig is an SDK tracer and meter provider that keep what they get, and
// the options that point a stream at them.
type otelRig struct {
	spans  *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
	reader *sdkmetric.ManualReader
	opts   []sse.Option
}

func newOtelRig() *otelRig {
	r := &otelRig{spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader()}
	r.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(r.spans))
	r.opts = []sse.Option{sse.WithErrorStrategy(sse.AlwaysFail()),
		sse.WithTracerProvider(r.tp),
		sse.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(r.reader))),
		sse.WithPropagators(propagation.TraceContext{}),
	}
	return r
}

// parent starts the span a test gives the stream as its parent.
func (r *otelRig) parent(ctx context.Context) (context.Context, trace.Span) {
	return r.tp.Tracer("test").Start(ctx, "parent")
}

// connSpans returns the ended spans of the library's scope, in end order.
func (r *otelRig) connSpans(t *testing.T) []sdktrace.ReadOnlySpan {
	t.Helper()
	var out []sdktrace.ReadOnlySpan
	for _, s := range r.spans.Ended() {
		if s.InstrumentationScope().Name == sse.ScopeName {
			out = append(out, s)
		}
	}
	return out
}

// metrics collects the library's metrics, by name, and checks their scope.
func (r *otelRig) metrics(t *testing.T) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("collecting metrics: %v", err)
	}
	out := make(map[string]metricdata.Metrics)
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != sse.ScopeName {
			continue
		}
		if sm.Scope.Version != sse.Version {
			t.Errorf("metric scope version = %q; want %q", sm.Scope.Version, sse.Version)
		}
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

// sum adds up the data points of counter name that carry all of attrs; -1
// means the counter has no data point at all.
func sum(t *testing.T, ms map[string]metricdata.Metrics, name string, attrs ...attribute.KeyValue) int64 {
	t.Helper()
	m, ok := ms[name]
	if !ok {
		return -1
	}
	s, ok := m.Data.(metricdata.Sum[int64])
	if !ok || !s.IsMonotonic {
		t.Fatalf("%s is a %T; want a monotonic Sum[int64]", name, m.Data)
	}
	var n int64
next:
	for _, dp := range s.DataPoints {
		for _, kv := range attrs {
			if v, ok := dp.Attributes.Value(kv.Key); !ok || v != kv.Value {
				continue next
			}
		}
		n += dp.Value
	}
	return n
}

// durations returns how many connection durations were recorded, and their sum.
func durations(t *testing.T, ms map[string]metricdata.Metrics) (uint64, float64) {
	t.Helper()
	m, ok := ms["sse.client.connection.duration"]
	if !ok {
		return 0, 0
	}
	h, ok := m.Data.(metricdata.Histogram[float64])
	if !ok {
		t.Fatalf("sse.client.connection.duration is a %T; want a Histogram[float64]", m.Data)
	}
	var n uint64
	var s float64
	for _, dp := range h.DataPoints {
		n += dp.Count
		s += dp.Sum
	}
	return n, s
}

// attrs returns a span's attributes by key.
func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := make(map[attribute.Key]attribute.Value)
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

// checkAttrs compares some attributes of a span, and that others are absent.
func checkAttrs(t *testing.T, s sdktrace.ReadOnlySpan, want map[attribute.Key]any, absent ...attribute.Key) {
	t.Helper()
	got := attrs(s)
	for k, w := range want {
		v, ok := got[k]
		if !ok {
			t.Errorf("span %q: no attribute %s; want %v", s.Name(), k, w)
		} else if v.AsInterface() != w {
			t.Errorf("span %q: %s = %#v; want %#v", s.Name(), k, v.AsInterface(), w)
		}
	}
	for _, k := range absent {
		if v, ok := got[k]; ok {
			t.Errorf("span %q: %s = %v; want no such attribute", s.Name(), k, v.AsInterface())
		}
	}
}

// checkFailed checks that a span reports a failure of the given error.type.
func checkFailed(t *testing.T, s sdktrace.ReadOnlySpan, errorType string) {
	t.Helper()
	if s.Status().Code != codes.Error {
		t.Errorf("span %q: status %v; want Error", s.Name(), s.Status())
	}
	checkAttrs(t, s, map[attribute.Key]any{"error.type": errorType})
	if ev := s.Events(); len(ev) != 1 || ev[0].Name != "exception" {
		t.Errorf("span %q: events %v; want the recorded error", s.Name(), ev)
	}
}

// checkOK checks that a span reports no failure.
func checkOK(t *testing.T, s sdktrace.ReadOnlySpan) {
	t.Helper()
	if s.Status().Code != codes.Unset {
		t.Errorf("span %q: status %v; want Unset", s.Name(), s.Status())
	}
	checkAttrs(t, s, nil, "error.type")
	if ev := s.Events(); len(ev) != 0 {
		t.Errorf("span %q: events %v; want none", s.Name(), ev)
	}
}

// checkConnSpan checks what every connection span has: its name, kind,
// scope and parent.
func checkConnSpan(t *testing.T, s sdktrace.ReadOnlySpan, name string, parent trace.Span) {
	t.Helper()
	if s.Name() != name || s.SpanKind() != trace.SpanKindClient {
		t.Errorf("span %q of kind %v; want %q of kind client", s.Name(), s.SpanKind(), name)
	}
	if sc := s.InstrumentationScope(); sc.Name != sse.ScopeName || sc.Version != sse.Version {
		t.Errorf("span scope %q %q; want %q %q", sc.Name, sc.Version, sse.ScopeName, sse.Version)
	}
	if got, want := s.Parent().SpanID(), parent.SpanContext().SpanID(); got != want {
		t.Errorf("span %q: parent %v; want the caller's span %v", s.Name(), got, want)
	}
	if s.SpanContext().TraceID() != parent.SpanContext().TraceID() {
		t.Errorf("span %q is in trace %v; want the caller's %v", s.Name(), s.SpanContext().TraceID(), parent.SpanContext().TraceID())
	}
}

// traceparent is the W3C header that carries span s.
func traceparent(s sdktrace.ReadOnlySpan) string {
	sc := s.SpanContext()
	return fmt.Sprintf("00-%s-%s-%s", sc.TraceID(), sc.SpanID(), sc.TraceFlags())
}

// headerLog records a header of every request a handler serves.
type headerLog struct {
	mu   sync.Mutex
	name string
	got  []string
}

func (l *headerLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		l.got = append(l.got, r.Header.Get(l.name))
		l.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

func (l *headerLog) values() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.got...)
}

// TestTelemetryCleanStream follows one connection over a real socket that
// sends two events and a comment and ends: the span, its attributes, the
// injected trace context, a handler's child span, and the metrics.
func TestTelemetryCleanStream(t *testing.T) {
	const body = ": hi\n\nevent: tick\nid: 7\ndata: a\n\ndata: b\n\n"
	rig := newOtelRig()
	srv := ssetest.NewServer(ssetest.Sequence(ssetest.Response{Steps: []ssetest.Step{ssetest.Write(body)}}))
	defer srv.Close()
	host, port, _ := strings.Cut(strings.TrimPrefix(srv.URL, "http://"), ":")
	url := "http://user:secret@" + host + ":" + port + "/events?token=abc&sig=xyz&page=2"

	ctx, parent := rig.parent(context.Background())
	d, err := sse.New(url, append(rig.opts, sse.WithHTTPClient(sse.NewTestClient(t)),
		sse.WithLastEventID("6"), sse.WithRedactedQuery("token"))...)
	if err != nil {
		t.Fatal(err)
	}
	var handlerSpans []trace.SpanContext
	d.OnEvent(func(ctx context.Context, ev sse.Event) {
		_, s := rig.tp.Tracer("test").Start(ctx, "handle "+ev.Data)
		handlerSpans = append(handlerSpans, s.SpanContext())
		s.End()
	})
	if err := d.Run(ctx); err != nil {
		t.Fatalf("Run = %v; want nil after an orderly end", err)
	}
	parent.End()

	spans := rig.connSpans(t)
	if len(spans) != 1 {
		t.Fatalf("got %d connection spans; want 1", len(spans))
	}
	s := spans[0]
	checkConnSpan(t, s, "GET", parent)
	checkOK(t, s)
	checkAttrs(t, s, map[attribute.Key]any{
		"http.request.method":       "GET",
		"url.full":                  "http://REDACTED:REDACTED@" + host + ":" + port + "/events?token=REDACTED&sig=REDACTED&page=2",
		"server.address":            host,
		"server.port":               int64(mustAtoi(t, port)),
		"http.response.status_code": int64(200),
		"sse.attempt":               int64(1),
		"sse.last_event_id":         "6",
		"sse.retry_delay":           0.0,
		"sse.events":                int64(2),
		"sse.comments":              int64(1),
		"sse.bytes":                 int64(len(body)),
	})

	reqs := srv.Requests()
	if len(reqs) != 1 || reqs[0].Header.Get("Traceparent") != traceparent(s) {
		t.Errorf("server saw traceparent %q; want %q, the connection span", sse.HeaderValues(reqs, "Traceparent"), traceparent(s))
	}

	if len(handlerSpans) != 2 {
		t.Fatalf("handlers started %d spans; want 2", len(handlerSpans))
	}
	for _, hs := range rig.spans.Ended() {
		if strings.HasPrefix(hs.Name(), "handle ") && hs.Parent().SpanID() != s.SpanContext().SpanID() {
			t.Errorf("handler span %q has parent %v; want the connection span %v", hs.Name(), hs.Parent().SpanID(), s.SpanContext().SpanID())
		}
	}

	ms := rig.metrics(t)
	server := []attribute.KeyValue{attribute.String("server.address", host), attribute.Int("server.port", mustAtoi(t, port))}
	for _, c := range []struct {
		name  string
		attrs []attribute.KeyValue
		want  int64
	}{
		{"sse.client.events", append(server, attribute.String("sse.event.type", "tick")), 1},
		{"sse.client.events", append(server, attribute.String("sse.event.type", "message")), 1},
		{"sse.client.events", nil, 2},
		{"sse.client.comments", server, 1},
		{"sse.client.io", server, int64(len(body))},
		{"sse.client.reconnects", nil, 0}, // the default strategy stops at the end
	} {
		if got := max(sum(t, ms, c.name, c.attrs...), 0); got != c.want {
			t.Errorf("%s%v = %d; want %d", c.name, c.attrs, got, c.want)
		}
	}
	if n, _ := durations(t, ms); n != 1 {
		t.Errorf("connection durations recorded: %d; want 1", n)
	}
	units := map[string]string{"sse.client.events": "{event}", "sse.client.comments": "{comment}",
		"sse.client.io": "By", "sse.client.connection.duration": "s"}
	for name, unit := range units {
		if got := ms[name].Unit; got != unit {
			t.Errorf("%s has unit %q; want %q", name, got, unit)
		}
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatalf("port %q: %v", s, err)
	}
	return n
}

// TestTelemetryReconnectAfterDrop drops the first connection in the middle
// of an event, under fake time: two spans, the first failed and the second
// resuming from the last event ID after the server's retry delay, and the
// reconnect counted by its reason.
func TestTelemetryReconnectAfterDrop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rig := newOtelRig()
		const first = "retry: 5\nid: 1\ndata: a\n\ndata: cut"
		tp := &headerLog{name: "Traceparent"}
		last := &headerLog{name: "Last-Event-ID"}
		client := &http.Client{Transport: &ssetest.Transport{Handler: tp.wrap(last.wrap(ssetest.Sequence(
			ssetest.Response{Steps: []ssetest.Step{ssetest.Write(first), ssetest.Sleep(2 * time.Second), ssetest.Drop()}},
			ssetest.Response{Steps: []ssetest.Step{ssetest.Write("data: b\n\n")}},
		)))}}
		retryErrors := func(err error, _ int, _ time.Duration) bool { return err != nil }
		ctx, parent := rig.parent(context.Background())
		d, err := sse.New("http://sse.test/events", append(rig.opts, sse.WithHTTPClient(client),
			sse.WithErrorStrategy(retryErrors), sse.WithJitter(0), sse.WithMinDelay(0))...)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Run(ctx); err != nil {
			t.Fatalf("Run = %v; want nil after the second connection ends in order", err)
		}
		parent.End()

		spans := rig.connSpans(t)
		if len(spans) != 2 {
			t.Fatalf("got %d connection spans; want 2", len(spans))
		}
		for _, s := range spans {
			checkConnSpan(t, s, "GET", parent)
			checkAttrs(t, s, map[attribute.Key]any{
				"server.address": "sse.test", "server.port": int64(80), "http.response.status_code": int64(200),
			})
		}
		checkFailed(t, spans[0], "unexpected_eof")
		checkAttrs(t, spans[0], map[attribute.Key]any{
			"sse.attempt": int64(1), "sse.retry_delay": 0.0, "sse.events": int64(1),
			"sse.bytes": int64(len(first)),
		}, "sse.last_event_id")
		checkOK(t, spans[1])
		checkAttrs(t, spans[1], map[attribute.Key]any{
			"sse.attempt": int64(2), "sse.retry_delay": 0.005, "sse.last_event_id": "1",
			"sse.events": int64(1), "sse.bytes": int64(len("data: b\n\n")),
		})
		if got, want := tp.values(), []string{traceparent(spans[0]), traceparent(spans[1])}; !slices.Equal(got, want) {
			t.Errorf("server saw traceparents %q; want %q", got, want)
		}
		if got := last.values(); !slices.Equal(got, []string{"", "1"}) {
			t.Errorf("server saw Last-Event-IDs %q; want none, then 1", got)
		}

		ms := rig.metrics(t)
		if got := sum(t, ms, "sse.client.reconnects", attribute.String("sse.reconnect.reason", "unexpected_eof")); got != 1 {
			t.Errorf("reconnects after the drop = %d; want 1", got)
		}
		if got := sum(t, ms, "sse.client.reconnects"); got != 1 {
			t.Errorf("reconnects = %d; want 1", got)
		}
		if got := sum(t, ms, "sse.client.events", attribute.String("sse.event.type", "message")); got != 2 {
			t.Errorf("events = %d; want 2", got)
		}
		if got, want := sum(t, ms, "sse.client.io"), int64(len(first)+len("data: b\n\n")); got != want {
			t.Errorf("bytes read = %d; want %d", got, want)
		}
		if n, total := durations(t, ms); n != 2 || total != 2 {
			t.Errorf("connection durations: %d summing to %vs; want 2 summing to 2s", n, total)
		}
	})
}

// TestTelemetryFailedResponse covers attempts that fail before any event:
// one span each, failed, with the status; no connection duration.
func TestTelemetryFailedResponse(t *testing.T) {
	tests := []struct {
		name      string
		resp      ssetest.Response
		status    int64
		errorType string
		wantErr   any
	}{
		{"503", ssetest.Response{Status: http.StatusServiceUnavailable}, 503, "503", new(*sse.StatusError)},
		{"wrong content type", ssetest.Response{Header: http.Header{"Content-Type": {"text/plain"}},
			Steps: []ssetest.Step{ssetest.Write("data: a\n\n")}}, 200, "content_type", new(*sse.ContentTypeError)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rig := newOtelRig()
			srv := ssetest.NewServer(ssetest.Sequence(tt.resp))
			defer srv.Close()
			ctx, parent := rig.parent(context.Background())
			d, err := sse.New(srv.URL, append(rig.opts, sse.WithHTTPClient(sse.NewTestClient(t)))...)
			if err != nil {
				t.Fatal(err)
			}
			var faultSpan trace.SpanContext
			d.OnFault(func(ctx context.Context, f sse.Fault) { faultSpan = trace.SpanContextFromContext(ctx) })
			if err := d.Start(ctx); !errors.As(err, tt.wantErr) {
				t.Fatalf("Start = %v; want a %T", err, tt.wantErr)
			}
			d.Wait()
			parent.End()

			spans := rig.connSpans(t)
			if len(spans) != 1 {
				t.Fatalf("got %d connection spans; want 1", len(spans))
			}
			s := spans[0]
			checkConnSpan(t, s, "GET", parent)
			checkFailed(t, s, tt.errorType)
			checkAttrs(t, s, map[attribute.Key]any{
				"http.response.status_code": tt.status,
				"sse.attempt":               int64(1), "sse.events": int64(0), "sse.bytes": int64(0),
			})
			if !faultSpan.Equal(s.SpanContext()) {
				t.Errorf("OnFault got span %v; want the failed connection's %v", faultSpan.SpanID(), s.SpanContext().SpanID())
			}
			if reqs := srv.Requests(); len(reqs) != 1 || reqs[0].Header.Get("Traceparent") != traceparent(s) {
				t.Errorf("server saw traceparent %q; want %q", sse.HeaderValues(reqs, "Traceparent"), traceparent(s))
			}
			ms := rig.metrics(t)
			if n, _ := durations(t, ms); n != 0 {
				t.Errorf("connection durations recorded: %d; want none for a refused connection", n)
			}
			for _, name := range []string{"sse.client.events", "sse.client.io", "sse.client.reconnects"} {
				if got := sum(t, ms, name); got > 0 {
					t.Errorf("%s = %d; want nothing counted", name, got)
				}
			}
		})
	}
}

// TestTelemetryEnds checks how other ends of a connection show on its span.
func TestTelemetryEnds(t *testing.T) {
	tests := []struct {
		name      string
		resp      ssetest.Response
		opts      []sse.Option
		errorType string // "" for no error
	}{
		{"read timeout", ssetest.Response{Steps: []ssetest.Step{ssetest.Write("data: a\n\n"), ssetest.Stall()}},
			[]sse.Option{sse.WithReadTimeout(time.Second)}, "timeout"},
		{"event too large", ssetest.Response{Steps: []ssetest.Step{ssetest.Write("data: 0123456789\n\n")}},
			[]sse.Option{sse.WithMaxEventSize(8)}, "too_large"},
		{"204 asks to stop", ssetest.Response{Status: http.StatusNoContent}, nil, ""},
		{"orderly end", ssetest.Response{Steps: []ssetest.Step{ssetest.Write("data: a\n\n")}}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rig := newOtelRig()
				client := &http.Client{Transport: &ssetest.Transport{Handler: ssetest.Sequence(tt.resp)}}
				d, err := sse.New("http://sse.test/", append(append(rig.opts, sse.WithHTTPClient(client)), tt.opts...)...)
				if err != nil {
					t.Fatal(err)
				}
				d.Run(context.Background())
				spans := rig.connSpans(t)
				if len(spans) != 1 {
					t.Fatalf("got %d connection spans; want 1", len(spans))
				}
				if tt.errorType == "" {
					checkOK(t, spans[0])
				} else {
					checkFailed(t, spans[0], tt.errorType)
				}
			})
		})
	}
}

// TestTelemetryRequestedStop ends a connection by Close, by cancelling the
// context, and by Interrupt: none of them is an error.
func TestTelemetryRequestedStop(t *testing.T) {
	tests := []struct {
		name      string
		stop      func(d *sse.Dispatcher, cancel context.CancelFunc)
		spans     int
		reconnect int64
	}{
		{"Close", func(d *sse.Dispatcher, _ context.CancelFunc) { d.Close() }, 1, 0},
		{"cancel", func(_ *sse.Dispatcher, cancel context.CancelFunc) { cancel() }, 1, 0},
		{"Interrupt", func(d *sse.Dispatcher, _ context.CancelFunc) { d.Interrupt() }, 2, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rig := newOtelRig()
				client := &http.Client{Transport: &ssetest.Transport{Handler: ssetest.Sequence(
					ssetest.Response{Steps: []ssetest.Step{ssetest.Write("data: a\n\n"), ssetest.Stall()}},
				)}}
				ctx, parent := rig.parent(context.Background())
				ctx, cancel := context.WithCancel(ctx)
				defer cancel()
				d, err := sse.New("http://sse.test/", append(rig.opts, sse.WithHTTPClient(client))...)
				if err != nil {
					t.Fatal(err)
				}
				defer d.Close()
				got := make(chan struct{}, 2)
				d.OnEvent(func(context.Context, sse.Event) { got <- struct{}{} })
				if err := d.Start(ctx); err != nil {
					t.Fatal(err)
				}
				<-got
				tt.stop(d, cancel)
				if tt.spans == 2 {
					<-got // the second connection's event
					d.Close()
				}
				d.Wait()
				parent.End()

				spans := rig.connSpans(t)
				if len(spans) != tt.spans {
					t.Fatalf("got %d connection spans; want %d", len(spans), tt.spans)
				}
				for _, s := range spans {
					checkConnSpan(t, s, "GET", parent)
					checkOK(t, s)
					checkAttrs(t, s, map[attribute.Key]any{"sse.events": int64(1)})
				}
				ms := rig.metrics(t)
				if got := sum(t, ms, "sse.client.reconnects", attribute.String("sse.reconnect.reason", "interrupt")); max(got, 0) != tt.reconnect {
					t.Errorf("reconnects for an interrupt = %d; want %d", got, tt.reconnect)
				}
				if n, _ := durations(t, ms); n != uint64(tt.spans) {
					t.Errorf("connection durations recorded: %d; want %d", n, tt.spans)
				}
			})
		})
	}
}

// TestTelemetryCountsAsBytesArrive checks that metrics are current while a
// connection is still open: a stream can live for days. Whatever is pending
// (an event, a comment nobody receives, or 4 KiB of bytes that end no line)
// reaches the instruments before the stream waits for more bytes.
func TestTelemetryCountsAsBytesArrive(t *testing.T) {
	tests := []struct {
		name  string
		first string
		want  map[string]int64 // -1: no data point yet
	}{
		{"comment and event", ": hello\n\nevent: x\ndata: a\n\n", map[string]int64{"sse.client.events": 1, "sse.client.comments": 1}},
		{"event", "event: x\ndata: a\n\n", map[string]int64{"sse.client.events": 1, "sse.client.comments": -1}},
		{"comment", ": hello\n", map[string]int64{"sse.client.events": -1, "sse.client.comments": 1}},
		{"4 KiB of one line", "data: " + strings.Repeat("x", 5000), map[string]int64{"sse.client.events": -1, "sse.client.comments": -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rig := newOtelRig()
				client := &http.Client{Transport: &ssetest.Transport{Handler: ssetest.Sequence(
					ssetest.Response{Steps: []ssetest.Step{ssetest.Write(tt.first), ssetest.Stall()}},
				)}}
				d, err := sse.New("http://sse.test/", append(rig.opts, sse.WithHTTPClient(client))...)
				if err != nil {
					t.Fatal(err)
				}
				defer d.Close()
				if err := d.Start(context.Background()); err != nil {
					t.Fatal(err)
				}
				synctest.Wait() // the stream waits for more bytes

				if n := len(rig.spans.Ended()); n != 0 {
					t.Fatalf("%d spans ended; want the connection's still open", n)
				}
				ms := rig.metrics(t)
				tt.want["sse.client.io"] = int64(len(tt.first))
				for name, want := range tt.want {
					if got := sum(t, ms, name); got != want {
						t.Errorf("while connected after %.20q, %s = %d; want %d", tt.first, name, got, want)
					}
				}
			})
		})
	}
}

// TestTelemetryStreamParent checks that ranging over a Stream makes the
// iteration's context the parent, and that Stream.Span lets the loop nest
// its own spans under the connection.
func TestTelemetryStreamParent(t *testing.T) {
	rig := newOtelRig()
	src := sse.SourceFunc(func(context.Context, string) (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader("data: a\n\n")), nil
	})
	s, err := sse.NewStream("", append(rig.opts, sse.WithSource(src))...)
	if err != nil {
		t.Fatal(err)
	}
	if s.Span().SpanContext().IsValid() {
		t.Errorf("before any connection, Span() = %v; want an empty span", s.Span().SpanContext())
	}
	ctx, parent := rig.parent(context.Background())
	var inLoop trace.SpanContext
	for ev, err := range s.Events(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		_, child := rig.tp.Tracer("test").Start(trace.ContextWithSpan(ctx, s.Span()), "use "+ev.Data)
		inLoop = child.SpanContext()
		child.End()
	}
	parent.End()
	spans := rig.connSpans(t)
	if len(spans) != 1 {
		t.Fatalf("got %d connection spans; want 1", len(spans))
	}
	checkConnSpan(t, spans[0], "sse.connect", parent)
	checkOK(t, spans[0])
	checkAttrs(t, spans[0], map[attribute.Key]any{"sse.events": int64(1)}, "url.full", "http.request.method", "server.address")
	for _, c := range rig.spans.Ended() {
		if c.SpanContext().Equal(inLoop) && c.Parent().SpanID() != spans[0].SpanContext().SpanID() {
			t.Errorf("loop span's parent %v; want the connection span %v", c.Parent().SpanID(), spans[0].SpanContext().SpanID())
		}
	}
}

// TestTelemetryURLRedaction checks url.full for credentials and query values.
func TestTelemetryURLRedaction(t *testing.T) {
	tests := []struct {
		name string
		url  string
		opts []sse.Option
		want string
	}{
		{"plain", "http://h/p?a=1", nil, "http://h/p?a=1"},
		{"user and password", "http://u:p@h/p", nil, "http://REDACTED:REDACTED@h/p"},
		{"user only", "https://u@h/p", nil, "https://REDACTED@h/p"},
		{"default keys", "http://h/?sig=s&Signature=x&AWSAccessKeyId=k&X-Goog-Signature=g&a=1", nil,
			"http://h/?sig=REDACTED&Signature=REDACTED&AWSAccessKeyId=REDACTED&X-Goog-Signature=REDACTED&a=1"},
		{"named keys", "http://h/?token=t&a=1&api%20key=k&flag", []sse.Option{sse.WithRedactedQuery("token"), sse.WithRedactedQuery("api key")},
			"http://h/?token=REDACTED&a=1&api%20key=REDACTED&flag"},
		{"all values", "http://h/?b=2&a=1&flag#frag", []sse.Option{sse.WithRedactedQuery()}, "http://h/?b=REDACTED&a=REDACTED&flag#frag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rig := newOtelRig()
			refuse := sse.SourceFunc(func(context.Context, string) (io.ReadCloser, error) { return nil, errors.New("refused") })
			s, err := sse.NewStream(tt.url, append(append(rig.opts, sse.WithSource(refuse)), tt.opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			for range s.All(context.Background()) {
			}
			spans := rig.connSpans(t)
			if len(spans) != 1 {
				t.Fatalf("got %d spans; want 1", len(spans))
			}
			checkAttrs(t, spans[0], map[attribute.Key]any{"url.full": tt.want})
		})
	}
}

// TestTelemetryDefaultsToGlobals runs a stream without telemetry options in
// a child process that installs global providers: the globals get its
// spans, metrics and trace context. A child keeps the globals of this
// process (and its benchmarks) free of an SDK.
func TestTelemetryDefaultsToGlobals(t *testing.T) {
	if os.Getenv("SSE_TEST_OTEL_GLOBALS") != "1" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestTelemetryDefaultsToGlobals$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), "SSE_TEST_OTEL_GLOBALS=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "globals received the telemetry") {
			t.Fatalf("child process: %v\n%s", err, out)
		}
		return
	}
	rig := newOtelRig()
	rig.reader = sdkmetric.NewManualReader() // the rig's own is taken by its provider
	otel.SetTracerProvider(rig.tp)
	otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(rig.reader)))
	otel.SetTextMapPropagator(propagation.TraceContext{})
	srv := ssetest.NewServer(ssetest.Sequence(ssetest.Response{Steps: []ssetest.Step{ssetest.Write("data: a\n\n")}}))
	defer srv.Close()
	ctx, parent := rig.parent(context.Background())
	d, err := sse.New(srv.URL, sse.WithErrorStrategy(sse.AlwaysFail()), sse.WithHTTPClient(sse.NewTestClient(t)))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Run(ctx); err != nil {
		t.Fatal(err)
	}
	spans := rig.connSpans(t)
	if len(spans) != 1 {
		t.Fatalf("global tracer provider got %d connection spans; want 1", len(spans))
	}
	checkConnSpan(t, spans[0], "GET", parent)
	if reqs := srv.Requests(); len(reqs) != 1 || reqs[0].Header.Get("Traceparent") != traceparent(spans[0]) {
		t.Errorf("server saw traceparent %q; want %q from the global propagator", sse.HeaderValues(reqs, "Traceparent"), traceparent(spans[0]))
	}
	if got := sum(t, rig.metrics(t), "sse.client.events"); got != 1 {
		t.Errorf("global meter provider counted %d events; want 1", got)
	}
	if !t.Failed() {
		t.Log("globals received the telemetry")
	}
}

// eventsSource serves n small events of two types, once.
func eventsSource(n int) sse.Source {
	body := strings.Repeat("event: a\ndata: x\n\nevent: b\ndata: y\n\n", n/2)
	return sse.SourceFunc(func(context.Context, string) (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader(body)), nil
	})
}

// drain reads a Stream over src to its end.
func drain(src sse.Source, opts ...sse.Option) int {
	s, _ := sse.NewStream("", append(append([]sse.Option{sse.WithErrorStrategy(sse.AlwaysFail())}, opts...), sse.WithSource(src))...)
	n := 0
	for range s.Events(context.Background()) {
		n++
	}
	return n
}

// TestTelemetryCostsNothingPerEvent checks that telemetry adds no
// allocation per event: with an SDK behind it, reading 2000 events
// allocates no more than with no-op providers, give or take a constant per
// connection.
func TestTelemetryCostsNothingPerEvent(t *testing.T) {
	const n = 2000
	src := eventsSource(n)
	noop := []sse.Option{sse.WithErrorStrategy(sse.AlwaysFail()), sse.WithTracerProvider(tracenoop.NewTracerProvider()), sse.WithMeterProvider(metricnoop.NewMeterProvider())}
	if got := drain(src, noop...); got != n {
		t.Fatalf("read %d events; want %d", got, n)
	}
	rig := newOtelRig()
	drain(src, rig.opts...) // the SDK makes its data points once
	base := testing.AllocsPerRun(5, func() { drain(src, noop...) })
	withSDK := testing.AllocsPerRun(5, func() { drain(src, rig.opts...) })
	global := testing.AllocsPerRun(5, func() { drain(src) })
	t.Logf("allocations for %d events: no-op %v, SDK %v, globals %v", n, base, withSDK, global)
	if withSDK-base > 100 || global-base > 100 {
		t.Errorf("allocations for %d events: no-op providers %v, SDK %v, global providers %v; want the same give or take a constant per connection", n, base, withSDK, global)
	}
	if got := sum(t, rig.metrics(t), "sse.client.events", attribute.String("sse.event.type", "b")); got != 7*n/2 {
		t.Errorf("SDK counted %d events of type b; want %d", got, 7*n/2)
	}
}

// countingMeterProvider counts the calls made to its counters.
type countingMeterProvider struct {
	metricnoop.MeterProvider
	calls *atomic.Int64
}

func (p countingMeterProvider) Meter(string, ...metric.MeterOption) metric.Meter {
	return countingMeter{calls: p.calls}
}

type countingMeter struct {
	metricnoop.Meter
	calls *atomic.Int64
}

func (m countingMeter) Int64Counter(string, ...metric.Int64CounterOption) (metric.Int64Counter, error) {
	return countingCounter{calls: m.calls}, nil
}

type countingCounter struct {
	metricnoop.Int64Counter
	calls *atomic.Int64
}

func (c countingCounter) Add(context.Context, int64, ...metric.AddOption) { c.calls.Add(1) }

// TestTelemetryBatchesMetricCalls checks that events reach the counters in
// batches, a few calls per read of the body rather than one per event.
func TestTelemetryBatchesMetricCalls(t *testing.T) {
	const n = 2000 // about 36 KB: ten reads or so
	var calls atomic.Int64
	if got := drain(eventsSource(n), sse.WithMeterProvider(countingMeterProvider{calls: &calls})); got != n {
		t.Fatalf("read %d events; want %d", got, n)
	}
	if got := calls.Load(); got == 0 || got > n/20 {
		t.Errorf("%d counter calls for %d events; want a few per read", got, n)
	}
}

// BenchmarkTelemetry reads small events with no providers set (the global
// no-ops), no-op providers, and an SDK.
func BenchmarkTelemetry(b *testing.B) {
	const n = 1000
	src := eventsSource(n)
	rig := newOtelRig()
	for _, bc := range []struct {
		name string
		opts []sse.Option
	}{
		{"global", nil},
		{"noop", []sse.Option{sse.WithErrorStrategy(sse.AlwaysFail()), sse.WithTracerProvider(tracenoop.NewTracerProvider()), sse.WithMeterProvider(metricnoop.NewMeterProvider())}},
		{"sdk", rig.opts},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				drain(src, bc.opts...)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
		})
	}
}
