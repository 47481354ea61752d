package sse

// Tests of the error values (errors.go).

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// Error text is for people but is API too: it starts with "sse: ", is lower
// case without a final period, and names the data the error carries.
func TestErrorText(t *testing.T) {
	tests := []struct {
		err      error
		contains string
	}{
		{&StatusError{Code: 503}, "503"},
		{&ContentTypeError{ContentType: "text/html"}, `"text/html"`},
		{&ContentTypeError{}, "no content type"},
		{&TooLargeError{Limit: 4096}, "4096"},
		{&TimeoutError{After: 5 * time.Second}, "5s"},
		{&RedirectError{Limit: 3, URL: "http://x.test/a"}, "http://x.test/a"},
		{&PanicError{Value: "boom"}, "boom"},
		{&DecodeError{Event: Event{Type: "price"}, Err: errRefused}, "price"},
		{ErrClosed, "closed"},
		{ErrInterrupted, "interrupted"},
		{ErrStarted, "started"},
	}
	for _, tt := range tests {
		msg := tt.err.Error()
		if !strings.HasPrefix(msg, "sse: ") || strings.HasSuffix(msg, ".") || !strings.Contains(msg, tt.contains) {
			t.Errorf("%T: got %q; want \"sse: \" text with %q and no final period", tt.err, msg, tt.contains)
		}
	}
	var timeout interface{ Timeout() bool }
	if !errors.As(error(&TimeoutError{}), &timeout) || !timeout.Timeout() {
		t.Error("*TimeoutError does not report Timeout() == true")
	}
}
