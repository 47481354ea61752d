package main

// This file holds what -i shows of each connection's response: its status
// line and header, and the start of the body of a response that refused
// the stream. The library reports them with its actions (an sse.Start, an
// *sse.StatusError, an *sse.ContentTypeError); a transport notes what they
// leave out, such as the protocol. The printers lay them out.

import (
	"errors"
	"net/http"
	"strconv"
	"sync"

	"github.com/ssekit/sse"
)

// response is one response as -i shows it.
type response struct {
	proto  string      // such as "HTTP/1.1" or "HTTP/2.0"
	status int         // the status code
	header http.Header // as received, names in canonical form
	body   []byte      // the start of a refused response's body, as the library kept it; nil otherwise
}

// statusLine returns the first line of the response, as curl -i prints it.
// The reason phrase is the standard one for the code: net/http does not
// keep an HTTP/1.1 server's own, and HTTP/2 has none.
func (r response) statusLine() string {
	line := r.proto + " " + strconv.Itoa(r.status)
	if text := http.StatusText(r.status); text != "" {
		line += " " + text
	}
	return line
}

// headRecorder is the transport of -i. It notes the protocol, status and
// header of the last response, which is the one the library goes on to
// report (net/http follows redirects first): an *sse.ContentTypeError
// carries no status, an *sse.ContentEncodingError no header, and nothing
// carries the protocol. A nil *headRecorder (no -i) reports no response.
type headRecorder struct {
	base http.RoundTripper

	mu   sync.Mutex // RoundTrip may run on a goroutine of its own
	last response
}

func (h *headRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := h.base.RoundTrip(req)
	if err == nil {
		h.mu.Lock()
		h.last = response{proto: resp.Proto, status: resp.StatusCode, header: resp.Header}
		h.mu.Unlock()
	}
	return resp, err
}

// response returns the response that a reports: the one a connection
// started with, or one that refused the stream. ok is false for any other
// action, and without -i.
func (h *headRecorder) response(a sse.Action) (r response, ok bool) {
	if h == nil {
		return response{}, false
	}
	h.mu.Lock()
	r = h.last
	h.mu.Unlock()
	var (
		statusErr *sse.StatusError
		ctErr     *sse.ContentTypeError
		encErr    *sse.ContentEncodingError
	)
	switch a := a.(type) {
	case sse.Start:
		r.status, r.header = a.Status, a.Header
		return r, a.Status != 0 // 0: no HTTP response
	case sse.Fault:
		switch {
		case errors.As(a.Err, &statusErr):
			r.status, r.header, r.body = statusErr.Code, statusErr.Header, statusErr.Body
			return r, true
		case errors.As(a.Err, &ctErr):
			r.header, r.body = ctErr.Header, ctErr.Body
			return r, true
		case errors.As(a.Err, &encErr):
			return r, true
		}
	}
	return response{}, false
}
