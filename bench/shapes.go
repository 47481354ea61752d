// Package bench compares github.com/ssekit/sse with other Go Server-Sent
// Events clients on the same generated streams. It is its own module, so
// that the library does not depend on its peers.
package bench

import (
	"fmt"
	"io"
	"strings"
)

// A Shape is one generated stream and everything a correct client must
// find in it.
type Shape struct {
	Name     string
	Data     []byte
	ReadSize int // the most bytes one Read returns; 0: as many as asked
	Events   int // events with data, as the spec dispatches them
	DataLen  int64
	Lines    int      // LF bytes, for the line-scanning floors
	Types    []string // the event types used ("message" for none)
}

// Reader returns a fresh reader of the stream that honours ReadSize. It has
// only Read and Close, so io.Copy cannot skip the reads.
func (s *Shape) Reader() io.ReadCloser { return &memReader{data: s.Data, max: s.ReadSize} }

type memReader struct {
	data []byte
	pos  int
	max  int
}

func (r *memReader) Read(p []byte) (int, error) {
	if r.pos >= len(r.data) {
		return 0, io.EOF
	}
	if r.max > 0 && len(p) > r.max {
		p = p[:r.max]
	}
	n := copy(p, r.data[r.pos:])
	r.pos += n
	return n, nil
}

func (r *memReader) Close() error { return nil }

// builder writes a stream and counts what it writes.
type builder struct {
	b       strings.Builder
	eol     string
	events  int
	dataLen int64
	lines   int
}

func (w *builder) line(s string) {
	w.b.WriteString(s)
	w.b.WriteString(w.eol)
	w.lines++
}

// event writes one event; data lines are joined by LF in the delivered data.
func (w *builder) event(id, typ string, data []string) {
	if id != "" {
		w.line("id: " + id)
	}
	if typ != "" {
		w.line("event: " + typ)
	}
	for i, d := range data {
		w.line("data: " + d)
		w.dataLen += int64(len(d))
		if i > 0 {
			w.dataLen++
		}
	}
	w.line("")
	w.events++
}

func (w *builder) shape(name string, readSize int, types ...string) *Shape {
	return &Shape{Name: name, Data: []byte(w.b.String()), ReadSize: readSize,
		Events: w.events, DataLen: w.dataLen, Lines: w.lines, Types: types}
}

// smallJSON returns 64 bytes of JSON that vary with n.
func smallJSON(n int) string {
	s := fmt.Sprintf(`{"seq":%d,"px":%d.%02d,"qty":%d,"sym":"`, n, 100+n%900, n%100, 1+n%50)
	const fill = "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJKLMNOPQRSTUVWXYZ"
	return s + fill[:64-len(s)-2] + `"}`
}

// text returns n printable bytes that vary with seed, JSON-string safe.
func text(n, seed int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789,.;"
	b := make([]byte, n)
	x := uint32(seed*2654435761 + 1)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = alphabet[x%uint32(len(alphabet))]
	}
	return string(b)
}

const streamSize = 1 << 20 // bytes per stream, except the 8 MiB one

func small(eol string, heartbeats int) *builder {
	w := &builder{eol: eol}
	for n := 0; w.b.Len() < streamSize; n++ {
		for range heartbeats {
			w.line(": ping")
			w.line("")
		}
		w.event(fmt.Sprintf("%06d", n), "update", []string{smallJSON(n)})
	}
	return w
}

func multiLine() *builder {
	w := &builder{eol: "\n"}
	for n := 0; w.b.Len() < streamSize; n++ {
		lines := make([]string, 256) // 256 lines of 128 bytes with "data: " and LF
		for i := range lines {
			lines[i] = text(121, n*256+i)
		}
		w.event(fmt.Sprintf("%d", n), "chunk", lines)
	}
	return w
}

func singleLine(size, total int) *builder {
	w := &builder{eol: "\n"}
	for n := 0; w.b.Len() < total; n++ {
		w.event("", "", []string{`{"text":"` + text(size-11, n) + `"}`})
	}
	return w
}

// Shapes returns the benchmark streams, in the order the tables use.
func Shapes() []*Shape {
	return []*Shape{
		small("\n", 0).shape("small-lf", 0, "update"),
		small("\r\n", 0).shape("small-crlf", 0, "update"),
		small("\n", 0).shape("small-1byte", 1, "update"),
		small("\n", 4).shape("comments", 0, "update"),
		multiLine().shape("large", 0, "chunk"),
		multiLine().shape("large-1460", 1460, "chunk"),
		singleLine(128<<10, 2<<20).shape("line128k-1460", 1460, "message"),
		singleLine(8<<20, 1).shape("huge8m", 0, "message"),
	}
}

// SetupShape returns a stream of one small event. Reading it costs our
// levels what a stream costs to set up and end, plus at most one
// allocation for the event: the figure the table takes off huge8m's
// allocations, whose one event carries all of that setup.
func SetupShape() *Shape {
	w := &builder{eol: "\n"}
	w.event("000000", "update", []string{smallJSON(0)})
	return w.shape("one-small", 0, "update")
}

// ScaleShapes returns single-line events of growing size in 1460-byte reads,
// at least 4 events and 2 MiB of stream each (so that what a connection
// costs once is shared alike): a linear parser keeps its MB/s across them,
// one that rescans its buffer loses it in proportion to the event size.
func ScaleShapes() []*Shape {
	var out []*Shape
	for _, size := range []int{32 << 10, 128 << 10, 512 << 10, 2 << 20} {
		total := max(2<<20, 4*size-1) // the loop writes events until total is passed
		out = append(out, singleLine(size, total).shape(fmt.Sprintf("line%dk-1460", size>>10), 1460, "message"))
	}
	return out
}
