package parser

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"
	"unsafe"
)

// The records a parser produces, written as strings so that a whole stream
// compares with slices.Equal and prints readably.

// ev is an event without an id field of its own; last is the last event ID.
func recEv(typ, data, last string) string {
	return fmt.Sprintf("event type=%q data=%q last=%q", typ, data, last)
}

// evID is an event with its own id field, which is then the last event ID.
func recEvID(typ, data, id string) string {
	return fmt.Sprintf("event type=%q data=%q id=%q last=%q", typ, data, id, id)
}

func recCm(text string) string             { return fmt.Sprintf("comment %q", text) }
func recRt(d time.Duration) string         { return "retry " + d.String() }
func recIDOnly(id string) string           { return fmt.Sprintf("id %q", id) }
func recTooLarge(limit int) string         { return fmt.Sprintf("error too large %d", limit) }
func recErr(err error) string              { return "error " + err.Error() }
func recs(s ...string) []string            { return s }
func oneReadOf(s string) io.Reader         { return strings.NewReader(s) }
func readsEvery(s string, n int) io.Reader { return inReadsOf([]byte(s), n) }

// splitReader returns its chunks one per Read, the way a network delivers
// segments, and then io.EOF.
type splitReader struct {
	chunks [][]byte
}

func (r *splitReader) Read(b []byte) (int, error) {
	for len(r.chunks) > 0 && len(r.chunks[0]) == 0 {
		r.chunks = r.chunks[1:]
	}
	if len(r.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(b, r.chunks[0])
	r.chunks[0] = r.chunks[0][n:]
	return n, nil
}

// chunked returns a Reader that hands out b in reads of at most n bytes.
func inReadsOf(b []byte, n int) io.Reader {
	r := &splitReader{}
	for len(b) > 0 {
		k := min(n, len(b))
		r.chunks = append(r.chunks, b[:k])
		b = b[k:]
	}
	return r
}

// reads returns a Reader that hands out exactly the given reads.
func readsOf(s ...string) io.Reader {
	r := &splitReader{}
	for _, c := range s {
		r.chunks = append(r.chunks, []byte(c))
	}
	return r
}

// parseConns runs one parser over several connections, as a Stream does
// when it reconnects, and returns what it produced. Each connection ends
// with its Reader's error; only errors other than io.EOF are recorded.
func parseConns(max int, conns ...io.Reader) []string {
	var (
		p   Parser
		out []string
	)
	for _, r := range conns {
		p.Reset(r, max)
		for {
			k, err := p.Next()
			if err != nil {
				switch {
				case errors.Is(err, ErrTooLarge):
					out = append(out, recTooLarge(max))
				case err != io.EOF:
					out = append(out, recErr(err))
				}
				break
			}
			switch k {
			case Event:
				if p.HasID() {
					out = append(out, recEvID(string(p.Type()), string(p.Data()), string(p.ID())))
				} else {
					out = append(out, recEv(string(p.Type()), string(p.Data()), string(p.LastID())))
				}
			case Comment:
				out = append(out, recCm(string(p.Comment())))
			case Retry:
				out = append(out, recRt(p.Retry()))
			case IDChanged:
				out = append(out, recIDOnly(string(p.LastID())))
			default:
				out = append(out, fmt.Sprintf("unknown record %d", k))
			}
		}
	}
	return out
}

type splitCase struct {
	name string
	in   string
	max  int // WithMaxEventSize; 0 for the default
	want []string
}

// runAtEveryReadSize runs each case at every read size from 1 byte to the whole input:
// the result must not depend on how the network split the bytes.
func runAtEveryReadSize(t *testing.T, tests []splitCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			limit := tt.max
			if limit == 0 {
				limit = 16 << 20
			}
			for n := 1; n <= max(1, len(tt.in)); n++ {
				got := parseConns(limit, readsEvery(tt.in, n))
				if !slices.Equal(got, tt.want) {
					t.Errorf("input %q in reads of %d bytes: got %q; want %q", tt.in, n, got, tt.want)
					break // one read size is enough to show the failure
				}
			}
		})
	}
}

func TestParseLineEndings(t *testing.T) {
	runAtEveryReadSize(t, []splitCase{
		{name: "LF", in: "data: a\n\n", want: recs(recEv("", "a", ""))},
		{name: "CR", in: "data: a\r\r", want: recs(recEv("", "a", ""))},
		{name: "CRLF", in: "data: a\r\n\r\n", want: recs(recEv("", "a", ""))},
		{name: "mixed in one event", in: "data: a\rdata: b\ndata: c\r\n\n", want: recs(recEv("", "a\nb\nc", ""))},
		{name: "CRLF is one ending, not two", in: "data: a\r\ndata: b\r\n\r\n", want: recs(recEv("", "a\nb", ""))},
		{name: "CR CR is two endings", in: "data: a\r\rdata: b\r\r", want: recs(recEv("", "a", ""), recEv("", "b", ""))},
		{name: "LF CR is two endings", in: "data: a\n\rdata: b\n\r", want: recs(recEv("", "a", ""), recEv("", "b", ""))},
		{name: "blank lines between events", in: "\n\r\n\rdata: a\n\n\n\n", want: recs(recEv("", "a", ""))},
		{name: "CR ending the stream ends a line", in: "data: a\n\r", want: recs(recEv("", "a", ""))},
	})
}

// A CR that ends one read and an LF that starts the next are one line
// ending: the LF must not be taken for a blank line.
func TestParseCRLFSplitAcrossReads(t *testing.T) {
	tests := []struct {
		name  string
		reads []string
		want  []string
	}{
		{"CR|LF inside an event", recs("data: a\r", "\ndata: b\r", "\n\r", "\n"), recs(recEv("", "a\nb", ""))},
		{"CR|LF after a comment", recs(":c\r", "\ndata: x\r\n\r", "\n"), recs(recCm("c"), recEv("", "x", ""))},
		{"CR|LF|LF", recs("data: a\r", "\n", "\n"), recs(recEv("", "a", ""))},
		{"CR|CR", recs("data: a\r", "\r"), recs(recEv("", "a", ""))},
		{"CR|empty read|LF", recs("data: a\r", "", "\ndata: b\n\n"), recs(recEv("", "a\nb", ""))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseConns(1<<20, readsOf(tt.reads...)); !slices.Equal(got, tt.want) {
				t.Errorf("reads %q: got %q; want %q", tt.reads, got, tt.want)
			}
		})
	}
}

// stallingReader hands out its chunks, then reports a stall instead of
// blocking: a parser that asks for more bytes before returning what it
// already has would deliver it only after the stall.
type stallingReader struct {
	splitReader
	stalled bool
}

var errStalled = errors.New("stalled")

