package sse

// Redaction: what the library shows of a URL, or of an error that quotes
// one, wherever text leaves it: returned errors, Faults, logs and spans.
// The stream builds one redactor (see NewStream); the HTTP source and the
// stream's fail path use it, and the telemetry shows the URL it made.

import (
	"net/url"
	"slices"
	"strings"

	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
)

// redactedQueryKeys are the query parameters whose values the HTTP semantic
// conventions ask to hide by default.
var redactedQueryKeys = []string{"AWSAccessKeyId", "Signature", "sig", "X-Goog-Signature"}

// redactor hides credentials and sensitive query values (see
// [WithRedactedQuery]) in URLs, and in the errors that quote them. It works
// on the shape of a URL, not on the stream's own secrets, so a secret in a
// redirect's Location is hidden too. It is not changed after NewStream, so
// any goroutine may use it.
type redactor struct {
	keys []string // query keys whose values are hidden, besides redactedQueryKeys
	all  bool     // hide every query value
}

func newRedactor(c *config) redactor {
	return redactor{keys: c.redactQuery, all: c.redactAllQuery}
}

// URL returns s with its user info and sensitive query values replaced by
// REDACTED, and everything else as it was. It works on the text alone, so a
// URL that does not parse (a bad Location, a bad argument to New) loses its
// secrets all the same.
func (r redactor) URL(s string) string {
	rest, frag, hasFrag := strings.Cut(s, "#")
	rest, query, hasQuery := strings.Cut(rest, "?")
	if i := strings.Index(rest, "//"); i >= 0 && schemePrefix(rest[:i]) {
		auth := rest[i+2:]
		if j := strings.IndexByte(auth, '/'); j >= 0 {
			auth = auth[:j]
		}
		if at := strings.LastIndexByte(auth, '@'); at >= 0 {
			user := "REDACTED"
			if strings.Contains(auth[:at], ":") {
				user = "REDACTED:REDACTED"
			}
			rest = rest[:i+2] + user + rest[i+2+at:]
		}
	}
	if hasQuery {
		rest += "?" + r.query(query)
	}
	if hasFrag {
		rest += "#" + frag
	}
	return rest
}

// schemePrefix reports whether s, the text before a "//", is empty or a
// scheme and its colon, so that what follows is an authority.
func schemePrefix(s string) bool {
	name, ok := strings.CutSuffix(s, ":")
	if !ok {
		return s == ""
	}
	return strings.IndexFunc(name, func(c rune) bool { return !isSchemeByte(c) }) < 0
}

func isSchemeByte(c rune) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'
}

// query replaces sensitive values in a raw query, and leaves the rest of it
// exactly as it was.
func (r redactor) query(q string) string {
	parts := strings.Split(q, "&")
	for i, p := range parts {
		rawKey, _, hasValue := strings.Cut(p, "=")
		key := rawKey
		if k, err := url.QueryUnescape(rawKey); err == nil {
			key = k
		}
		if hasValue && (r.all || slices.Contains(redactedQueryKeys, key) || slices.Contains(r.keys, key)) {
			parts[i] = rawKey + "=REDACTED"
		}
	}
	return strings.Join(parts, "&")
}

// text redacts every URL in s: each "scheme://" and what follows it up to
// a space or a quote.
func (r redactor) text(s string) string {
	var b strings.Builder
	rest := s
	for {
		i := strings.Index(rest, "://")
		if i < 0 {
			break
		}
		start := i
		for start > 0 && isSchemeByte(rune(rest[start-1])) {
			start--
		}
		end := len(rest)
		if j := strings.IndexAny(rest[i+3:], " \t\r\n\"'`<>"); j >= 0 {
			end = i + 3 + j
		}
		b.WriteString(rest[:start])
		b.WriteString(r.URL(rest[start:end]))
		rest = rest[end:]
	}
	if b.Len() == 0 {
		return s
	}
	b.WriteString(rest)
	return b.String()
}

// Error returns err with its text redacted. The library's URL-bearing
// errors come back as redacted copies of the same type (a *url.Error, with
// its Err redacted in turn; a *[RedirectError]), so errors.As finds them; any
// other error whose text quotes a URL comes back wrapped, with redacted
// text and the original behind Unwrap. An error with nothing to hide is
// returned as it is.
func (r redactor) Error(err error) error {
	switch e := err.(type) {
	case nil:
		return nil
	case *url.Error:
		u, inner := r.URL(e.URL), r.Error(e.Err)
		if u == e.URL && inner == e.Err {
			return err
		}
		c := *e
		c.URL, c.Err = u, inner
		return &c
	case *RedirectError:
		if u := r.URL(e.URL); u != e.URL {
			c := *e
			c.URL = u
			return &c
		}
		return err
	}
	if text := err.Error(); strings.Contains(text, "://") {
		if hidden := r.text(text); hidden != text {
			return &redactedError{text: hidden, err: err}
		}
	}
	return err
}

// redactedError shows the redacted text of an error; errors.Is, errors.As
// and error.type see the original.
type redactedError struct {
	text string
	err  error
}

func (e *redactedError) Error() string { return e.text }

func (e *redactedError) Unwrap() error { return e.err }

// ErrorType names the original error for semconv.ErrorType, so that the
// error.type of a span does not change with redaction.
func (e *redactedError) ErrorType() string { return semconv.ErrorType(e.err).Value.AsString() }
