package sse

import (
	"errors"
	"io"
	"time"

	"github.com/ssekit/sse/internal/parser"
)

// Decoder reads the events of one byte stream, the layer under [Stream]: no
// connection, no reconnection, no goroutine, and no copy. What its methods
// return points into its own buffers and stays valid only until the next
// call to Next; copy what you keep. It follows the same rules as Stream
// (line endings split anywhere, a leading BOM, U+FFFD for invalid UTF-8,
// the size limit) and skips comments.
//
// A Decoder is for callers that bring their own bytes and want the fewest
// allocations, for instance to unmarshal each event's data straight from the
// buffer. It is not safe for concurrent use.
type Decoder struct {
	p        parser.Parser
	r        io.Reader
	max      int
	err      error
	retry    time.Duration
	hasRetry bool
}

// NewDecoder returns a Decoder reading r, with lines and event data limited
// to 16 MiB; see [Decoder.SetMaxEventSize].
func NewDecoder(r io.Reader) *Decoder {
	d := &Decoder{r: r}
	d.p.SkipComments(true)
	d.SetMaxEventSize(16 << 20)
	return d
}

// SetMaxEventSize sets the largest line, and the largest event data, that
// Next accepts, in bytes; a larger one ends decoding with a *[TooLargeError].
// Any n from 1 up works, math.MaxInt included; below 1, Next returns false
// at once and Err says why. Call it before the first Next.
func (d *Decoder) SetMaxEventSize(n int) {
	d.err = nil
	if n < 1 {
		d.err = &ConfigError{Setting: "SetMaxEventSize", Reason: "needs at least 1 byte"}
		return
	}
	d.max = n
	d.p.Reset(d.r, n)
}

// Next advances to the next event and reports whether there is one. It
// returns false at the end of the input, where an unfinished event is
// dropped as the spec requires, or on an error, which Err then returns.
func (d *Decoder) Next() bool {
	if d.err != nil {
		return false
	}
	for {
		k, err := d.p.Next()
		switch k {
		case parser.Event:
			return true
		case parser.Retry:
			d.retry, d.hasRetry = d.p.Retry(), true
		case 0:
			d.err = parseError(err, d.max)
			return false
		}
	}
}

// Err returns the error that ended decoding, or nil if the input simply
// ended.
func (d *Decoder) Err() error {
	if errors.Is(d.err, io.EOF) {
		return nil
	}
	return d.err
}

// Type returns the current event's type: the value of its event field, or
// "message".
func (d *Decoder) Type() []byte {
	if t := d.p.Type(); len(t) > 0 {
		return t
	}
	return []byte("message")
}

// Data returns the current event's data.
func (d *Decoder) Data() []byte { return d.p.Data() }

// ID returns the value of the current event's own id field, or nil if it
// had none; an empty id field gives an empty slice that is not nil.
func (d *Decoder) ID() []byte { return d.p.ID() }

// HasID reports whether the current event had an id field of its own,
// possibly empty.
func (d *Decoder) HasID() bool { return d.p.HasID() }

// LastEventID returns the last event ID once the current event arrived.
func (d *Decoder) LastEventID() []byte { return d.p.LastID() }

// Retry returns the reconnection delay of the last valid retry field seen,
// or zero if there was none (see [Decoder.HasRetry]).
func (d *Decoder) Retry() time.Duration { return d.retry }

// HasRetry reports whether a valid retry field has been seen, so that a
// retry of 0 can be told from none.
func (d *Decoder) HasRetry() bool { return d.hasRetry }

// parseError returns the error that ended parsing as the library reports
// it: a line or value over limit becomes a *TooLargeError.
func parseError(err error, limit int) error {
	if errors.Is(err, parser.ErrTooLarge) {
		return &TooLargeError{Limit: limit}
	}
	return err
}
