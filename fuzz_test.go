package sse_test

// Fuzz targets for the parser, driven through the public Stream API. One
// compares the actions of a stream read whole with the same stream split
// into random reads; the other compares them with refParse, a deliberately
// plain parser written from the WHATWG text, below.
//
//	go test -run='^$' -fuzz='^FuzzParseSplit$' -fuzztime=15s .
//	go test -run='^$' -fuzz='^FuzzParseReference$' -fuzztime=15s .

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ssekit/sse"
)

// fuzzSeeds are streams worth starting from: every line ending, split
// CRLFs, BOMs, comments, ids with and without data, retry edge cases, bad
// UTF-8, NUL, unfinished blocks, and lines longer than the parser's first
// buffer (data lines spill into the event's data, others grow the buffer).
var fuzzSeeds = []string{
	"",
	"data: a\n\n",
	"\xEF\xBB\xBFdata: bom\r\n\r\n",
	"\xEF\xBB\xBF\xEF\xBB\xBFdata: two boms\n\n",
	"\xEF\xBBdata: half a bom\n\n",
	"id: 7\r\ndata: x\r\rdata\n\n",
	"event: add\nid: 1\ndata: one\ndata: two\n\n: comment\nid: 2\n\nid\ndata: y\n\n",
	"data:  two spaces\ndata:no space\ndata\n\n",
	"retry: 1500\ndata: r\n\nretry: x\nretry:\nretry: 18446744073709551615\nretry: 18446744073709551616\n",
	"retry: 9223372036854\ndata: big\n\n",
	"data: \xF0\x9F\x98\n\ndata: \xC0\x80\xED\xA0\x80\xE2\x82x\n\n",
	"id: a\x00b\ndata: nul\x00\n\n",
	":\xFF\r:\r\n:",
	"data: unfinished",
	"data: \r",
	"event:\ndata\r\n\r\n\r\n\n\r\r",
	"data: " + strings.Repeat("x", 5000) + "\nid: long\n\ndata: " + strings.Repeat("y", 70) + "\n\n",
	"data: " + strings.Repeat("é", 3000) + "\xFF\n\ndata: " + strings.Repeat("z", 9000) + "\n\n",
	"data: " + strings.Repeat("€", 3000) + "\r\ndata:" + strings.Repeat("a", 2500) + "\rid: 9\n: " + strings.Repeat("c", 3000) + "\n\n",
}

// FuzzParseSplit checks that how the network splits a stream into reads
// never changes what the stream yields, with any size limit, and that the
// parser never panics.
func FuzzParseSplit(f *testing.F) {
	for i, s := range fuzzSeeds {
		f.Add([]byte(s), uint64(i), uint16(0))
		f.Add([]byte(s), uint64(i), uint16(i+3))
	}
	f.Fuzz(func(t *testing.T, in []byte, seed uint64, limit uint16) {
		whole := fuzzRun(t, io.NopCloser(strings.NewReader(string(in))), int(limit))
		split := fuzzRun(t, fuzzSplitter(in, seed), int(limit))
		if !slices.Equal(whole, split) {
			t.Fatalf("input %.200q, split by seed %d, limit %d:\n%s", in, seed, limit, sse.DiffActions(whole, split))
		}
	})
}

// FuzzParseReference checks the parser, at random read sizes, against
// refParse.
func FuzzParseReference(f *testing.F) {
	for i, s := range fuzzSeeds {
		f.Add([]byte(s), uint64(i))
	}
	f.Fuzz(func(t *testing.T, in []byte, seed uint64) {
		got := fuzzRun(t, fuzzSplitter(in, seed), 0)
		want := refParse(in)
		if !slices.Equal(got, want) {
			t.Fatalf("input %.200q, split by seed %d:\n%s", in, seed, sse.DiffActions(got, want))
		}
	})
}

