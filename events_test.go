package sse

import (
	"context"
	"io"
	"math"
	"slices"
	"strings"
	"testing"
)

// bodySource serves body, read whole, on every connection.
func bodySource(body string) Option {
	return WithSource(SourceFunc(func(context.Context, string) (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader(body)), nil
	}))
}

// longLines is a stream whose lines outgrow the parser's first buffer in
// both ways it grows: a data line (moved into the event's data as it
// arrives) and a comment (the buffer itself grows).
var longLines = "data: a\n\ndata: " + strings.Repeat("d", 5000) + "\n\n:" + strings.Repeat("c", 5000) + "\ndata: b\n\n"

// TestMaxEventSizeValues checks every kind of value WithMaxEventSize may
// be given: below 1 it is refused by NewStream and New; 1 works (every data
// line is then too large); math.MaxInt works, as no limit at all.
func TestMaxEventSizeValues(t *testing.T) {
	for _, n := range []int{0, -1, math.MinInt} {
		if _, err := NewStream("", bodySource(""), WithMaxEventSize(n)); err == nil || !strings.Contains(err.Error(), "WithMaxEventSize") {
			t.Errorf("NewStream with WithMaxEventSize(%d): error %v; want one naming WithMaxEventSize", n, err)
		}
		if _, err := New("", bodySource(""), WithMaxEventSize(n)); err == nil {
			t.Errorf("New with WithMaxEventSize(%d): no error; want one", n)
		}
	}
	tests := []struct {
		max  int
		want []string
	}{
		{1, []string{"start 1", faultOf(&TooLargeError{Limit: 1}, true, 0)}},
		{math.MaxInt, []string{"start 1",
			describe(Event{Type: "message", Data: "a"}),
			describe(Event{Type: "message", Data: strings.Repeat("d", 5000)}),
			describe(Comment{Text: strings.Repeat("c", 5000)}),
			describe(Event{Type: "message", Data: "b"}),
			faultOf(nil, true, 0)}},
	}
	for _, tt := range tests {
		s, err := NewStream("", bodySource(longLines), WithMaxEventSize(tt.max))
		if err != nil {
			t.Fatalf("WithMaxEventSize(%d): %v", tt.max, err)
		}
		if got := pull(context.Background(), s, 10); !slices.Equal(got, tt.want) {
			t.Errorf("WithMaxEventSize(%d):\ngot  %.300q\nwant %.300q", tt.max, got, tt.want)
		}
		s.Close()
	}
}