func (r *stallingReader) Read(b []byte) (int, error) {
	n, err := r.splitReader.Read(b)
	if err == io.EOF {
		r.stalled = true
		return 0, errStalled
	}
	return n, err
}

// A line is delivered as soon as its ending arrives, without waiting for the
// next byte: not after a CR (which an LF might follow), and not at the start
// of the stream (where a BOM might follow).
func TestParseDeliversWithoutReadingAhead(t *testing.T) {
	tests := []struct {
		name  string
		reads []string
		want  Kind // 0: the parser must wait for more bytes
	}{
		{"event ended by CR CR", recs("data: a\r\r"), Event},
		{"event ended by LF LF", recs("data: a\n\n"), Event},
		{"short comment first", recs(":\n"), Comment},
		{"blank line then comment", recs("\n", ":\n"), Comment},
		{"comment after a BOM", recs("\xEF\xBB\xBF:\n"), Comment},
		{"comment after a BOM in two reads", recs("\xEF", "\xBB\xBF:\n"), Comment},
		{"a BOM prefix only", recs("\xEF\xBB"), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &stallingReader{}
			for _, c := range tt.reads {
				r.chunks = append(r.chunks, []byte(c))
			}
			var p Parser
			p.Reset(r, 1<<20)
			k, err := p.Next()
			if tt.want == 0 {
				if !errors.Is(err, errStalled) {
					t.Errorf("reads %q: got record %d, error %v; want the stall", tt.reads, k, err)
				}
				return
			}
			if k != tt.want || err != nil {
				t.Fatalf("reads %q: got record %d, error %v; want record %d", tt.reads, k, err, tt.want)
			}
			if r.stalled {
				t.Errorf("reads %q: the parser read past the line before returning it", tt.reads)
			}
		})
	}
}

func TestParseBOM(t *testing.T) {
	runAtEveryReadSize(t, []splitCase{
		{name: "stripped at the start", in: "\xEF\xBB\xBFdata: a\n\n", want: recs(recEv("", "a", ""))},
		{name: "stripped before a blank line", in: "\xEF\xBB\xBF\ndata: a\n\n", want: recs(recEv("", "a", ""))},
		{name: "only one stripped", in: "\xEF\xBB\xBF\xEF\xBB\xBFdata: a\n\ndata: b\n\n", want: recs(recEv("", "b", ""))},
		{name: "later at a line start is part of the name", in: "data: a\n\n\xEF\xBB\xBFdata: b\n\n", want: recs(recEv("", "a", ""))},
		{name: "in a value is data", in: "data: \xEF\xBB\xBFb\n\n", want: recs(recEv("", "\uFEFFb", ""))},
		{name: "a BOM prefix is not stripped", in: "\xEF\xBBdata: a\n\ndata: b\n\n", want: recs(recEv("", "b", ""))},
		{name: "a BOM alone", in: "\xEF\xBB\xBF", want: nil},
	})
}

// Every connection's stream may start with its own BOM, including when its
// three bytes arrive in separate reads.
func TestParseBOMOnEveryConnection(t *testing.T) {
	got := parseConns(1<<20,
		oneReadOf("\xEF\xBB\xBFdata: a\n\n"),
		readsOf("\xEF", "\xBB", "\xBFdata: b\n\n"),
		readsOf("\xEF\xBB", "\xBFdata: c\n\n\xEF\xBB\xBFdata: d\n\n"),
	)
	want := recs(recEv("", "a", ""), recEv("", "b", ""), recEv("", "c", ""))
	if !slices.Equal(got, want) {
		t.Errorf("three connections each starting with a BOM: got %q; want %q", got, want)
	}
}

func TestParseFields(t *testing.T) {
	runAtEveryReadSize(t, []splitCase{
		{name: "all four", in: "event: add\ndata: x\nid: 7\nretry: 10\n\n", want: recs(recRt(10*time.Millisecond), recEvID("add", "x", "7"))},
		{name: "order does not matter", in: "id: 7\ndata: x\nevent: add\n\n", want: recs(recEvID("add", "x", "7"))},
		{name: "last event field wins", in: "event: a\nevent: b\ndata: x\n\n", want: recs(recEv("b", "x", ""))},
		{name: "unknown field ignored", in: "foo: bar\ndata: x\nfoo\n\n", want: recs(recEv("", "x", ""))},
		{name: "names are case sensitive", in: "Data: x\nEVENT: y\n\ndata: z\n\n", want: recs(recEv("", "z", ""))},
		{name: "name with a space is another name", in: "data : x\n\n", want: nil},
		{name: "comment", in: ": hello\n", want: recs(recCm(" hello"))},
		{name: "empty comment", in: ":\n", want: recs(recCm(""))},
		{name: "comment keeps its colons", in: "::a: b\n", want: recs(recCm(":a: b"))},
		{name: "comment inside an event", in: "data: a\n: c\ndata: b\n\n", want: recs(recCm(" c"), recEv("", "a\nb", ""))},
		{name: "field without colon: data", in: "data\n\n", want: recs(recEv("", "", ""))},
		{name: "field without colon: two data lines", in: "data\ndata\n\n", want: recs(recEv("", "\n", ""))},
		{name: "field without colon: event resets the type", in: "event: a\nevent\ndata: x\n\n", want: recs(recEv("", "x", ""))},
		{name: "field without colon: id empties the last event ID", in: "id: 1\n\nid\ndata: x\n\n", want: recs(recIDOnly("1"), recEvID("", "x", ""))},
		{name: "field without colon: retry is empty", in: "retry\ndata: x\n\n", want: recs(recEv("", "x", ""))},
		{name: "empty value after colon", in: "data:\n\n", want: recs(recEv("", "", ""))},
		{name: "one leading space stripped", in: "data: x\n\n", want: recs(recEv("", "x", ""))},
		{name: "no leading space", in: "data:x\n\n", want: recs(recEv("", "x", ""))},
		{name: "only one of two spaces stripped", in: "data:  x\n\n", want: recs(recEv("", " x", ""))},
		{name: "tab not stripped", in: "data:\tx\n\n", want: recs(recEv("", "\tx", ""))},
		{name: "trailing space kept", in: "data: x \n\n", want: recs(recEv("", "x ", ""))},
		{name: "space stripped from event", in: "event:  a\ndata: x\n\n", want: recs(recEv(" a", "x", ""))},
		{name: "value keeps later colons", in: "data: a: b\n\n", want: recs(recEv("", "a: b", ""))},
		{name: "multi-line data joined with LF", in: "data: a\ndata:\ndata: c\n\n", want: recs(recEv("", "a\n\nc", ""))},
		{name: "data ending in an empty line", in: "data: a\ndata\n\n", want: recs(recEv("", "a\n", ""))},
	})
}

