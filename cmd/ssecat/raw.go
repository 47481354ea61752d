package main

// This file holds the line view of --raw: each line of the stream as it
// arrived, with what the SSE parser makes of it, followed by each event
// the library dispatched. The response body is teed into a lineSplitter,
// which follows the parser's rules (WHATWG "event stream interpretation")
// to cut and read lines; the library's own actions say when to show them.

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ssekit/sse"
)

// maxRawLine is how much of a line the view keeps and shows; the rest is
// counted. The event it belongs to still shows all of its data.
const maxRawLine = 4 << 10

// rawLine is one line of the stream as the view shows it.
type rawLine struct {
	text     string // the line without its end, cut at maxRawLine bytes
	cut      int    // bytes of the line not in text
	note     string // what the parser makes of it, when worth saying
	comment  bool   // a comment, which the library reports as a Comment
	dispatch bool   // a blank line that dispatches an event
}

// lineSplitter reads one connection's bytes as the parser does: lines end
// at LF, CR or CRLF (a CRLF may be split across reads), a byte order mark
// at the start is dropped, and each line is a comment, a field, or the
// blank line that ends a block.
type lineSplitter struct {
	lines   []rawLine // complete lines not shown yet
	partial []byte    // the start of the next line; at most maxRawLine bytes
	cut     int       // bytes of the next line beyond partial
	skipLF  bool      // the last line ended with CR: an LF next belongs to it
	started bool      // the first bytes (and a byte order mark) are past
	hasData bool      // the block has a data field: its blank line dispatches
	idSet   bool      // the block has a valid id field, id
	id      string
}

const bom = "\xEF\xBB\xBF"

// write reads b, the next bytes of the connection.
func (ls *lineSplitter) write(b []byte) {
	if !ls.started {
		// As the parser does, wait while the bytes could be the start of a BOM.
		ls.partial = append(ls.partial, b...)
		if len(ls.partial) < len(bom) && strings.HasPrefix(bom, string(ls.partial)) {
			return
		}
		ls.started = true
		b = bytes.TrimPrefix(ls.partial, []byte(bom))
		ls.partial = nil
	}
	for len(b) > 0 {
		if ls.skipLF {
			ls.skipLF = false
			if b[0] == '\n' {
				b = b[1:]
				continue
			}
		}
		i := bytes.IndexAny(b, "\r\n")
		if i < 0 {
			ls.add(b)
			return
		}
		ls.add(b[:i])
		ls.skipLF = b[i] == '\r'
		b = b[i+1:]
		ls.lines = append(ls.lines, ls.interpret(string(ls.partial), ls.cut))
		ls.partial, ls.cut = ls.partial[:0], 0
	}
}

// add appends b to the line under way, up to maxRawLine bytes.
func (ls *lineSplitter) add(b []byte) {
	n := min(len(b), maxRawLine-len(ls.partial))
	ls.partial = append(ls.partial, b[:n]...)
	ls.cut += len(b) - n
}

// interpret says what the parser makes of a line, and follows the block.
// A line cut at maxRawLine is read by its start, which holds its field name.
func (ls *lineSplitter) interpret(text string, cut int) rawLine {
	l := rawLine{text: text, cut: cut}
	if text == "" && cut == 0 {
		switch {
		case ls.hasData:
			l.note, l.dispatch = "end of block: event dispatched", true
		case ls.idSet:
			l.note = fmt.Sprintf("end of block: no data, nothing dispatched; last event ID now %q", ls.id)
		default:
			l.note = "end of block: no data, nothing dispatched"
		}
		ls.hasData, ls.idSet = false, false
		return l
	}
	if text[0] == ':' {
		l.comment = true
		return l
	}
	name, value, colon := strings.Cut(text, ":")
	value = strings.TrimPrefix(value, " ")
	switch name {
	case "data", "event", "id", "retry":
	default:
		l.note = fmt.Sprintf("ignored: unknown field %q", name)
		return l
	}
	if !colon {
		l.note = "no colon: the value is empty"
	}
	switch name {
	case "data":
		ls.hasData = true
	case "id":
		if strings.Contains(value, "\x00") {
			l.note = "ignored: the id holds a NUL"
			break
		}
		ls.idSet, ls.id = true, value
	case "retry":
		l.note = retryNote(value, cut)
	}
	return l
}

// retryNote says what a retry field does with value.
func retryNote(value string, cut int) string {
	if value == "" || cut > 0 || strings.Trim(value, "0123456789") != "" {
		return "ignored: not all ASCII digits"
	}
	ms, err := strconv.ParseUint(value, 10, 64)
	if err != nil {
		return "ignored: too large"
	}
	if ms > uint64(1<<63-1)/uint64(time.Millisecond) {
		return "reconnection time: the longest a Go duration holds"
	}
	return "reconnection time " + (time.Duration(ms) * time.Millisecond).String()
}