// fuzzRun reads body as one connection of a Stream and describes its
// actions as sse.Describe does, up to the Fault that ends the connection.
// Events are kept until the end, and only then described, so that an event
// whose strings changed after delivery shows up as a difference. limit is
// the maximum event size; 0 keeps the default.
func fuzzRun(t *testing.T, body io.ReadCloser, limit int) []string {
	opened := false
	opts := []sse.Option{sse.WithErrorStrategy(sse.AlwaysFail()),
		sse.WithSource(sse.SourceFunc(func(context.Context, string) (io.ReadCloser, error) {
			if opened {
				t.Fatal("the stream reconnected after its first fault")
			}
			opened = true
			return body, nil
		})),
		sse.WithErrorStrategy(sse.AlwaysContinue()),
		sse.WithJitter(0),
		sse.WithMinDelay(0), sse.WithMaxDelay(math.MaxInt64), // the Fault's delay is then the retry field's value
	}
	if limit > 0 {
		opts = append(opts, sse.WithMaxEventSize(limit))
	}
	s, err := sse.NewStream("", opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var actions []sse.Action
	for a := range s.All(context.Background()) {
		actions = append(actions, a)
		if _, ok := a.(sse.Fault); ok {
			break
		}
	}
	var out []string
	for _, a := range actions {
		out = append(out, sse.Describe(a))
	}
	return out
}

// fuzzSplitter returns a body that hands in out in reads of 0 to 16
// bytes, chosen by seed.
func fuzzSplitter(in []byte, seed uint64) io.ReadCloser {
	rng := rand.New(rand.NewPCG(seed, seed>>32))
	in = append([]byte(nil), in...)
	return io.NopCloser(fuzzReaderFunc(func(p []byte) (int, error) {
		if len(in) == 0 {
			return 0, io.EOF
		}
		n := copy(p[:min(len(p), rng.IntN(17))], in)
		in = in[n:]
		return n, nil
	}))
}

type fuzzReaderFunc func([]byte) (int, error)

func (f fuzzReaderFunc) Read(p []byte) (int, error) { return f(p) }

// refParse is the reference parser: the steps of the WHATWG "event stream
// interpretation", one at a time, with no attention to speed. It returns
// the actions one connection yields, as fuzzRun describes them, ending with
// the Fault of the orderly end, whose delay is the last retry value (1s,
// the initial delay, if none).
func refParse(in []byte) []string {
	out := []string{"start 1"}
	text := refDecode(in)
	text = strings.TrimPrefix(text, "\uFEFF") // one BOM, at the very start only

	var (
		data, typ, idBuf, lastID string
		hasData, hasID           bool
		retry                    = time.Second
	)
	for {
		// A line ends at CRLF, LF or CR; a last line without an end is
		// dropped, and with it the unfinished block.
		i := strings.IndexAny(text, "\r\n")
		if i < 0 {
			break
		}
		line := text[:i]
		if strings.HasPrefix(text[i:], "\r\n") {
			text = text[i+2:]
		} else {
			text = text[i+1:]
		}

		switch {
		case line == "": // dispatch
			lastID = idBuf
			if hasData {
				ev := sse.Event{Type: typ, Data: data, LastEventID: lastID}
				if ev.Type == "" {
					ev.Type = "message"
				}
				if hasID {
					ev.ID, ev.HasID = idBuf, true
				}
				out = append(out, sse.Describe(ev))
			}
			data, typ, hasData, hasID = "", "", false, false
		case line[0] == ':':
			out = append(out, sse.Describe(sse.Comment{Text: line[1:]}))
		default:
			name, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch name {
			case "event":
				typ = value
			case "data":
				if hasData {
					data += "\n"
				}
				data += value
				hasData = true
			case "id":
				if !strings.Contains(value, "\x00") {
					idBuf, hasID = value, true
				}
			case "retry":
				if d, ok := refRetry(value); ok {
					retry = d
				}
			}
		}
	}
	return append(out, sse.Describe(sse.Fault{RetryDelay: retry}))
}

// refRetry reads a retry value: ASCII digits only, in milliseconds. Values
// beyond 64 bits are ignored; values beyond what a Duration holds saturate.
func refRetry(v string) (time.Duration, bool) {
	if v == "" || strings.Trim(v, "0123456789") != "" {
		return 0, false
	}
	ms, _ := new(big.Int).SetString(v, 10)
	if ms.BitLen() > 64 {
		return 0, false
	}
	ns := ms.Mul(ms, big.NewInt(int64(time.Millisecond)))
	if !ns.IsInt64() {
		return math.MaxInt64, true
	}
	return time.Duration(ns.Int64()), true
}

// refDecode decodes b as the WHATWG UTF-8 decoder does: every maximal
// subpart of an ill-formed sequence becomes one U+FFFD. A maximal subpart
// is the longest run of bytes that starts some well-formed sequence, or a
// single byte; refPrefixes lists every such run by brute force.
func refDecode(b []byte) string {
	prefixes := refPrefixes()
	var out strings.Builder
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r != utf8.RuneError || size == 3 { // size 3: a real U+FFFD
			out.WriteRune(r)
			b = b[size:]
			continue
		}
		n := 1
		for k := min(3, len(b)); k > 1; k-- {
			if prefixes[string(b[:k])] {
				n = k
				break
			}
		}
		out.WriteRune(utf8.RuneError)
		b = b[n:]
	}
	return out.String()
}

