package sse

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func TestDecoder(t *testing.T) {
	const in = "\xEF\xBB\xBF: hi\r\nretry: 250\r\nevent: put\r\ndata: a\r\ndata: b\r\nid: 7\r\n\r\ndata: c\n\nid: 8\n\ndata: \xff\n\nid: 9\ndata: cut off"
	type event struct{ typ, data, id, last string }
	want := []event{
		{"put", "a\nb", "7", "7"},
		{"message", "c", "", "7"},
		{"message", "\uFFFD", "", "8"},
	}
	for n := 1; n <= len(in); n++ {
		d := NewDecoder(readsEvery(in, n))
		var got []event
		for d.Next() {
			got = append(got, event{string(d.Type()), string(d.Data()), string(d.ID()), string(d.LastEventID())})
		}
		if err := d.Err(); err != nil {
			t.Fatalf("reads of %d bytes: Err() = %v; want nil at the end of the input", n, err)
		}
		if len(got) != len(want) {
			t.Fatalf("reads of %d bytes: got %q; want %q", n, got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("reads of %d bytes, event %d: got %q; want %q", n, i, got[i], want[i])
			}
		}
		if d.Retry() != 250*time.Millisecond {
			t.Errorf("reads of %d bytes: Retry() = %v; want 250ms", n, d.Retry())
		}
	}
}

func TestDecoderLimitAndReadError(t *testing.T) {
	d := NewDecoder(strings.NewReader("data: " + strings.Repeat("x", 100) + "\n\n"))
	d.SetMaxEventSize(64)
	var tooLarge *TooLargeError
	if d.Next() || !errors.As(d.Err(), &tooLarge) || tooLarge.Limit != 64 {
		t.Fatalf("100-byte line, limit 64: Err() = %v; want *TooLargeError{Limit: 64}", d.Err())
	}
	if d.Next() {
		t.Fatal("Next after an error returned true")
	}

	d = NewDecoder(iotest.TimeoutReader(strings.NewReader("data: a\n\ndata: b\n\n")))
	if !d.Next() || string(d.Data()) != "a" {
		t.Fatalf("first event: got %q, Err %v; want \"a\"", d.Data(), d.Err())
	}
	for d.Next() {
	}
	if !errors.Is(d.Err(), iotest.ErrTimeout) {
		t.Fatalf("Err() = %v; want the reader's error %v", d.Err(), iotest.ErrTimeout)
	}
}

// Decoder.SetMaxEventSize bounds every line, not only data: a long event
// type or comment under a small limit is a *TooLargeError too.
func TestDecoderLimitBoundsEveryLine(t *testing.T) {
	for _, in := range []string{
		"event: " + strings.Repeat("x", 100) + "\ndata: a\n\n",
		":" + strings.Repeat("x", 100) + "\ndata: a\n\n",
		"id: " + strings.Repeat("7", 100) + "\ndata: a\n\n",
	} {
		d := NewDecoder(strings.NewReader(in))
		d.SetMaxEventSize(64)
		var tl *TooLargeError
		if d.Next() || !errors.As(d.Err(), &tl) || tl.Limit != 64 {
			t.Errorf("input %.20q... with limit 64: got event %v, error %v; want a *TooLargeError{Limit: 64}", in, d.Err() == nil, d.Err())
		}
	}
}

// TestDecoderMaxEventSizeValues checks every kind of value
// SetMaxEventSize may be given: below 1 ends decoding at once with an error
// that names it; 1 works (every data line is then too large); math.MaxInt
// works, as no limit at all.
func TestDecoderMaxEventSizeValues(t *testing.T) {
	for _, n := range []int{0, -1, math.MinInt} {
		d := NewDecoder(strings.NewReader(longLines))
		d.SetMaxEventSize(n)
		var ce *ConfigError
		if d.Next() || !errors.As(d.Err(), &ce) || ce.Setting != "SetMaxEventSize" {
			t.Errorf("SetMaxEventSize(%d): Next and Err gave %v; want a *ConfigError naming SetMaxEventSize", n, d.Err())
		}
	}
	d := NewDecoder(strings.NewReader(longLines))
	d.SetMaxEventSize(1)
	if d.Next() || !errorsAsTooLarge(d.Err(), 1) {
		t.Errorf("SetMaxEventSize(1): Err() = %v; want *TooLargeError{Limit: 1}", d.Err())
	}
	d = NewDecoder(strings.NewReader(longLines))
	d.SetMaxEventSize(math.MaxInt)
	var got []string
	for d.Next() {
		got = append(got, string(d.Data()))
	}
	if want := []string{"a", strings.Repeat("d", 5000), "b"}; d.Err() != nil || !slices.Equal(got, want) {
		t.Errorf("SetMaxEventSize(math.MaxInt): got %.100q, Err %v; want %.100q", got, d.Err(), want)
	}
}

// errorsAsTooLarge reports whether err is a *TooLargeError with the limit.
func errorsAsTooLarge(err error, limit int) bool {
	var tl *TooLargeError
	return errors.As(err, &tl) && tl.Limit == limit
}

// TestDecoderAbsentAndEmpty checks that HasID and HasRetry tell a field
// that was absent from one that was empty or zero, at every read size: an
// empty id field is a non-nil empty ID, and retry: 0 is a retry.
func TestDecoderAbsentAndEmpty(t *testing.T) {
	const in = "data: a\n\nretry: 0\nid\ndata: b\n\nid: 7\ndata: c\n\n"
	type event struct {
		data        string
		id          []byte
		hasID       bool
		retry       time.Duration
		hasRetry    bool
		lastEventID string
	}
	want := []event{
		{"a", nil, false, 0, false, ""},
		{"b", []byte{}, true, 0, true, ""},
		{"c", []byte("7"), true, 0, true, "7"},
	}
	for n := 1; n <= len(in); n++ {
		d := NewDecoder(readsEvery(in, n))
		if d.HasRetry() || d.Retry() != 0 {
			t.Fatalf("a new Decoder: HasRetry() = %v, Retry() = %v; want false, 0", d.HasRetry(), d.Retry())
		}
		var got []event
		for d.Next() {
			got = append(got, event{string(d.Data()), d.ID(), d.HasID(), d.Retry(), d.HasRetry(), string(d.LastEventID())})
		}
		if d.Err() != nil || len(got) != len(want) {
			t.Fatalf("reads of %d bytes: got %+v, Err %v; want %+v", n, got, d.Err(), want)
		}
		for i, w := range want {
			g := got[i]
			if g.data != w.data || (g.id == nil) != (w.id == nil) || string(g.id) != string(w.id) || g.hasID != w.hasID ||
				g.retry != w.retry || g.hasRetry != w.hasRetry || g.lastEventID != w.lastEventID {
				t.Errorf("reads of %d bytes, event %d: got %+v (id nil: %v); want %+v (id nil: %v)", n, i, g, g.id == nil, w, w.id == nil)
			}
		}
	}
}