func TestParseDispatch(t *testing.T) {
	runAtEveryReadSize(t, []splitCase{
		{name: "blank line dispatches", in: "data: a\n\ndata: b\n\n", want: recs(recEv("", "a", ""), recEv("", "b", ""))},
		{name: "no data, no dispatch", in: "event: add\n\n", want: nil},
		{name: "the type resets without a dispatch", in: "event: add\n\ndata: x\n\n", want: recs(recEv("", "x", ""))},
		{name: "the type resets after a dispatch", in: "event: add\ndata: x\n\ndata: y\n\n", want: recs(recEv("add", "x", ""), recEv("", "y", ""))},
		{name: "data does not leak into the next event", in: "data: a\n\ndata: b\n\n", want: recs(recEv("", "a", ""), recEv("", "b", ""))},
		{name: "comment only block", in: ": c\n\n", want: recs(recCm(" c"))},
		{name: "unfinished event at EOF discarded", in: "data: a\n\ndata: b\n", want: recs(recEv("", "a", ""))},
		{name: "unfinished line at EOF discarded", in: "data: a\n\ndata: b", want: recs(recEv("", "a", ""))},
		{name: "unfinished comment at EOF discarded", in: ": c", want: nil},
		{name: "unfinished id at EOF not committed", in: "id: 1\ndata: a\n\nid: 2\n", want: recs(recEvID("", "a", "1"))},
	})
}

func TestParseID(t *testing.T) {
	runAtEveryReadSize(t, []splitCase{
		{name: "own id", in: "id: 1\ndata: a\n\n", want: recs(recEvID("", "a", "1"))},
		{name: "last event ID persists", in: "id: 1\ndata: a\n\ndata: b\n\n", want: recs(recEvID("", "a", "1"), recEv("", "b", "1"))},
		{name: "id with NUL ignored", in: "id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n", want: recs(recEvID("", "a", "1"), recEv("", "b", "1"))},
		{name: "id with NUL keeps an earlier id of the block", in: "id: 1\nid: \x00\ndata: a\n\n", want: recs(recEvID("", "a", "1"))},
		{name: "committed without data", in: "data: a\nid: 1\n\nid: 2\n\ndata: b\n\n", want: recs(recEvID("", "a", "1"), recIDOnly("2"), recEv("", "b", "2"))},
		{name: "committed with a type but no data", in: "id: 3\nevent: x\n\n", want: recs(recIDOnly("3"))},
		{name: "unchanged id is not reported again", in: "id: 1\ndata: a\n\nid: 1\n\n", want: recs(recEvID("", "a", "1"))},
		{name: "empty id empties it", in: "id: 1\ndata: a\n\nid:\ndata: b\n\ndata: c\n\n", want: recs(recEvID("", "a", "1"), recEvID("", "b", ""), recEv("", "c", ""))},
		{name: "empty id without data", in: "id: 1\n\nid:\n\n", want: recs(recIDOnly("1"), recIDOnly(""))},
		{name: "leading space stripped once", in: "id:  5\ndata: a\n\n", want: recs(recEvID("", "a", " 5"))},
		{name: "last id field in a block wins", in: "id: 1\nid: 2\ndata: a\n\n", want: recs(recEvID("", "a", "2"))},
	})
}

func TestParseRetry(t *testing.T) {
	runAtEveryReadSize(t, []splitCase{
		{name: "milliseconds", in: "retry: 2500\n", want: recs(recRt(2500 * time.Millisecond))},
		{name: "zero", in: "retry: 0\n", want: recs(recRt(0))},
		{name: "leading zeros", in: "retry: 007\n", want: recs(recRt(7 * time.Millisecond))},
		{name: "no dispatch", in: "retry: 10\n\n", want: recs(recRt(10 * time.Millisecond))},
		{name: "inside an event", in: "data: a\nretry: 10\ndata: b\n\n", want: recs(recRt(10*time.Millisecond), recEv("", "a\nb", ""))},
		{name: "empty ignored", in: "retry:\nretry\nretry: \n", want: nil},
		{name: "letters ignored", in: "retry: 25a\n", want: nil},
		{name: "sign ignored", in: "retry: -1\nretry: +1\n", want: nil},
		{name: "decimal point ignored", in: "retry: 1.5\n", want: nil},
		{name: "space inside ignored", in: "retry: 1 0\n", want: nil},
		{name: "two leading spaces ignored", in: "retry:  10\n", want: nil},
		{name: "trailing space ignored", in: "retry: 10 \n", want: nil},
		{name: "non-ASCII digits ignored", in: "retry: \uFF11\u0661\n", want: nil},
		{name: "largest int64 saturates", in: "retry: 9223372036854775807\n", want: recs(recRt(math.MaxInt64))},
		{name: "largest uint64 saturates", in: "retry: 18446744073709551615\n", want: recs(recRt(math.MaxInt64))},
		{name: "overflowing 64 bits ignored", in: "retry: 18446744073709551616\n", want: nil},
		{name: "very long ignored", in: "retry: " + strings.Repeat("9", 40) + "\n", want: nil},
		{name: "ignored value keeps the previous one", in: "retry: 5\nretry: x\ndata: a\n\n", want: recs(recRt(5*time.Millisecond), recEv("", "a", ""))},
	})
}

