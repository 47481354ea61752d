package sse

// This file is the HTTP source: one connection attempt, from the request to
// a checked response whose body the stream (stream.go) parses. The redirect
// rules, the response checks and the decoding of the body live here; what
// to do about a failure is the stream's business.

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

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
	url            string
	method         string
	body           []byte
	header         http.Header
	acceptEncoding string // unless the caller set one: identity, or gzip with WithCompression
	client         *http.Client
	hook           func(*http.Request) error
	propagators    propagation.TextMapPropagator
}

func newHTTPSource(rawURL string, c *config, redact redactor) (*httpSource, error) {
	u, err := url.Parse(rawURL)
	switch {
	case err != nil:
		return nil, &ConfigError{Setting: "URL", Reason: "does not parse", Err: redact.Error(err)}
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, &ConfigError{Setting: "URL", Reason: fmt.Sprintf("%q: the scheme must be http or https", redact.URL(rawURL))}
	case u.Hostname() == "":
		return nil, &ConfigError{Setting: "URL", Reason: fmt.Sprintf("%q has no host", redact.URL(rawURL))}
	}
	// A copy, so that the caller's client is not changed; it shares the
	// Transport, and with it the connection pool.
	client := *c.client
	client.CheckRedirect = redirectPolicy(c.maxRedirects, c.client.CheckRedirect, crossOriginHeaders(c.propagators), redact)
	h := &httpSource{
		url:            rawURL,
		method:         c.method,
		body:           c.body,
		acceptEncoding: "identity",
		client:         &client,
		hook:           c.requestHook,
		propagators:    c.propagators,
	}
	if c.compression {
		h.acceptEncoding = "gzip"
	}
	if len(c.header) > 0 {
		h.header = c.header.Clone() // nil otherwise: an idle stream keeps no map
	}
	return h, nil
}

// crossOriginHeaders returns the request headers that a redirect to another
// origin keeps: those that describe the request rather than who sends it,
// and the trace context. Any other header may carry a credential (an API
// key in a header of its own, as well as Authorization, Cookie and
// Proxy-Authorization), so it stays with the origin it was meant for;
// Referer goes too, as it may quote a secret query.
func crossOriginHeaders(p propagation.TextMapPropagator) []string {
	keep := []string{"Accept", "Accept-Encoding", "Accept-Language", "Cache-Control",
		"Content-Language", "Content-Type", "Last-Event-Id", "Pragma", "User-Agent"}
	for _, f := range p.Fields() {
		keep = append(keep, http.CanonicalHeaderKey(f))
	}
	return keep
}

// redirectPolicy returns the CheckRedirect of a stream's client. It
// refuses a redirect from https to http, and once a redirect has left the
// first request's origin (scheme, host and port), it removes every header
// but those in keep, for the rest of the chain: net/http itself only
// drops Authorization and cookies when the host name changes, and not for
// a subdomain. Then it calls next, the caller's own CheckRedirect, which
// sees the request as it will be sent; without one, it enforces limit.
func redirectPolicy(limit int, next func(*http.Request, []*http.Request) error, keep []string, redact redactor) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		left := !sameOrigin(req.URL, via[0].URL)
		for _, r := range via {
			if r.URL.Scheme == "https" && req.URL.Scheme != "https" {
				return &RedirectError{URL: redact.URL(req.URL.String()), Downgrade: true}
			}
			left = left || !sameOrigin(r.URL, via[0].URL)
		}
		if left {
			for name := range req.Header {
				if !slices.Contains(keep, name) {
					delete(req.Header, name)
				}
			}
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) > limit {
			return &RedirectError{Limit: limit, URL: redact.URL(req.URL.String())}
		}
		return nil
	}
}

// sameOrigin reports whether a and b have one origin: scheme, host and
// port, with a missing port read as the scheme's default.
func sameOrigin(a, b *url.URL) bool {
	return a.Scheme == b.Scheme && strings.EqualFold(a.Hostname(), b.Hostname()) && serverPort(a) == serverPort(b)
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
	// Set, net/http neither asks for gzip itself nor decodes the body:
	// the response's Content-Encoding is checked below.
	if req.Header.Get("Accept-Encoding") == "" {
		req.Header.Set("Accept-Encoding", h.acceptEncoding)
	}
	// net/http refuses a request with a control byte in a header, and the
	// id came from the server: sent, it would fail every attempt.
	if lastEventID != "" && invalidHeaderByte(lastEventID) < 0 {
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
	decoded, encErr := decodedBody(resp)
	if code := resp.StatusCode; code < 200 || code > 299 || code == http.StatusNoContent {
		se := &StatusError{Code: code, Header: resp.Header, Body: errorBody(ctx, decoded)}
		if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable {
			se.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), time.Now())
		}
		return nil, se
	}
	ct := resp.Header.Get("Content-Type")
	// As in the Fetch standard's MIME type parser, only the essence counts: a malformed
	// parameter (ErrInvalidMediaParameter still returns the type) is ignored.
	if mt, _, err := mime.ParseMediaType(ct); (err != nil && err != mime.ErrInvalidMediaParameter) || mt != "text/event-stream" {
		return nil, &ContentTypeError{ContentType: ct, Header: resp.Header, Body: errorBody(ctx, decoded)}
	}
	if encErr != nil {
		resp.Body.Close()
		return nil, encErr
	}
	return &response{ReadCloser: decoded, status: resp.StatusCode, header: resp.Header}, nil
}