// lineView shows the lines of the current connection on a printer, each
// before the action it led to. Everything runs on the goroutine that
// ranges over the stream: the library calls the transport, and reads the
// body, from there. A nil *lineView (no --raw) does nothing.
type lineView struct {
	p       *humanPrinter
	split   *lineSplitter // the current connection's; nil before the first
	stopped bool
}

// before shows the lines that led to a, which the stream is about to
// report.
func (v *lineView) before(a sse.Action) {
	if v == nil || v.split == nil || v.stopped {
		return
	}
	ls := v.split
	switch a.(type) {
	case sse.Event:
		v.showUntil(func(l rawLine) bool { return l.dispatch })
	case sse.Comment:
		v.showUntil(func(l rawLine) bool { return l.comment })
	case sse.Fault: // the connection is over: the rest of its lines, and how it ended
		v.show(len(ls.lines))
		if len(ls.partial) > 0 || ls.cut > 0 {
			v.line(rawLine{text: string(ls.partial), cut: ls.cut, note: "the connection ended before the line did: discarded"})
		}
		switch {
		case ls.hasData:
			v.p.write(v.p.dim("  (the connection ended inside a block: its event is not dispatched)") + "\n")
		case ls.idSet:
			v.p.write(v.p.dim("  (the connection ended inside a block: its id is not kept)") + "\n")
		}
		v.split = nil
	}
}

// showUntil shows the lines up to and including the first one that done
// accepts; all of them if none does.
func (v *lineView) showUntil(done func(rawLine) bool) {
	n := len(v.split.lines)
	for i, l := range v.split.lines {
		if done(l) {
			n = i + 1
			break
		}
	}
	v.show(n)
}

// show shows the first n lines waiting, and drops them.
func (v *lineView) show(n int) {
	ls := v.split
	for _, l := range ls.lines[:n] {
		v.line(l)
	}
	ls.lines = append(ls.lines[:0], ls.lines[n:]...)
}

// line prints one line: "< " and its text, then its note.
func (v *lineView) line(l rawLine) {
	var b strings.Builder
	b.WriteString("< ")
	b.WriteString(sanitize(l.text))
	if l.cut > 0 {
		b.WriteString(v.p.dim(fmt.Sprintf("... (%d more bytes)", l.cut)))
	}
	if l.note != "" {
		b.WriteString("  ")
		b.WriteString(v.p.dim("(" + l.note + ")"))
	}
	b.WriteByte('\n')
	v.p.write(b.String())
}

// stop ends the view: nothing more is shown, such as lines read while the
// stream closes after --count.
func (v *lineView) stop() {
	if v != nil {
		v.stopped = true
	}
}

// teeTransport gives the view the body of each response the library will
// parse: a 2xx other than 204, of type text/event-stream. The library reads
// the start of other bodies too, but as the text of an error (-i shows it),
// not as lines of a stream.
type teeTransport struct {
	base http.RoundTripper
	view *lineView
}

func (t *teeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err == nil && resp.StatusCode >= 200 && resp.StatusCode <= 299 && resp.StatusCode != http.StatusNoContent &&
		isEventStream(resp.Header.Get("Content-Type")) {
		ls := &lineSplitter{}
		t.view.split = ls
		resp.Body = &teeBody{ReadCloser: resp.Body, view: t.view, split: ls}
	}
	return resp, err
}

// isEventStream reports whether a Content-Type is text/event-stream, as
// the library decides it: by its essence, a malformed parameter aside.
func isEventStream(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return (err == nil || err == mime.ErrInvalidMediaParameter) && mt == "text/event-stream"
}

// teeBody feeds what the library reads to the view's splitter.
type teeBody struct {
	io.ReadCloser
	view  *lineView
	split *lineSplitter
}

// Read first shows the lines waiting: the library reads again only once it
// has parsed every whole line it has, so they led to no action.
func (b *teeBody) Read(p []byte) (int, error) {
	if b.view.split == b.split && !b.view.stopped {
		b.view.show(len(b.split.lines))
	}
	n, err := b.ReadCloser.Read(p)
	b.split.write(p[:n])
	return n, err
}

// rawPrinter prints events for --raw, after the lines of the view: marked
// "= ", and without comments, which the view shows as lines.
type rawPrinter struct{ *humanPrinter }

func (p rawPrinter) event(ev sse.Event, _ time.Time) { p.write(p.eventText("= ", ev)) }

func (p rawPrinter) comment(sse.Comment, time.Time) {}