// Invalid UTF-8 becomes U+FFFD, one per maximal subpart, as the WHATWG
// UTF-8 decoder does: the stream is decoded before it is parsed.
func TestParseInvalidUTF8(t *testing.T) {
	runAtEveryReadSize(t, []splitCase{
		{name: "valid kept", in: "data: h\u00e9 \u20ac \U0001F600\n\n", want: recs(recEv("", "h\u00e9 \u20ac \U0001F600", ""))},
		{name: "truncated 3-byte sequence then ASCII", in: "data: \xE2\x82A\n\n", want: recs(recEv("", "\uFFFDA", ""))},
		{name: "F0 80 is two subparts", in: "data: \xF0\x80\n\n", want: recs(recEv("", "\uFFFD\uFFFD", ""))},
		{name: "lone continuation", in: "data: a\x80b\n\n", want: recs(recEv("", "a\uFFFDb", ""))},
		{name: "FF", in: "data: \xFF\n\n", want: recs(recEv("", "\uFFFD", ""))},
		{name: "overlong C0 80", in: "data: \xC0\x80\n\n", want: recs(recEv("", "\uFFFD\uFFFD", ""))},
		{name: "overlong E0 80 80", in: "data: \xE0\x80\x80\n\n", want: recs(recEv("", "\uFFFD\uFFFD\uFFFD", ""))},
		{name: "surrogate ED A0 80", in: "data: \xED\xA0\x80\n\n", want: recs(recEv("", "\uFFFD\uFFFD\uFFFD", ""))},
		{name: "above U+10FFFF", in: "data: \xF4\x90\x80\x80\n\n", want: recs(recEv("", "\uFFFD\uFFFD\uFFFD\uFFFD", ""))},
		{name: "truncated 4-byte sequence", in: "data: \xF0\x9F\x98A\n\n", want: recs(recEv("", "\uFFFDA", ""))},
		{name: "truncated at the end of the data", in: "data: a\xE2\x82\n\n", want: recs(recEv("", "a\uFFFD", ""))},
		{name: "truncated before a line break", in: "data: \xE2\x82\ndata: \xAC\n\n", want: recs(recEv("", "\uFFFD\n\uFFFD", ""))},
		{name: "two truncated sequences", in: "data: \xE2\x82\xE2\x82\xAC\n\n", want: recs(recEv("", "\uFFFD\u20ac", ""))},
		{name: "in the event type", in: "event: a\xFFb\ndata: x\n\n", want: recs(recEv("a\uFFFDb", "x", ""))},
		{name: "in the id", in: "id: \xE2\x82A\ndata: x\n\n", want: recs(recEvID("", "x", "\uFFFDA"))},
		{name: "in a comment", in: ":\xF0\x80\n", want: recs(recCm("\uFFFD\uFFFD"))},
		{name: "in a field name", in: "dat\xE1: x\ndata: y\n\n", want: recs(recEv("", "y", ""))},
	})
}

// TestParseDataLineRuns covers what ends a run of data lines, which the
// parser reads in a loop of its own (dataLines) when they are in the buffer.
func TestParseDataLineRuns(t *testing.T) {
	runAtEveryReadSize(t, []splitCase{
		{name: "every form of data line", in: "data: a\ndata: \ndata:b\ndata\ndata:  c\ndatum: x\ndata:\ndata: d\n\n", want: recs(recEv("", "a\n\nb\n\n c\n\nd", ""))},
		{name: "other fields between", in: "data: a\nid: 1\ndata: b\n: c\ndata: d\n\n", want: recs(recCm(" c"), recEvID("", "a\nb\nd", "1"))},
		{name: "CR endings among LF endings", in: "data: a\ndata: b\rdata: c\ndata: d\r\ndata: e\n\n", want: recs(recEv("", "a\nb\nc\nd\ne", ""))},
		{name: "ill-formed UTF-8 in a later line", in: "data: a\ndata: \xff\ndata: b\n\n", want: recs(recEv("", "a\n\uFFFD\nb", ""))},
		{name: "a blank line ends the run", in: "data: a\ndata: b\n\ndata: c\n\n", want: recs(recEv("", "a\nb", ""), recEv("", "c", ""))},
		{name: "over the limit within a run", max: 12, in: "data: aaaa\ndata: bbbb\ndata: cccc\n\n", want: recs(recTooLarge(12))},
	})
}

func TestParseTooLarge(t *testing.T) {
	runAtEveryReadSize(t, []splitCase{
		{name: "line at the limit", max: 8, in: "data:abc\n\n", want: recs(recEv("", "abc", ""))},
		{name: "line over the limit", max: 8, in: "data:abcd\n\n", want: recs(recTooLarge(8))},
		{name: "comment over the limit", max: 8, in: ":12345678\n", want: recs(recTooLarge(8))},
		{name: "unknown field over the limit", max: 8, in: "xxxxxxxxxxxx\ndata: a\n\n", want: recs(recTooLarge(8))},
		{name: "line over the limit without an ending", max: 8, in: "data:abcdefgh", want: recs(recTooLarge(8))},
		{name: "event over the limit", max: 10, in: "data:aaaa\ndata:aaaa\ndata:aaaa\n\n", want: recs(recTooLarge(10))},
		{name: "events each under the limit", max: 10, in: "data:aaaa\ndata:aaaa\n\ndata:aaaa\ndata:aaaa\n\n", want: recs(recEv("", "aaaa\naaaa", ""), recEv("", "aaaa\naaaa", ""))},
		{name: "events after many small lines", max: 10, in: strings.Repeat(":\n", 20) + "data: a\n\n", want: append(slices.Repeat(recs(recCm("")), 20), recEv("", "a", ""))},
		{name: "the largest limit: long lines of both kinds", max: math.MaxInt, in: "data: " + strings.Repeat("d", 3000) + "\n\n:" + strings.Repeat("c", 3000) + "\nid: 1\n\n",
			want: recs(recEv("", strings.Repeat("d", 3000), ""), recCm(strings.Repeat("c", 3000)), recIDOnly("1"))},
	})
}

// A long line is read whole under the default limit and refused over a
// smaller one: a 1 MiB data line is fine, and one over a 64 KiB limit is not.
func TestParseLongLines(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	got := parseConns(16<<20, readsEvery("data: "+big+"\n\n", 1000))
	if want := recs(recEv("", big, "")); !slices.Equal(got, want) {
		t.Errorf("a 1 MiB data line: got %d records; want one event with the line", len(got))
	}
	got = parseConns(64<<10, readsEvery("data: "+big+"\n\n", 1000))
	if want := recs(recTooLarge(64 << 10)); !slices.Equal(got, want) {
		t.Errorf("a 1 MiB data line under a 64 KiB limit: got %.200q; want %q", got, want)
	}
}