// response is the body Open returns: what the stream reads, with the
// status and header of the response for its Start.
type response struct {
	io.ReadCloser
	status int
	header http.Header
}

// startOf returns the Start of a connection whose Source returned body:
// with the response's status and header if it is an HTTP connection.
func startOf(attempt int, body io.ReadCloser) Start {
	s := Start{Attempt: attempt}
	if r, ok := body.(*response); ok {
		s.Status, s.Header = r.status, r.header
	}
	return s
}

// decodedBody returns the body of resp as the stream must read it: gzip
// decoded if it is gzip. For an encoding it cannot decode, it returns a
// *ContentEncodingError, and the body as it came.
func decodedBody(resp *http.Response) (io.ReadCloser, error) {
	values := resp.Header.Values("Content-Encoding")
	gzipped, other := 0, false
	for _, v := range values {
		for coding := range strings.SplitSeq(v, ",") {
			switch strings.ToLower(strings.TrimSpace(coding)) {
			case "", "identity":
			case "gzip", "x-gzip":
				gzipped++
			default:
				other = true
			}
		}
	}
	switch {
	case other || gzipped > 1: // gzip twice is legal, but no server does it
		return resp.Body, &ContentEncodingError{Encoding: strings.Join(values, ", ")}
	case gzipped == 1:
		return &gzipBody{body: resp.Body}, nil
	}
	return resp.Body, nil
}

// gzipBody decodes a gzip body as it arrives: a flushed gzip stream yields
// its events before it ends. The decoder is made at the first Read, so that
// Open does not wait for the gzip header, and that wait counts towards the
// read timeout like any other.
type gzipBody struct {
	body io.ReadCloser
	zr   *gzip.Reader
}

func (g *gzipBody) Read(p []byte) (int, error) {
	if g.zr == nil {
		zr, err := gzip.NewReader(g.body)
		if err != nil {
			return 0, err
		}
		g.zr = zr
	}
	return g.zr.Read(p)
}

// Close closes the body only, so that it may end a Read in progress.
func (g *gzipBody) Close() error { return g.body.Close() }

// What a *StatusError or *ContentTypeError keeps of the response's body, and
// how long it waits for it. The wait has a bound of its own: without a read
// timeout, a server trickling its error page would hold the attempt, which
// otherwise ends as soon as the status is known.
const (
	maxErrorBody  = 4 << 10
	errorBodyWait = time.Second
)

// errorBody reads the start of an error response's body, under the
// attempt's ctx and at most errorBodyWait, and closes the body.
func errorBody(ctx context.Context, body io.ReadCloser) []byte {
	ctx, cancel := context.WithTimeout(ctx, errorBodyWait)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { body.Close() }) // ends a Read that waits
	defer stop()
	b, _ := io.ReadAll(io.LimitReader(body, maxErrorBody)) // what came is kept, whatever ended it
	body.Close()
	if len(b) == 0 {
		return nil
	}
	return b
}

// retryAfter reads a Retry-After value (RFC 9110, section 10.2.3) as of now:
// delay-seconds or an HTTP-date. It returns 0 for an empty or malformed
// value and for a date not after now, and the longest Duration for a
// delay longer than that.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if strings.Trim(v, "0123456789") == "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n > math.MaxInt64/uint64(time.Second) {
			return math.MaxInt64 // only too many digits fail here
		}
		return time.Duration(n) * time.Second
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	return max(t.Sub(now), 0) // Sub saturates instead of overflowing
}

// invalidHeaderByte returns the index of the first byte net/http refuses in
// a header value (a control byte other than tab), or -1 if there is none.
func invalidHeaderByte(v string) int {
	return strings.IndexFunc(v, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f })
}

// validToken reports whether s is an HTTP token (RFC 9110, section 5.6.2),
// as a header name and a method must be.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}
