package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"unicode/utf8"

	"github.com/ssekit/sse"
)

// describe turns a connection failure into one short line for people,
// without the "sse: " prefix and the request line that net/http adds. A
// nil error is the server ending the stream.
func describe(err error) string {
	var (
		statusErr  *sse.StatusError
		ctErr      *sse.ContentTypeError
		timeoutErr *sse.TimeoutError
		dnsErr     *net.DNSError
		opErr      *net.OpError
		verifyErr  *tls.CertificateVerificationError
		resetErr   h2StreamError
		headErr    textproto.ProtocolError
	)
	switch {
	case err == nil:
		return "stream ended by the server"
	case errors.As(err, &statusErr):
		if text := http.StatusText(statusErr.Code); text != "" {
			return fmt.Sprintf("server answered %d %s", statusErr.Code, text) + withBody(statusErr.Body)
		}
		return fmt.Sprintf("server answered status %d", statusErr.Code) + withBody(statusErr.Body)
	case errors.As(err, &ctErr):
		if ctErr.ContentType == "" {
			return "server sent no content type, want text/event-stream" + withBody(ctErr.Body)
		}
		return fmt.Sprintf("server sent content type %q, want text/event-stream", ctErr.ContentType) + withBody(ctErr.Body)
	case errors.As(err, &timeoutErr):
		return fmt.Sprintf("no data received for %v (read timeout)", timeoutErr.After)
	case errors.Is(err, syscall.ECONNREFUSED):
		if errors.As(err, &opErr) && opErr.Addr != nil {
			return fmt.Sprintf("cannot connect to %s: connection refused", opErr.Addr)
		}
		return "cannot connect: connection refused"
	case errors.As(err, &verifyErr):
		return fmt.Sprintf("cannot verify the server's certificate: %v (--cacert FILE trusts its CA, -k skips the check)", verifyErr.Err)
	case errors.As(err, &opErr) && opErr.Op == "remote error":
		// crypto/tls reports an alert from the server as this Op.
		return fmt.Sprintf("the server refused the TLS connection: %v", opErr.Err)
	case errors.As(err, &dnsErr):
		return fmt.Sprintf("cannot resolve host %q: %s", dnsErr.Name, dnsErr.Err)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "connection lost (unexpected EOF)"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection lost (reset by peer)"
	case errors.Is(err, sse.ErrInterrupted):
		return "connection interrupted"
	case errors.As(err, &resetErr):
		return fmt.Sprintf("connection lost (HTTP/2 stream reset, %s)", resetErr.codeName())
	case errors.As(err, &headErr):
		// net/http reads the response head with net/textproto, which cannot
		// tell a connection cut inside a header line from a malformed one.
		return "response head cut off or malformed (" + headProblem(headErr) + ")"
	}
	// Drop the `Get "http://...": ` of a *url.Error: the user gave the URL.
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		err = urlErr.Err
	}
	return strings.TrimPrefix(err.Error(), "sse: ")
}

// maxExcerpt is how many characters of a refused response's body a
// failure's line shows; an escaped control character counts as four.
const maxExcerpt = 200

// withBody returns what a failure's line adds for the start of the body of
// a refused response, which often says why: ": " and the body on one line
// (its runs of white space, line breaks included, become one space),
// escaped for a terminal and cut at maxExcerpt characters. It returns ""
// for a body of white space or none.
func withBody(body []byte) string {
	var b strings.Builder
	width := 0
	for piece := range safePieces(strings.Join(strings.Fields(string(body)), " ")) {
		if width == 0 {
			b.WriteString(": ")
		}
		width += utf8.RuneCountInString(piece)
		if width > maxExcerpt {
			b.WriteString("...")
			break
		}
		b.WriteString(piece)
	}
	return b.String()
}

// h2StreamError receives an HTTP/2 stream error (RST_STREAM) by errors.As:
// net/http's own type is unexported, but its As method fills any struct
// with these fields, as it does golang.org/x/net/http2.StreamError.
type h2StreamError struct {
	StreamID uint32
	Code     uint32
	Cause    error
}

func (e h2StreamError) Error() string { return "stream error: " + e.codeName() }

// h2Codes names the HTTP/2 error codes (RFC 9113, section 7).
var h2Codes = []string{"NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR",
	"SETTINGS_TIMEOUT", "STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL",
	"COMPRESSION_ERROR", "CONNECT_ERROR", "ENHANCE_YOUR_CALM", "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED"}

func (e h2StreamError) codeName() string {
	if int(e.Code) < len(h2Codes) {
		return h2Codes[e.Code]
	}
	return fmt.Sprintf("error code 0x%x", e.Code)
}

// headProblem words what net/textproto found wrong in a response head.
// Its text is all the error has; a header line the server sent is quoted
// short and escaped.
func headProblem(e textproto.ProtocolError) string {
	quoted, ok := strings.CutPrefix(string(e), "malformed MIME header: missing colon: ")
	if line, err := strconv.Unquote(quoted); ok && err == nil {
		const most = 40
		if len(line) > most {
			line = strings.ToValidUTF8(line[:most], "") + "..."
		}
		return fmt.Sprintf("header line %q has no colon", line)
	}
	return string(e)
}