// TestParseLongDataLines covers data lines longer than the buffer, which
// the parser moves into the event's data as they arrive (spill.go).
func TestParseLongDataLines(t *testing.T) {
	// Characters of one to four bytes, so that buffer and chunk boundaries
	// fall inside them.
	mixed := func(n int) string {
		var b strings.Builder
		for i := 0; b.Len() < n; i++ {
			b.WriteString([]string{"a", "é", "€", "𝄞", "b "}[i%5])
		}
		return b.String()
	}
	long, huge := mixed(5000), mixed(400<<10) // huge fills several chunks
	x := func(n int) string { return strings.Repeat("x", n) }
	tests := []struct {
		name string
		max  int
		in   []string // one per connection
		want []string
	}{
		{name: "one line", in: []string{"data: " + long + "\n\n"}, want: recs(recEv("", long, ""))},
		{name: "no space", in: []string{"data:" + long + "\n\n"}, want: recs(recEv("", long, ""))},
		{name: "two spaces", in: []string{"data:  " + long + "\n\n"}, want: recs(recEv("", " "+long, ""))},
		{name: "CRLF", in: []string{"data: " + long + "\r\n\r\n"}, want: recs(recEv("", long, ""))},
		{name: "CR", in: []string{"data: " + long + "\r\r"}, want: recs(recEv("", long, ""))},
		{name: "among short lines", in: []string{"data: a\ndata: " + long + "\ndata: b\nid: 7\n\n"}, want: recs(recEvID("", "a\n"+long+"\nb", "7"))},
		{name: "several chunks", in: []string{"data: " + huge + "\n\n"}, want: recs(recEv("", huge, ""))},
		// ASCII lines are read straight into the data once the buffer fills.
		{name: "ASCII, CR", in: []string{"data: " + x(5000) + "\r\r"}, want: recs(recEv("", x(5000), ""))},
		{name: "ASCII, CRLF", in: []string{"data: " + x(70000) + "\r\n\r\n"}, want: recs(recEv("", x(70000), ""))},
		{name: "several chunks, CR", in: []string{"data: " + huge + "\r\r"}, want: recs(recEv("", huge, ""))},
		{name: "ASCII, then an event", in: []string{"data: " + x(70000) + "\n\nid: 1\ndata: z\n\n"}, want: recs(recEv("", x(70000), ""), recEvID("", "z", "1"))},
		{name: "ASCII, then ill-formed bytes", in: []string{"data: " + x(70000) + "\xff" + x(9) + "\n\n"}, want: recs(recEv("", x(70000)+"\uFFFD"+x(9), ""))},
		{name: "ASCII, then a cut character", in: []string{"data: " + x(70000) + "\xe2\x82\n\n"}, want: recs(recEv("", x(70000)+"\uFFFD", ""))},
		{name: "ASCII line at the limit", max: 100000, in: []string{"data: " + x(99994) + "\n\n"}, want: recs(recEv("", x(99994), ""))},
		{name: "ASCII line over the limit", max: 100000, in: []string{"data: " + x(99995) + "\n\n"}, want: recs(recTooLarge(100000))},
		{name: "ASCII event over the limit", max: 100000, in: []string{"data: " + x(60000) + "\ndata: " + x(60000) + "\n\n"}, want: recs(recTooLarge(100000))},
		{name: "two long lines", in: []string{"data: " + long + "\ndata: " + huge + "\n\n"}, want: recs(recEv("", long+"\n"+huge, ""))},
		{name: "ill-formed bytes", in: []string{"data: " + long + "\xff" + long + "\n\n"}, want: recs(recEv("", long+"\uFFFD"+long, ""))},
		{name: "then a short event", in: []string{"data: " + long + "\n\ndata: z\n\n"}, want: recs(recEv("", long, ""), recEv("", "z", ""))},
		{name: "a long comment grows the buffer", in: []string{":" + long + "\ndata: z\n\n"}, want: recs(recCm(long), recEv("", "z", ""))},
		{name: "a connection ends inside one", in: []string{"data: " + long, "data: z\n\n"}, want: recs(recEv("", "z", ""))},
		{name: "line at the limit", max: 8000, in: []string{"data: " + x(7994) + "\n\n"}, want: recs(recEv("", x(7994), ""))},
		{name: "line over the limit", max: 8000, in: []string{"data: " + x(7995) + "\n\n"}, want: recs(recTooLarge(8000))},
		{name: "event over the limit", max: 8000, in: []string{"data: " + x(5000) + "\ndata: " + x(5000) + "\n\n"}, want: recs(recTooLarge(8000))},
		{name: "ill-formed bytes in a line over the limit", max: 8000, in: []string{"data: " + x(3000) + "\xff" + x(6000) + "\n\n"}, want: recs(recTooLarge(8000))},
		{name: "ill-formed bytes in a line at the limit", max: 8000, in: []string{"data: " + x(3000) + "\xff" + x(4993) + "\n\n"}, want: recs(recEv("", x(3000)+"\uFFFD"+x(4993), ""))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			limit := cmp.Or(tt.max, 16<<20)
			for _, n := range []int{1, 7, 1460, math.MaxInt32} {
				var in []io.Reader
				for _, conn := range tt.in {
					in = append(in, inReadsOf([]byte(conn), n))
				}
				if got := parseConns(limit, in...); !slices.Equal(got, tt.want) {
					t.Errorf("in reads of %d bytes: got %.300q; want %.300q", n, got, tt.want)
				}
			}
		})
	}
}

// TestParseLongDataLineKeepsBufferSmall checks the point of spilling: after
// a huge data line the parser holds no buffer sized after it, so that an
// idle stream that once received a big event stays small.
func TestParseLongDataLineKeepsBufferSmall(t *testing.T) {
	var p Parser
	big := strings.Repeat("x", 4<<20)
	p.Reset(readsEvery("data: "+big+"\n\n: idle\n", 32<<10), 16<<20)
	if k, err := p.Next(); k != Event || err != nil || len(p.Data()) != len(big) {
		t.Fatalf("got record %d, err %v, %d bytes of data; want the event", k, err, len(p.Data()))
	}
	if k, err := p.Next(); k != Comment || err != nil {
		t.Fatalf("got record %d, err %v; want the comment", k, err)
	}
	if len(p.buf) != initialBufSize {
		t.Errorf("after a %d byte data line the buffer holds %d bytes; want %d", len(big), len(p.buf), initialBufSize)
	}
}

// TestParseSpilledLineChunks checks how a spilled line's data is held: a
// character cut where a chunk ends moves whole into the next chunk, so that
// the data needs no second UTF-8 check at the event's end, and what the
// parser hands out ends at the data, since the room after it was never
// cleared.
func TestParseSpilledLineChunks(t *testing.T) {
	// The first two chunks hold 4*minSpillChunk bytes (see nextChunk).
	clef := "\U0001D11E" // four bytes
	for _, value := range []string{
		strings.Repeat("x", minSpillChunk-2) + clef + strings.Repeat("é", 20000),
		strings.Repeat("x", 4*minSpillChunk-1) + clef + "y",
		strings.Repeat("€", 300000),
	} {
		for _, n := range []int{1460, 64 << 10, math.MaxInt32} {
			var p Parser
			p.Reset(readsEvery("data: "+value+"\n\n", n), 16<<20)
			if k, err := p.Next(); k != Event || err != nil || string(p.Data()) != value {
				t.Fatalf("reads of %d: got record %d, error %v, %d bytes of data; want the event of %d", n, k, err, len(p.Data()), len(value))
			}
			if p.dirty {
				t.Errorf("%d bytes in reads of %d: the event's data is left to be checked again", len(value), n)
			}
			if d := p.Data(); cap(d) != len(d) {
				t.Errorf("%d bytes in reads of %d: data has capacity %d; want none after it", len(value), n, cap(d))
			}
			if b := p.TakeData([]byte("7")); cap(b) != len(b) {
				t.Errorf("%d bytes in reads of %d: TakeData's %d bytes have capacity %d; want none after them", len(value), n, len(b), cap(b))
			}
		}
	}
}

