package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"

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
	)
	switch {
	case err == nil:
		return "stream ended by the server"
	case errors.As(err, &statusErr):
		if text := http.StatusText(statusErr.Code); text != "" {
			return fmt.Sprintf("server answered %d %s", statusErr.Code, text)
		}
		return fmt.Sprintf("server answered status %d", statusErr.Code)
	case errors.As(err, &ctErr):
		if ctErr.ContentType == "" {
			return "server sent no content type, want text/event-stream"
		}
		return fmt.Sprintf("server sent content type %q, want text/event-stream", ctErr.ContentType)
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
	}
	// Drop the `Get "http://...": ` of a *url.Error: the user gave the URL.
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		err = urlErr.Err
	}
	return strings.TrimPrefix(err.Error(), "sse: ")
}
