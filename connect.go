package sse

// This file is the HTTP source: one connection attempt, from the request to
// a checked response whose body the stream (stream.go) parses. The redirect
// rules, the response checks and the decoding of the body live here; what
// to do about a failure is the stream's business.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"

	"go.opentelemetry.io/otel/propagation"
)

// Source opens the bytes of one connection. A stream calls Open once per
// connection attempt, from its own goroutine, with the context of that
// attempt and the last event ID to resume from ("" for none). Closing ctx
// must make the returned reader's Read return; the stream closes the reader
// when the connection ends. Use [WithSource] to read something other than
// HTTP.
type Source interface {
	Open(ctx context.Context, lastEventID string) (io.ReadCloser, error)
}

// SourceFunc adapts a function to a [Source].
type SourceFunc func(ctx context.Context, lastEventID string) (io.ReadCloser, error)

// Open calls f.
func (f SourceFunc) Open(ctx context.Context, lastEventID string) (io.ReadCloser, error) {
	return f(ctx, lastEventID)
}

// httpSource is the default Source: one HTTP request per attempt.
type httpSource struct {
	url         string
	method      string
	body        []byte
	header      http.Header
	client      *http.Client
	hook        func(*http.Request) error
	propagators propagation.TextMapPropagator
}

func newHTTPSource(rawURL string, c *config, redact redactor) (*httpSource, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("sse: bad URL: %w", redact.Error(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("sse: bad URL %q: scheme must be http or https", redact.URL(rawURL))
	}
	client := c.client
	if client.CheckRedirect == nil {
		copied := *client
		copied.CheckRedirect = limitRedirects(c.maxRedirects, redact)
		client = &copied
	}
	h := &httpSource{
		url:         rawURL,
		method:      c.method,
		body:        c.body,
		client:      client,
		hook:        c.requestHook,
		propagators: c.propagators,
	}
	if len(c.header) > 0 {
		h.header = c.header.Clone() // nil otherwise: an idle stream keeps no map
	}
	return h, nil
}

// limitRedirects fails a request after n redirects. net/http itself drops
// Authorization and cookies when a redirect leaves the original host.
func limitRedirects(n int, redact redactor) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if len(via) > n {
			return &RedirectError{Limit: n, URL: redact.URL(req.URL.String())}
		}
		return nil
	}
}

// Open sends the request and checks that the response is an event stream.
func (h *httpSource) Open(ctx context.Context, lastEventID string) (io.ReadCloser, error) {
	var body io.Reader
	if h.body != nil {
		body = bytes.NewReader(h.body) // a fresh reader per attempt replays the body
	}
	req, err := http.NewRequestWithContext(ctx, h.method, h.url, body)
	if err != nil {
		return nil, err
	}
	// The defaults are added per request, so that an idle stream keeps no
	// header map when the caller set none.
	req.Header = h.header.Clone()
	if req.Header == nil {
		req.Header = make(http.Header, 4)
	}
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "text/event-stream")
	}
	if req.Header.Get("Cache-Control") == "" {
		req.Header.Set("Cache-Control", "no-cache")
	}
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	h.propagators.Inject(ctx, propagation.HeaderCarrier(req.Header))
	if h.hook != nil {
		if err := h.hook(req); err != nil {
			return nil, err
		}
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, err
	}
	recordStatus(ctx, resp.StatusCode)
	if code := resp.StatusCode; code < 200 || code > 299 || code == http.StatusNoContent {
		resp.Body.Close()
		return nil, &StatusError{Code: code}
	}
	ct := resp.Header.Get("Content-Type")
	// As in the Fetch standard's MIME type parser, only the essence counts: a malformed
	// parameter (ErrInvalidMediaParameter still returns the type) is ignored.
	if mt, _, err := mime.ParseMediaType(ct); (err != nil && err != mime.ErrInvalidMediaParameter) || mt != "text/event-stream" {
		resp.Body.Close()
		return nil, &ContentTypeError{ContentType: ct}
	}
	return resp.Body, nil
}