// TestParseLineEndingWithItsChunk checks that a spilled line that ends
// where its chunk ends takes no new chunk only to read its end.
func TestParseLineEndingWithItsChunk(t *testing.T) {
	allocs := func(size int) float64 {
		in := []byte("data: " + strings.Repeat("x", size) + "\n\n")
		return testing.AllocsPerRun(5, func() {
			var p Parser
			p.Reset(inReadsOf(in, 1460), 16<<20)
			if k, err := p.Next(); k != Event || err != nil || len(p.Data()) != size {
				t.Fatalf("got record %d, error %v, %d bytes of data; want the event of %d", k, err, len(p.Data()), size)
			}
		})
	}
	// The first two chunks hold 4*minSpillChunk bytes (see nextChunk).
	if short, full := allocs(4*minSpillChunk-1), allocs(4*minSpillChunk); full != short {
		t.Errorf("a line that fills its chunks made %.0f allocations; want %.0f, as one a byte shorter", full, short)
	}
}

// TestParseHugeLineAllocations checks that one event of many megabytes, of
// the sizes the contract harness sends and a flag service's full set may
// take, costs a handful of allocations beyond what a small event costs:
// the chunks that hold its data as it arrives, and the buffer they are
// joined into.
func TestParseHugeLineAllocations(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 29 MB several times")
	}
	// The least of a few counts: allocations elsewhere in the process (a
	// goroutine another test left to end) only add to a count.
	allocs := func(data string) float64 {
		in := []byte("data: " + data + "\n\n")
		least := math.Inf(1)
		for range 3 {
			least = min(least, testing.AllocsPerRun(2, func() {
				var p Parser
				p.Reset(bytes.NewReader(in), 16<<20)
				if k, err := p.Next(); k != Event || err != nil || len(p.Data()) != len(data) {
					t.Fatalf("got record %d, error %v, %d bytes of data; want the event of %d", k, err, len(p.Data()), len(data))
				}
			}))
		}
		return least
	}
	small := allocs(`{"seq":1}`)
	for _, size := range []int{7_000_000, 8 << 20, 14_000_000} {
		got := allocs(strings.Repeat("x", size)) - small
		t.Logf("an event of %d bytes: %.0f allocations more than a small one", size, got)
		if got > 5 {
			t.Errorf("an event of %d bytes made %.0f allocations more than a small one; want at most 5", size, got)
		}
	}
}

// noProgressReader is a broken Reader that returns 0, nil forever.
type noProgressReader struct{}

func (noProgressReader) Read([]byte) (int, error) { return 0, nil }

func TestParseReaderWithoutProgress(t *testing.T) {
	got := parseConns(1<<10, io.MultiReader(oneReadOf("data: a\n\n"), noProgressReader{}))
	if want := recs(recEv("", "a", ""), recErr(io.ErrNoProgress)); !slices.Equal(got, want) {
		t.Errorf("a reader stuck at 0, nil: got %q; want %q", got, want)
	}
}

func TestParseReadError(t *testing.T) {
	boom := errors.New("boom")
	got := parseConns(1<<10, io.MultiReader(oneReadOf("data: a\n\ndata: b\n"), iotest.ErrReader(boom)))
	if want := recs(recEv("", "a", ""), recErr(boom)); !slices.Equal(got, want) {
		t.Errorf("a read error after an event: got %q; want %q", got, want)
	}
}

// The last event ID survives a new connection, but the unfinished block of
// the old one, and the id in it, do not.
func TestParseAcrossConnections(t *testing.T) {
	got := parseConns(1<<20,
		oneReadOf("id: 1\ndata: a\n\nid: 2\nevent: x\ndata: cut"),
		oneReadOf("data: b\n\n"),
		oneReadOf("id: 3\n\n"),
		oneReadOf("data: c\n\n"),
	)
	want := recs(recEvID("", "a", "1"), recEv("", "b", "1"), recIDOnly("3"), recEv("", "c", "3"))
	if !slices.Equal(got, want) {
		t.Errorf("four connections: got %q; want %q", got, want)
	}
}

// endlessReader repeats a pattern forever and counts what it handed out.
type endlessReader struct {
	pattern []byte
	off     int
	n       int
}

func (r *endlessReader) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = r.pattern[r.off]
		r.off = (r.off + 1) % len(r.pattern)
	}
	r.n += len(b)
	return len(b), nil
}

// An endless line, or an endless event made of small data lines, ends in a
// *TooLargeError after about the limit's worth of bytes: memory is bounded.
func TestParseEndlessInputIsBounded(t *testing.T) {
	const limit = 1 << 20
	tests := []struct {
		name    string
		pattern string
	}{
		{"endless line", "x"},
		{"endless data line", "data: xxxxxxxx"}, // a data line, then "data: " inside its value
		{"endless event", "data: 0123456789\n"},
		{"endless comment", ":"},
	}
	for _, tt := range tests {
		r := &endlessReader{pattern: []byte(tt.pattern)}
		got := parseConns(limit, r)
		if want := recs(recTooLarge(limit)); !slices.Equal(got, want) {
			t.Errorf("%s: got %q; want %q", tt.name, got, want)
		}
		if r.n > 2*limit+initialBufSize {
			t.Errorf("%s: read %d bytes before failing; want about %d", tt.name, r.n, limit)
		}
	}
}

// Readers that return data together with io.EOF, or one byte or half the
// buffer at a time, change nothing.
func TestParseHostileReaders(t *testing.T) {
	const in = "\xEF\xBB\xBFid: 1\r\ndata: a\r\n\r\n: c\revent: x\ndata: b\n\ndata: cut"
	want := parseConns(1<<20, oneReadOf(in))
	if len(want) != 3 {
		t.Fatalf("whole input: got %q; want 3 records", want)
	}
	readers := map[string]func(io.Reader) io.Reader{
		"DataErrReader":  iotest.DataErrReader,
		"OneByteReader":  iotest.OneByteReader,
		"HalfReader":     iotest.HalfReader,
		"one byte + EOF": func(r io.Reader) io.Reader { return iotest.DataErrReader(iotest.OneByteReader(r)) },
	}
	for name, wrap := range readers {
		if got := parseConns(1<<20, wrap(oneReadOf(in))); !slices.Equal(got, want) {
			t.Errorf("%s: got %q; want %q", name, got, want)
		}
	}
}

// held returns the bytes the parser's buffers hold, by capacity.
func (p *Parser) held() int {
	n := cap(p.buf) + cap(p.data) + cap(p.spare) + cap(p.typ) + cap(p.id) + cap(p.lastID) + cap(p.commentBuf) + cap(p.scratch)
	for _, c := range p.firstChunks {
		n += cap(c)
	}
	for _, c := range p.moreChunks[:cap(p.moreChunks)] {
		n += cap(c)
	}
	return n + cap(p.moreChunks)*int(unsafe.Sizeof(p.moreChunks[0]))
}

