package sse

// Tests of the configuration (options.go): defaults, and the options and
// URLs that New and NewStream refuse.

import (
	"errors"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// The defaults the option docs promise, from the one place that sets them.
func TestConfigDefaults(t *testing.T) {
	c := newConfig(nil)
	checks := []struct {
		name      string
		got, want any
	}{
		{"HTTP client", c.client, http.DefaultClient},
		{"method", c.method, http.MethodGet},
		{"max redirects", c.maxRedirects, 10},
		{"max event size", c.maxEventSize, 16 << 20},
		{"read timeout", c.readTimeout, time.Duration(0)},
		{"initial delay", c.initialDelay, time.Second},
		{"max delay", c.maxDelay, 30 * time.Second},
		{"jitter", c.jitter, 0.5},
		{"reset after", c.resetAfter, time.Minute},
		{"last event ID", c.lastEventID, ""},
		{"error strategy retries a refused connection", c.errorStrategy(errRefused, 1000, time.Hour), true},
		{"error strategy retries an orderly end", c.errorStrategy(nil, 1000, time.Hour), true},
		{"error strategy stops at a 500", c.errorStrategy(&StatusError{Code: 500}, 1, 0), false},
		{"error strategy stops at a wrong content type", c.errorStrategy(&ContentTypeError{}, 1, 0), false},
		{"no user backoff", c.backoff, backoff.BackOff(nil)},
		{"multiplier", c.multiplier, 2.0},
		{"min delay", c.minDelay, DefaultMinDelay},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("default %s: got %v; want %v", ch.name, ch.got, ch.want)
		}
	}
}

// Options out of their range are refused when the Dispatcher or Stream is
// built, with a Source as without one.
func TestOptionsRejected(t *testing.T) {
	tests := []struct {
		name string
		opt  Option
	}{
		{"jitter below 0", WithJitter(-0.1)},
		{"jitter above 1", WithJitter(1.5)},
		{"negative initial delay", WithInitialDelay(-time.Second)},
		{"negative max delay", WithMaxDelay(-time.Second)},
		{"negative read timeout", WithReadTimeout(-time.Second)},
		{"negative reset threshold", WithResetAfter(-time.Second)},
		{"zero max event size", WithMaxEventSize(0)},
		{"multiplier below 1", WithMultiplier(0.5)},
		{"multiplier NaN", WithMultiplier(nan())},
		{"negative floor", WithMinDelay(-time.Second)},
	}
	for _, tt := range tests {
		if d, err := New("http://127.0.0.1/", tt.opt); err == nil {
			d.Close()
			t.Errorf("New with %s: got no error; want one", tt.name)
		}
		s, err := NewStream("mem://x", WithSource(script(scriptStep{})), tt.opt)
		if err == nil {
			s.Close()
			t.Errorf("NewStream with a Source and %s: got no error; want one", tt.name)
			continue
		}
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Setting == "" {
			t.Errorf("NewStream with %s: got %v; want a *ConfigError naming the option", tt.name, err)
		}
	}
}

func nan() float64 { var zero float64; return zero / zero }

func TestNewRejects(t *testing.T) {
	tests := []struct {
		name string
		url  string
		opts []Option
	}{
		{"client with Timeout", "http://127.0.0.1/", []Option{WithHTTPClient(&http.Client{Timeout: time.Second})}},
		{"ftp URL", "ftp://127.0.0.1/", nil},
		{"no scheme", "127.0.0.1/stream", nil},
		{"bad URL", "http://[::1", nil},
	}
	for _, tt := range tests {
		if d, err := New(tt.url, tt.opts...); err == nil {
			d.Close()
			t.Errorf("New(%q) with %s: got no error; want one", tt.url, tt.name)
		} else if !strings.HasPrefix(err.Error(), "sse: ") {
			t.Errorf("New(%q) with %s: error %q does not start with \"sse: \"", tt.url, tt.name, err)
		}
	}
	if d, err := New("", WithErrorStrategy(AlwaysFail()), WithSource(script(scriptStep{}))); err != nil {
		t.Errorf("New with a Source and no URL: %v", err)
	} else {
		d.Close()
	}
}

