package main

import (
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ssekit/sse"
)

// printer shows what happens on a stream. The first failed write is kept
// and returned by err; later calls do nothing.
type printer interface {
	event(ev sse.Event, at time.Time)
	comment(c sse.Comment, at time.Time)
	response(r response, at time.Time) // -i, on standard output
	notice(msg string)                 // reconnections and the end of the stream, on standard error
	err() error
}

// ANSI styles of the human output.
const (
	styleType  = "\x1b[1;36m" // bold cyan
	styleID    = "\x1b[33m"   // yellow
	styleDim   = "\x1b[2m"
	styleReset = "\x1b[0m"
)

// humanPrinter lays events out for a person:
//
//	price #2 {"symbol":"ACME"}
//	notice #6
//	  first line
//	  second line
//	: heartbeat
//
// and notices, on standard error:
//
//	-- connection lost (unexpected EOF); reconnecting in 300ms
type humanPrinter struct {
	w, stderr io.Writer
	color     bool
	werr      error
}

func newHumanPrinter(w, stderr io.Writer, color bool) *humanPrinter {
	return &humanPrinter{w: w, stderr: stderr, color: color}
}

func (p *humanPrinter) style(b *strings.Builder, style, text string) {
	if p.color {
		b.WriteString(style)
		b.WriteString(text)
		b.WriteString(styleReset)
		return
	}
	b.WriteString(text)
}

// dim returns text in the dim style.
func (p *humanPrinter) dim(text string) string {
	var b strings.Builder
	p.style(&b, styleDim, text)
	return b.String()
}

func (p *humanPrinter) event(ev sse.Event, _ time.Time) { p.write(p.eventText("", ev)) }

// eventText lays out ev after mark.
func (p *humanPrinter) eventText(mark string, ev sse.Event) string {
	var b strings.Builder
	b.WriteString(mark)
	p.style(&b, styleType, sanitize(ev.Type))
	if ev.ID != "" {
		b.WriteByte(' ')
		p.style(&b, styleID, "#"+sanitize(ev.ID))
	}
	lines := strings.Split(ev.Data, "\n")
	if len(lines) == 1 {
		if ev.Data != "" {
			b.WriteByte(' ')
			b.WriteString(sanitize(ev.Data))
		}
		b.WriteByte('\n')
	} else {
		b.WriteByte('\n')
		for _, l := range lines {
			b.WriteString("  ")
			b.WriteString(sanitize(l))
			b.WriteByte('\n')
		}
	}
	return b.String()
}

func (p *humanPrinter) comment(c sse.Comment, _ time.Time) {
	var b strings.Builder
	p.style(&b, styleDim, ":"+sanitize(c.Text))
	b.WriteByte('\n')
	p.write(b.String())
}

// response prints r as curl -i does, dimmed: the status line, the header
// sorted by name with each value on a line of its own, a blank line, and
// the body of a refused response.
func (p *humanPrinter) response(r response, _ time.Time) {
	var b strings.Builder
	line := func(text string) {
		p.style(&b, styleDim, sanitize(text))
		b.WriteByte('\n')
	}
	line(r.statusLine())
	for _, name := range slices.Sorted(maps.Keys(r.header)) {
		for _, v := range r.header[name] {
			line(name + ": " + v)
		}
	}
	b.WriteByte('\n')
	for l := range strings.Lines(string(r.body)) {
		line(strings.TrimSuffix(strings.TrimSuffix(l, "\n"), "\r"))
	}
	p.write(b.String())
}

func (p *humanPrinter) notice(msg string) {
	var b strings.Builder
	p.style(&b, styleDim, "-- "+msg)
	b.WriteByte('\n')
	io.WriteString(p.stderr, b.String()) // like the final error; its failure is not the output's
}

func (p *humanPrinter) write(s string) {
	if p.werr == nil {
		_, p.werr = io.WriteString(p.w, s)
	}
}

func (p *humanPrinter) err() error { return p.werr }

// jsonEvent is one line of the JSON output.
type jsonEvent struct {
	Type        string    `json:"type"`
	Data        string    `json:"data"`
	ID          string    `json:"id"`
	LastEventID string    `json:"last_event_id"`
	Time        time.Time `json:"time"`
}

// jsonComment is the line of a comment, printed with --comments.
type jsonComment struct {
	Comment string    `json:"comment"`
	Time    time.Time `json:"time"`
}

// jsonResponse is the line of a response, printed with -i.
type jsonResponse struct {
	Response jsonHead  `json:"response"`
	Time     time.Time `json:"time"`
}

// jsonHead is a response in a jsonResponse. Body is the start of a refused
// response's body, as text; it is left out for a response that started a
// stream, and for an empty body.
type jsonHead struct {
	Proto  string      `json:"proto"`
	Status int         `json:"status"`
	Header http.Header `json:"header"`
	Body   string      `json:"body,omitempty"`
}

// jsonPrinter writes one JSON object per line, for programs; notices go to
// standard error, so that standard output holds nothing but the stream.
type jsonPrinter struct {
	enc    *json.Encoder
	stderr io.Writer
	werr   error
}

func newJSONPrinter(stdout, stderr io.Writer) *jsonPrinter {
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false) // data is often HTML or JSON; keep it readable
	return &jsonPrinter{enc: enc, stderr: stderr}
}

func (p *jsonPrinter) event(ev sse.Event, at time.Time) {
	p.encode(jsonEvent{Type: ev.Type, Data: ev.Data, ID: ev.ID, LastEventID: ev.LastEventID, Time: at.UTC()})
}

func (p *jsonPrinter) comment(c sse.Comment, at time.Time) {
	p.encode(jsonComment{Comment: c.Text, Time: at.UTC()})
}

func (p *jsonPrinter) response(r response, at time.Time) {
	h := r.header
	if h == nil {
		h = http.Header{} // an object, always
	}
	p.encode(jsonResponse{Response: jsonHead{Proto: r.proto, Status: r.status, Header: h, Body: string(r.body)}, Time: at.UTC()})
}

func (p *jsonPrinter) encode(v any) {
	if p.werr == nil {
		p.werr = p.enc.Encode(v) // Encode ends the object with a newline
	}
}

func (p *jsonPrinter) notice(msg string) {
	fmt.Fprintf(p.stderr, "ssecat: %s\n", msg)
}

func (p *jsonPrinter) err() error { return p.werr }

// sanitize makes text from the server safe to print on a terminal: control
// characters (which could move the cursor or recolour the screen) and bytes
// that are not UTF-8 (a lone 0x9b is a control sequence to some terminals)
// are shown as \xNN escapes. Tabs are kept.
func sanitize(s string) string {
	if utf8.ValidString(s) && !strings.ContainsFunc(s, isControl) {
		return s
	}
	var b strings.Builder
	for piece := range safePieces(s) {
		b.WriteString(piece)
	}
	return b.String()
}

// safePieces yields s as sanitize prints it, one character or escape at a
// time, so that a caller can stop at a width without cutting an escape.
func safePieces(s string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for i := 0; i < len(s); {
			r, n := utf8.DecodeRuneInString(s[i:])
			piece := s[i : i+n]
			switch {
			case r == utf8.RuneError && n == 1:
				piece = fmt.Sprintf(`\x%02x`, s[i])
			case isControl(r):
				piece = fmt.Sprintf(`\x%02x`, r)
			}
			if !yield(piece) {
				return
			}
			i += n
		}
	}
}

func isControl(r rune) bool {
	return r < 0x20 && r != '\t' || r == 0x7f || 0x80 <= r && r <= 0x9f
}