// TestParseMemoryAfterLargeValue checks that one large value, in any field,
// leaves no buffer sized after it once the parser waits for more bytes:
// it holds what it would have held without it.
func TestParseMemoryAfterLargeValue(t *testing.T) {
	const size = 1 << 20
	big := strings.Repeat("v", size)
	small := strings.Repeat("id: 7\nevent: update\ndata: {\"seq\":1}\n\n: ping\n", 50)
	// heldAfter parses head and the small events in reads of n bytes, up to
	// where it would wait for more, and returns what the parser holds.
	heldAfter := func(head string, n int, skipComments bool) int {
		var p Parser
		p.SkipComments(skipComments)
		r := &stallingReader{}
		r.chunks = inReadsOf([]byte(head+small), n).(*splitReader).chunks
		p.Reset(r, 16<<20)
		for {
			if _, err := p.Next(); err != nil {
				if err != errStalled {
					t.Fatalf("after %.30q...: %v", head, err)
				}
				return p.held()
			}
		}
	}
	tests := []struct {
		name string
		head string
	}{
		{"data", "data: " + big + "\n\n"},
		{"data in many lines", strings.Repeat("data: "+big[:1000]+"\n", size/1000) + "\n"},
		{"data with invalid UTF-8", "data: " + big + "\xff\n\n"},
		{"event", "event: " + big + "\ndata: x\n\n"},
		{"event with invalid UTF-8", "event: " + big + "\xff\ndata: x\n\n"},
		{"id", "id: " + big + "\ndata: x\n\n"},
		{"id with invalid UTF-8", "id: " + big + "\xff\ndata: x\n\n"},
		{"id without data", "id: " + big + "\n\n"},
		{"comment", ":" + big + "\n"},
		{"comment with invalid UTF-8", ":" + big + "\xff\n"},
		{"unknown field", "field: " + big + "\n"},
		{"retry", "retry: " + strings.Repeat("9", size) + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, n := range []int{1460, 64 << 10} {
				for _, skip := range []bool{false, true} {
					want := heldAfter("", n, skip)
					if got := heldAfter(tt.head, n, skip); got > want {
						t.Errorf("reads of %d bytes, comments skipped %v: after a %d-byte value and small events the parser holds %d bytes; want %d, as without it", n, skip, size, got, want)
					}
				}
			}
		})
	}
}

// TestParseRelease checks that a connection cut off inside a large value
// leaves nothing sized after it once Release ends it, and that Next then
// reports the end of the input.
func TestParseRelease(t *testing.T) {
	big := strings.Repeat("v", 1<<20)
	heldAfter := func(in string) int {
		var p Parser
		p.Reset(strings.NewReader(in), 16<<20)
		for {
			if _, err := p.Next(); err != nil {
				break
			}
		}
		p.Release()
		if k, err := p.Next(); k != 0 || err != io.EOF {
			t.Errorf("Next after Release: got record %d, error %v; want io.EOF", k, err)
		}
		return p.held()
	}
	want := heldAfter("data: a\n\n")
	for _, in := range []string{
		"data: " + big, // spilled into chunks
		"data: a\n" + strings.Repeat("data: "+big[:1000]+"\n", 1000), // many lines of data
		"data: a\n\n:" + big,             // a long comment
		"data: " + big + "\n\n",          // kept for the next event
		"event: " + big + "\nid: " + big, // long field values
	} {
		if got := heldAfter(in); got > want {
			t.Errorf("a connection of %.30q... holds %d bytes after Release; want %d, as one with a small event", in, got, want)
		}
	}
}

// TestParseLongLineBufferGoesWhileBytesFlow checks that a read buffer grown
// past spillBufSize by a long line goes back to its first size at the first
// read after the line, even on a stream that never pauses.
func TestParseLongLineBufferGoesWhileBytesFlow(t *testing.T) {
	for _, head := range []string{":", "event: ", "field: "} {
		in := head + strings.Repeat("v", 1<<20) + "\ndata: a\n\n" + strings.Repeat("data: 0123456789\n\n", 500)
		var p Parser
		p.Reset(inReadsOf([]byte(in), 1000), 16<<20) // reads that end inside lines
		for i := 0; i < 100; i++ {
			if _, err := p.Next(); err != nil {
				t.Fatalf("%q line: %v", head, err)
			}
		}
		if len(p.buf) > initialBufSize {
			t.Errorf("a 1 MiB %q line, then events: the read buffer holds %d bytes; want %d", head, len(p.buf), initialBufSize)
		}
	}
}

// TestParseLimitAfterRepair checks that the limit bounds values as they are
// delivered, after each ill-formed sequence became a three-byte U+FFFD:
// four bad bytes make twelve. A value over the limit ends the connection
// like a line over it, and its block's id does not count.
func TestParseLimitAfterRepair(t *testing.T) {
	const bad, fixed = "\xff\xff\xff\xff", "\uFFFD\uFFFD\uFFFD\uFFFD"
	runAtEveryReadSize(t, []splitCase{
		{name: "data at the limit", max: 12, in: "data:" + bad + "\n\n", want: recs(recEv("", fixed, ""))},
		{name: "data over the limit", max: 11, in: "data:" + bad + "\n\n", want: recs(recTooLarge(11))},
		{name: "data in two lines at the limit", max: 13, in: "data:\xff\xff\ndata:\xff\xff\n\n", want: recs(recEv("", "\uFFFD\uFFFD\n\uFFFD\uFFFD", ""))},
		{name: "data in two lines over the limit", max: 12, in: "data:\xff\xff\ndata:\xff\xff\n\n", want: recs(recTooLarge(12))},
		{name: "a maximal subpart is one U+FFFD", max: 11, in: "data:\xf0\x9f\x98\xe2\x82\xff\n\n", want: recs(recEv("", "\uFFFD\uFFFD\uFFFD", ""))},
		{name: "its id does not count", max: 11, in: "id: 1\n\nid: 2\ndata:" + bad + "\n\n", want: recs(recIDOnly("1"), recTooLarge(11))},
		{name: "event type at the limit", max: 12, in: "event:" + bad + "\ndata:x\n\n", want: recs(recEv(fixed, "x", ""))},
		{name: "event type over the limit", max: 11, in: "event:" + bad + "\ndata:x\n\n", want: recs(recTooLarge(11))},
		{name: "id at the limit", max: 12, in: "id:" + bad + "\ndata:x\n\n", want: recs(recEvID("", "x", fixed))},
		{name: "id over the limit", max: 11, in: "id:" + bad + "\ndata:x\n\n", want: recs(recTooLarge(11))},
		{name: "comment at the limit", max: 12, in: ":" + bad + "\n", want: recs(recCm(fixed))},
		{name: "comment over the limit", max: 11, in: ":" + bad + "\n", want: recs(recTooLarge(11))},
	})
	// The next connection still has the id of the last block that ended well.
	got := parseConns(11, oneReadOf("id: 1\n\nid: 2\ndata:"+bad+"\n\n"), oneReadOf("data: x\n\n"))
	if want := recs(recIDOnly("1"), recTooLarge(11), recEv("", "x", "1")); !slices.Equal(got, want) {
		t.Errorf("an event over the limit after repair, then a new connection: got %q; want %q", got, want)
	}
}