// What net/http would refuse on every attempt is refused by New, with a
// *ConfigError whose text shows no credential and no header value.
func TestNewRejectsUnsendable(t *testing.T) {
	tests := []struct {
		name    string
		url     string
		opts    []Option
		setting string
	}{
		{"no host", "http:///stream", nil, "URL"},
		{"no host, opaque", "http:stream", nil, "URL"},
		{"only a port", "http://:8080/", nil, "URL"},
		{"no host, with user info", "https://s3cret@/", nil, "URL"},
		{"bad URL with user info", "http://u:s3cret@[::1", nil, "URL"},
		{"ftp with user info", "ftp://u:s3cret@h/", nil, "URL"},
		{"method with a space", "http://h/", []Option{WithMethod("GET /")}, "WithMethod"},
		{"method with a newline", "http://h/", []Option{WithMethod("G\nET")}, "WithMethod"},
		{"empty header name", "http://h/", []Option{WithHeader("", "s3cret")}, "WithHeader"},
		{"header line as a name", "http://h/", []Option{WithHeader("Authorization: Bearer s3cret", "")}, "WithHeader"},
		{"header name with a colon", "http://h/", []Option{WithHeader("X:Y", "s3cret")}, "WithHeader"},
		{"header value with CR LF", "http://h/", []Option{WithHeader("X-Token", "s3cret\r\nX-Injected: 1")}, "WithHeader"},
		{"header value with 0x01", "http://h/", []Option{WithHeader("Authorization", "Bearer s3cret\x01")}, "WithHeader"},
		{"header value with DEL", "http://h/", []Option{WithHeader("X-Token", "s3cret\x7f")}, "WithHeader"},
		{"header value with NUL", "http://h/", []Option{WithHeader("X-Token", "s3cret\x00")}, "WithHeader"},
		{"last event ID with 0x01", "http://h/", []Option{WithLastEventID("s3cret\x01")}, "WithLastEventID"},
		{"last event ID with ESC", "http://h/", []Option{WithLastEventID("\x1bs3cret")}, "WithLastEventID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, newFunc := range []func() (io.Closer, error){
				func() (io.Closer, error) { return New(tt.url, tt.opts...) },
				func() (io.Closer, error) { return NewStream(tt.url, tt.opts...) },
			} {
				c, err := newFunc()
				var ce *ConfigError
				switch {
				case err == nil:
					c.Close()
					t.Fatal("got no error; want a *ConfigError")
				case !errors.As(err, &ce) || ce.Setting != tt.setting:
					t.Errorf("got %v; want a *ConfigError for %s", err, tt.setting)
				case strings.Contains(err.Error(), "s3cret"):
					t.Errorf("error %q shows a secret", err)
				case !strings.HasPrefix(err.Error(), "sse: "+tt.setting+": "):
					t.Errorf("error %q; want it to start with \"sse: %s: \"", err, tt.setting)
				}
			}
		})
	}
	accepted := [][]Option{
		{WithHeader("X-Tab", "a\tb"), WithHeader("X-Text", "caf\u00e9 \xff"), WithMethod("REPORT")},
		{WithLastEventID("caf\u00e9\t7")},
		{WithSource(script(scriptStep{})), WithLastEventID("a\x01b")}, // not sent over HTTP: its Source's business
	}
	for _, opts := range accepted {
		if d, err := New("http://h/", opts...); err != nil {
			t.Errorf("New: %v; want no error", err)
		} else {
			d.Close()
		}
	}
}

// Every numeric option at 0, 1, its largest value and a negative value is
// either refused by NewStream with an error, or accepted and then works: the
// stream connects, fails, and computes a usable delay without panicking.
func TestNumericOptionExtremes(t *testing.T) {
	const maxDur = time.Duration(math.MaxInt64)
	durations := []time.Duration{0, 1, maxDur, -1}
	type option struct {
		name   string
		make   func(v float64) Option
		values []float64
		refuse func(v float64) bool // the values NewStream must refuse
	}
	dur := func(f func(time.Duration) Option) func(float64) Option {
		return func(v float64) Option {
			if v >= float64(maxDur) {
				return f(maxDur) // the float rounds up past it
			}
			return f(time.Duration(v))
		}
	}
	var durVals []float64
	for _, d := range durations {
		durVals = append(durVals, float64(d))
	}
	negative := func(v float64) bool { return v < 0 }
	options := []option{
		{"WithInitialDelay", dur(WithInitialDelay), durVals, negative},
		{"WithMaxDelay", dur(WithMaxDelay), durVals, negative},
		{"WithMinDelay", dur(WithMinDelay), durVals, negative},
		{"WithResetAfter", dur(WithResetAfter), durVals, negative},
		{"WithReadTimeout", dur(WithReadTimeout), durVals, negative},
		{"WithMaxRedirects", func(v float64) Option { return WithMaxRedirects(toInt(v)) },
			[]float64{0, 1, math.MaxInt, -1}, func(float64) bool { return false }}, // negative means none
		{"WithMaxEventSize", func(v float64) Option { return WithMaxEventSize(toInt(v)) },
			[]float64{0, 1, math.MaxInt, -1}, func(v float64) bool { return v < 1 }},
		{"WithJitter", func(v float64) Option { return WithJitter(v) },
			[]float64{0, 1, math.MaxFloat64, -1}, func(v float64) bool { return v < 0 || v > 1 }},
		{"WithMultiplier", func(v float64) Option { return WithMultiplier(v) },
			[]float64{0, 1, math.MaxFloat64, -1}, func(v float64) bool { return v < 1 }},
	}
	for _, o := range options {
		for _, v := range o.values {
			synctest.Test(t, func(t *testing.T) {
				src := script(scriptStep{body: "data: x\n\n"}, scriptStep{err: errRefused})
				s, err := NewStream("mem://x", WithSource(src), WithErrorStrategy(AlwaysContinue()), o.make(v))
				if o.refuse(v) {
					if err == nil {
						s.Close()
						t.Errorf("%s(%v): accepted; want an error from NewStream", o.name, v)
					}
					return
				}
				if err != nil {
					t.Fatalf("%s(%v): %v; want it accepted", o.name, v, err)
				}
				defer s.Close()
				var events int
				var delays []time.Duration
				for a := range s.All(t.Context()) {
					switch a := a.(type) {
					case Event:
						events++
					case Fault:
						delays = append(delays, a.RetryDelay)
					}
					if len(delays) == 2 {
						break
					}
				}
				tooSmall := o.name == "WithMaxEventSize" && v == 1 // the line itself is over it
				if events != 1 && !tooSmall {
					t.Errorf("%s(%v): %d events; want the one sent", o.name, v, events)
				}
				for _, d := range delays {
					if d < 0 {
						t.Errorf("%s(%v): delays %v; want none negative", o.name, v, delays)
					}
				}
			})
		}
	}
}

// toInt converts v, which may be math.MaxInt rounded up as a float.
func toInt(v float64) int {
	if v >= math.MaxInt {
		return math.MaxInt
	}
	return int(v)
}