// refPrefixes returns every proper prefix of the UTF-8 encoding of every
// scalar value.
var refPrefixes = sync.OnceValue(func() map[string]bool {
	set := make(map[string]bool)
	var buf [4]byte
	for r := rune(0); r <= utf8.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue // surrogates
		}
		enc := utf8.AppendRune(buf[:0], r)
		for k := 1; k < len(enc); k++ {
			set[string(enc[:k])] = true
		}
	}
	return set
})

// TestRefParse checks the reference parser itself on cases worked out by
// hand from the spec, so that the fuzz target compares against something
// known to be right.
func TestFuzzRefParse(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", []string{"start 1", "fault end final=false delay=1s"}},
		{"\xEF\xBB\xBFdata: a\r\n\r\n\xEF\xBB\xBFdata: b\n\n", []string{"start 1", `event message id="" last="" "a"`, "fault end final=false delay=1s"}},
		{"id: 1\ndata: x\ndata\n\nid\n\nid: 2\n\ndata: y\rretry: 250\r\r", []string{"start 1",
			`event message id="1" last="1" "x\n" has_id`, `event message id="" last="2" "y"`, "fault end final=false delay=250ms"}},
		{":c\revent: t\ndata:  z\n\nevent: u\n\ndata: w\n\n", []string{"start 1", `comment "c"`,
			`event t id="" last="" " z"`, `event message id="" last="" "w"`, "fault end final=false delay=1s"}},
		{"data: \xF0\x9F\x98\xED\xA0\x80\xC0\xF4\x90x\n\ndata: cut", []string{"start 1",
			fmt.Sprintf("event message id=\"\" last=\"\" %q", "\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFDx"), "fault end final=false delay=1s"}},
		{"id: 1\n\nid\ndata: y\n\ndata: z\n\n", []string{"start 1", `event message id="" last="" "y" has_id`, `event message id="" last="" "z"`, "fault end final=false delay=1s"}},
		{"retry: 18446744073709551615\nretry: 18446744073709551616\n", []string{"start 1", fmt.Sprintf("fault end final=false delay=%v", time.Duration(math.MaxInt64))}},
		{"retry: 9223372036854\nretry: 1x\n", []string{"start 1", "fault end final=false delay=2562047h47m16.854s"}},
	}
	for _, tt := range tests {
		if got := refParse([]byte(tt.in)); !slices.Equal(got, tt.want) {
			t.Errorf("refParse(%q):\ngot  %q\nwant %q", tt.in, got, tt.want)
		}
	}
}