// A comment the caller skips is never delivered, so it is not repaired,
// and its repaired length does not matter.
func TestParseSkippedCommentNotRepaired(t *testing.T) {
	var p Parser
	p.SkipComments(true)
	p.Reset(strings.NewReader(":\xff\xff\xff\xff\ndata: a\n\n"), 11)
	if k, err := p.Next(); k != Event || err != nil || string(p.Data()) != "a" || p.Comments() != 1 {
		t.Errorf("a skipped comment that repairs past the limit: got record %d, error %v, %d comments; want the event after it, 1 comment", k, err, p.Comments())
	}
}

// FuzzParseIdleBuffers checks, for any stream whose last block has ended,
// that the parser waits for more bytes holding its buffers at their first
// size, whatever came before and however the reads split it.
//
//	go test -run='^$' -fuzz='^FuzzParseIdleBuffers$' -fuzztime=15s ./internal/parser
func FuzzParseIdleBuffers(f *testing.F) {
	long := strings.Repeat("v", 40<<10) // longer than the buffer that long data lines use
	for _, s := range []string{
		"data: a\n\n",
		"data: " + long + "\n\n",
		"data: " + long + "\xff\n\n",
		"data: a\n" + strings.Repeat("data: "+long[:1000]+"\n", 20),
		"event: " + long + "\nid: " + long + "\ndata: x\n\n",
		":" + long + "\xff\n",
		"field: " + long + "\r\n",
		"id: " + long + "\n\nid: 1\n\n",
	} {
		f.Add([]byte(s), uint16(1000), uint32(0))
	}
	f.Fuzz(func(t *testing.T, in []byte, readSize uint16, limit uint32) {
		size := 16 << 20
		if limit > 0 {
			size = int(limit)
		}
		r := &stallingReader{}
		r.chunks = inReadsOf(append(in, "\n\n"...), int(readSize)+1).(*splitReader).chunks
		var p Parser
		p.Reset(r, size)
		for {
			if _, err := p.Next(); err != nil {
				if err != errStalled {
					return // over the limit: the connection ends
				}
				break
			}
		}
		// A wait that follows a full read may keep the busy stream's buffer
		// (see busyReads); any other holds the first size.
		busy := p.fullReads > 0 && len(p.buf) == bufSize(busyBufSize, p.max)
		if len(p.buf) != p.size && !busy || cap(p.data) > keptData || p.spare != nil || p.nChunks != 0 || p.moreChunks != nil || slices.ContainsFunc(p.firstChunks[:], func(c []byte) bool { return c != nil }) ||
			cap(p.scratch) > keptData || cap(p.typ) > keptText || cap(p.id) > keptText || cap(p.commentBuf) > keptText ||
			cap(p.lastID) > max(keptText, 2*len(p.lastID)) {
			t.Fatalf("input %.100q...: waiting, the parser holds a read buffer of %d bytes (first size %d), data %d, spare %d, chunks %d, scratch %d, type %d, id %d, comment %d, last id %d for %d bytes",
				in, len(p.buf), p.size, cap(p.data), cap(p.spare), p.nChunks, cap(p.scratch), cap(p.typ), cap(p.id), cap(p.commentBuf), cap(p.lastID), len(p.lastID))
		}
	})
}

// sizeRecorder records the room each read was given.
type sizeRecorder struct {
	r     io.Reader
	rooms []int
}

func (r *sizeRecorder) Read(b []byte) (int, error) {
	r.rooms = append(r.rooms, len(b))
	return r.r.Read(b)
}

// TestParseBusyReads checks that the read buffer grows while reads keep
// filling it (bytes are queued: fewer, larger reads), that reads which come
// short leave it at its first size, and that a parser which has drained a
// busy stream waits for more with its first size only.
func TestParseBusyReads(t *testing.T) {
	events := strings.Repeat("id: 123456\nevent: update\ndata: {\"seq\":123456,\"payload\":\"abcdefghijklmnopqrstuvwxyz\"}\n\n", 2000)
	parse := func(r io.Reader) (*Parser, *sizeRecorder, int) {
		var p Parser
		rec := &sizeRecorder{r: r}
		p.Reset(rec, 1<<20)
		n := 0
		for {
			k, err := p.Next()
			if err != nil {
				if err != errStalled && err != io.EOF {
					t.Fatal(err)
				}
				return &p, rec, n
			}
			if k == Event {
				n++
			}
		}
	}

	// Everything queued at once, as a socket behind a fast server.
	_, rec, n := parse(inReadsOf([]byte(events), len(events)))
	if n != 2000 {
		t.Fatalf("got %d events; want 2000", n)
	}
	if most := slices.Max(rec.rooms); most < busyBufSize/2 {
		t.Errorf("reads of a busy stream were given at most %d bytes; want about %d", most, busyBufSize)
	}
	if len(rec.rooms) > len(events)/(busyBufSize/4) {
		t.Errorf("%d reads for %d bytes queued at once; want far fewer", len(rec.rooms), len(events))
	}

	// Events that come one at a time: every read is short.
	one := strings.Index(events, "\n\n") + 2
	_, rec, _ = parse(inReadsOf([]byte(events), one))
	if most := slices.Max(rec.rooms); most > initialBufSize {
		t.Errorf("reads of events that come one by one were given up to %d bytes; want at most %d", most, initialBufSize)
	}

	// A busy stream drained, then a wait: back to the first size for it.
	r := &stallingReader{}
	r.chunks = inReadsOf([]byte(events), 64<<10).(*splitReader).chunks
	p, rec, _ := parse(r)
	if most := slices.Max(rec.rooms); most < busyBufSize/2 {
		t.Fatalf("the busy part's reads were given at most %d bytes; want about %d", most, busyBufSize)
	}
	if got, want := len(p.buf), initialBufSize; got != want {
		t.Errorf("waiting after a drained busy stream with a %d-byte buffer; want %d", got, want)
	}
}
