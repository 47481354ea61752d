package sse

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
)

func TestRedactorURL(t *testing.T) {
	r := newRedactor(newConfig([]Option{WithRedactedQuery("token")}))
	tests := []struct{ in, want string }{
		{"", ""},
		{"http://h/p?a=1", "http://h/p?a=1"},
		{"http://u:p@h/p", "http://REDACTED:REDACTED@h/p"},
		{"https://u@h:8443/p?a=1", "https://REDACTED@h:8443/p?a=1"},
		{"http://u:p@h/?token=t&a=1&sig=s#frag", "http://REDACTED:REDACTED@h/?token=REDACTED&a=1&sig=REDACTED#frag"},
		{"http://u:p:q@x@h/", "http://REDACTED:REDACTED@h/"},
		{"http://u:p@[::1", "http://REDACTED:REDACTED@[::1"}, // does not parse
		{"http://u:p@h/%zz?token=%zz", "http://REDACTED:REDACTED@h/%zz?token=REDACTED"},
		{"//u:p@h/x", "//REDACTED:REDACTED@h/x"},          // a Location may leave out the scheme
		{"/loop?token=t&n=3", "/loop?token=REDACTED&n=3"}, // or be a path
		{"/a//b@c", "/a//b@c"}, // an @ in a path is no user info
		{"http://h/p@q", "http://h/p@q"},
		{"mailto:someone@h", "mailto:someone@h"},
	}
	for _, tt := range tests {
		if got := r.URL(tt.in); got != tt.want {
			t.Errorf("URL(%q): got %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestRedactorError(t *testing.T) {
	r := newRedactor(newConfig([]Option{WithRedactedQuery("token")}))
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	loop := &RedirectError{Limit: 2, URL: "http://u:p@h/loop?token=t"}
	plain := errors.New("sse: plain")
	tests := []struct {
		name     string
		err      error
		want     string // the redacted text
		sameType bool   // a copy of the same type, not a wrapper
	}{
		{"url.Error", &url.Error{Op: "Get", URL: "http://u:***@h/?token=t", Err: dial},
			`Get "http://REDACTED:REDACTED@h/?token=REDACTED": dial tcp: connection refused`, true},
		{"RedirectError in url.Error", &url.Error{Op: "Get", URL: "/loop?token=t", Err: loop},
			`Get "/loop?token=REDACTED": sse: more than 2 redirects (last to http://REDACTED:REDACTED@h/loop?token=REDACTED)`, true},
		{"RedirectError", loop, "sse: more than 2 redirects (last to http://REDACTED:REDACTED@h/loop?token=REDACTED)", true},
		{"wrapped url.Error", fmt.Errorf("connecting: %w", &url.Error{Op: "Get", URL: "https://u@h/?token=t", Err: dial}),
			`connecting: Get "https://REDACTED@h/?token=REDACTED": dial tcp: connection refused`, false},
		{"URL in text", fmt.Errorf(`hook: refusing 'HTTP://u:p@h/x?token=t'; try later`),
			`hook: refusing 'HTTP://REDACTED:REDACTED@h/x?token=REDACTED'; try later`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := r.Error(tt.err)
			if got.Error() != tt.want {
				t.Errorf("text: got %q; want %q", got.Error(), tt.want)
			}
			if tt.sameType && fmt.Sprintf("%T", got) != fmt.Sprintf("%T", tt.err) {
				t.Errorf("type: got %T; want %T", got, tt.err)
			}
			if errors.Is(tt.err, dial) && !errors.Is(got, dial) {
				t.Errorf("errors.Is no longer finds the cause in %v", got)
			}
			var ue *url.Error
			if errors.As(tt.err, &ue) && !errors.As(got, &ue) {
				t.Errorf("errors.As no longer finds the *url.Error in %v", got)
			}
			var re *RedirectError
			if errors.As(tt.err, &re) && (!errors.As(got, &re) || !strings.Contains(re.URL, "REDACTED")) {
				t.Errorf("errors.As: got %+v; want a redacted *RedirectError", re)
			}
			if want := semconv.ErrorType(tt.err); semconv.ErrorType(got) != want {
				t.Errorf("error.type: got %v; want %v, as before redaction", semconv.ErrorType(got).Value.String(), want.Value.String())
			}
		})
	}
	// Errors with nothing to hide come back as they are.
	for _, err := range []error{nil, plain, dial, &url.Error{Op: "Get", URL: "http://h/", Err: plain}} {
		if got := r.Error(err); got != err {
			t.Errorf("Error(%v): got %v, a new error; want the same one", err, got)
		}
	}
}

// Secrets of a stream's URL, and of the URLs a server redirects it to.
const (
	secretUser  = "alice-s3cret-user"
	secretPass  = "hunter2-s3cret"
	secretToken = "tok-s3cret-value"
	secretLoc   = "loc-s3cret-value" // only in a Location the server sends
	secretLocPw = "loc-s3cret-pw"
)

// No credential and no hidden query value reaches an error, a log entry or
// a span, whether it came in the stream's URL or in a server's redirect;
// the errors keep their types.
func TestSecretsNeverLeave(t *testing.T) {
	refused := refusedAddr(t)
	loops := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/loop":
			http.Redirect(w, r, "/loop?token="+secretLoc+"&n=1", http.StatusFound)
		case "/away":
			http.Redirect(w, r, "http://bob:"+secretLocPw+"@"+refused+"/x?token="+secretLoc, http.StatusFound)
		}
	}))
	defer loops.Close()
	user := secretUser + ":" + secretPass + "@"
	query := "?a=1&token=" + secretToken
	tests := []struct {
		name     string
		url      string
		redirect bool // a *RedirectError is expected
	}{
		{"refused connection", "http://" + user + refused + "/s" + query, false},
		{"redirect loop", "http://" + user + loops.Listener.Addr().String() + "/loop" + query, true},
		{"redirect to a refused port", "http://" + user + loops.Listener.Addr().String() + "/away" + query, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spans := tracetest.NewSpanRecorder()
			logger, hook := logtest.NewNullLogger()
			logger.SetLevel(logrus.DebugLevel)
			opts := []Option{WithErrorStrategy(AlwaysFail()),
				WithHTTPClient(loops.Client()), WithMaxRedirects(2), WithRedactedQuery("token"), WithLogger(logger),
				WithTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))),
			}
			var errs []error
			d, err := New(tt.url, opts...)
			if err != nil {
				t.Fatal(err)
			}
			d.OnFault(func(_ context.Context, f Fault) { errs = append(errs, f.Err) })
			errs = append(errs, d.Run(t.Context()), d.Wait())
			s, err := NewStream(tt.url, opts...)
			if err != nil {
				t.Fatal(err)
			}
			for _, err := range s.Events(t.Context()) {
				errs = append(errs, err)
			}
			s.Close()

			var texts []string
			for i, err := range errs {
				var ue *url.Error
				var re *RedirectError
				switch {
				case err == nil:
					t.Fatalf("error %d is nil; want the connection's failure", i)
				case !errors.As(err, &ue):
					t.Errorf("error %d: %v is no *url.Error for errors.As", i, err)
				case tt.redirect && !errors.As(err, &re):
					t.Errorf("error %d: %v is no *RedirectError for errors.As", i, err)
				}
				texts = append(texts, fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", ue), fmt.Sprintf("%#v", re))
				for e := err; e != nil; e = errors.Unwrap(e) {
					texts = append(texts, e.Error())
				}
			}
			if len(spans.Ended()) != 2 {
				t.Errorf("got %d spans; want 2, one per stream", len(spans.Ended()))
			}
			for _, s := range spans.Ended() {
				texts = append(texts, s.Status().Description)
				for _, a := range s.Attributes() {
					texts = append(texts, a.Value.String())
				}
				for _, ev := range s.Events() {
					texts = append(texts, ev.Name)
					for _, a := range ev.Attributes {
						texts = append(texts, a.Value.String())
					}
				}
			}
			for _, e := range hook.AllEntries() {
				line, _ := e.String()
				texts = append(texts, line)
			}
			for _, text := range texts {
				for _, secret := range []string{secretUser, secretPass, secretToken, secretLoc, secretLocPw} {
					if strings.Contains(text, secret) {
						t.Errorf("%q shows a secret", text)
					}
				}
			}
			if !strings.Contains(strings.Join(texts, "\n"), "REDACTED") {
				t.Error("no text says REDACTED; the test sees none of the URLs")
			}
		})
	}
}
