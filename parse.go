package sse

import (
	"bytes"
	"encoding/binary"
	"io"
	"math"
	"math/bits"
	"time"
	"unicode/utf8"
)

// This file turns the bytes of one connection into records, following the
// "event stream interpretation" of the WHATWG Server-sent events standard.
// Everything the parser hands out points into its own buffers and is valid
// only until the next call: the layers above copy what they keep.

// recKind says what [parser.next] found.
type recKind uint8

const (
	recEvent   recKind = iota + 1 // a block ended with data: typ, data, id
	recComment                    // a comment line: comment
	recRetry                      // a valid retry field: retry
	recID                         // a block without data changed the last event ID
)

const (
	bom            = "\xEF\xBB\xBF"
	initialBufSize = 2 << 10 // grows for long lines but data lines; small, since an idle stream holds it
	maxEmptyReads  = 100     // a Reader that keeps returning 0, nil is broken
)

// parser reads lines from one connection and interprets their fields.
// It is not safe for concurrent use.
type parser struct {
	r   io.Reader
	buf []byte
	max int // the largest line or event data accepted, in bytes

	// The unread bytes are buf[start:end]. lf and cr cache where the next
	// LF and CR are (-1: none before lfTo/crTo), so that no byte is searched
	// twice however the stream is split into reads.
	start, end int
	lf, cr     int
	lfTo, crTo int
	skipLF     bool // the last line ended with a CR at the end of the buffer
	// buf[start:valid] is known to be valid UTF-8, checked once per read,
	// so that the fields of clean lines need no check of their own. A
	// failed check is not retried before start reaches badTo.
	valid, badTo int
	clean        bool // the last line lies within valid
	bomDone      bool
	err          error // the Reader's error, returned once the buffer is empty

	// A data line longer than the buffer is moved into data as it arrives
	// (see spill.go): spilling says one is under way, spilled counts its
	// bytes so far, and chunks hold its data when data fills up.
	spilling   bool
	spilled    int
	chunks     [][]byte
	chunkedLen int

	// skipComments drops comment lines instead of returning them (they are
	// still counted): a caller that wants none saves a round trip per line.
	skipComments bool
	comments     int64 // comment lines read on this connection

	// The block being built. id is the spec's "last event ID buffer";
	// lastID is its value when the last block ended.
	typ     []byte
	data    []byte
	hasData bool
	dirty   bool // a data line was not known to be valid UTF-8
	// dataHint sizes the next data buffer after takeData gave one away.
	dataHint int
	id       []byte
	idSet    bool // this block had a valid id field
	lastID   []byte
	// idChanged tells whether the last block to end changed lastID.
	idChanged bool
	flush     bool // the last record was an event: clear the block first

	comment    []byte        // the text of the last comment, valid until the next call
	commentBuf []byte        // holds comment when it needed repair
	retry      time.Duration // the value of the last retry field
	scratch    []byte        // spare buffer for UTF-8 repair
}

// reset starts a new connection on r. The last event ID survives; the
// unfinished block of the previous connection, and its id, do not.
func (p *parser) reset(r io.Reader, max int) {
	if size := min(initialBufSize, max+1); cap(p.buf) != size {
		p.buf = make([]byte, size) // a buffer grown by a long line is not kept
	}
	p.r, p.max, p.err, p.comments = r, max, nil, 0
	p.buf = p.buf[:cap(p.buf)]
	p.start, p.end, p.lf, p.cr, p.lfTo, p.crTo = 0, 0, -1, -1, 0, 0
	p.valid, p.badTo = 0, 0
	p.skipLF, p.bomDone = false, false
	p.spilling, p.spilled, p.chunks, p.chunkedLen = false, 0, nil, 0
	p.clearBlock()
	p.id = append(p.id[:0], p.lastID...)
}

func (p *parser) clearBlock() {
	if cap(p.data) > 64<<10 && len(p.data) < cap(p.data)/4 {
		p.data = nil // do not keep a large buffer for small events
	}
	p.typ, p.data = p.typ[:0], p.data[:0]
	p.hasData, p.idSet, p.flush, p.dirty = false, false, false, false
}

// next returns the next record. At the end of the input it returns the
// Reader's error (io.EOF for an orderly end); an unfinished block is dropped.
func (p *parser) next() (recKind, error) {
	if p.flush {
		p.clearBlock()
	}
	for {
		line, err := p.line()
		if err != nil {
			return 0, err
		}
		if p.spilling { // line is the rest of a long data line
			if err := p.endSpill(line); err != nil {
				return 0, err
			}
			continue
		}
		if len(line) == 0 {
			if k := p.endBlock(); k != 0 {
				return k, nil
			}
			continue
		}
		switch line[0] {
		case ':':
			p.comments++
			if p.skipComments {
				continue
			}
			p.comment = p.text(&p.commentBuf, line[1:])
			return recComment, nil
		case 'd':
			if value, ok := cutField(line, "data"); ok {
				if err := p.addData(value); err != nil {
					return 0, err
				}
				if err := p.dataLines(); err != nil {
					return 0, err
				}
			}
		case 'e':
			if value, ok := cutField(line, "event"); ok {
				p.typ = p.appendText(p.typ[:0], value)
			}
		case 'i':
			if value, ok := cutField(line, "id"); ok && bytes.IndexByte(value, 0) < 0 {
				p.id = p.appendText(p.id[:0], value)
				p.idSet = true
			}
		case 'r':
			if value, ok := cutField(line, "retry"); ok {
				if d, ok := parseRetry(value); ok {
					p.retry = d
					return recRetry, nil
				}
			}
		}
		// Any other line is a field the spec tells us to ignore.
	}
}

// addData appends the value of a data field to the event's data.
func (p *parser) addData(value []byte) error {
	if p.chunkedLen+len(p.data)+len(value)+1 > p.max {
		return &TooLargeError{Limit: p.max}
	}
	if p.data == nil {
		p.data = make([]byte, 0, p.dataHint)
	}
	if p.hasData {
		p.data = append(p.data, '\n')
	}
	p.data = append(p.data, value...)
	p.hasData = true
	p.dirty = p.dirty || !p.clean
	return nil
}

// dataLines appends the data lines that follow in the buffer: in large
// events they are most lines, and a tight loop costs less than a trip
// through line, terminator and next for each. It takes only lines that the
// general path would read the same way: whole "data:" lines ended by LF, in
// bytes known to be valid UTF-8 and free of CR, and stops at anything else.
// (It tests for "data:" itself: going through cutField, which would also
// take "data" without a colon, measured 4-8% slower on small events.)
func (p *parser) dataLines() error {
	if p.cr >= p.start || p.crTo < p.end || p.valid <= p.start {
		return nil // a CR lies ahead, or the bytes are not checked yet
	}
	p.clean = true
	for {
		rest := p.buf[p.start:p.valid]
		if len(rest) < len("data:") || string(rest[:len("data:")]) != "data:" {
			return nil
		}
		value := rest[len("data:"):]
		i := bytes.IndexByte(value, '\n')
		if i < 0 {
			return nil // not whole: line reads it
		}
		p.start += len("data:") + i + 1
		value = value[:i]
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
		if err := p.addData(value); err != nil {
			return err
		}
	}
}

// cutField returns the value of line if line is the field name: the name
// alone, or the name, a colon, and the value after one optional space.
func cutField(line []byte, name string) (value []byte, ok bool) {
	if len(line) < len(name) || string(line[:len(name)]) != name {
		return nil, false
	}
	value = line[len(name):]
	if len(value) == 0 {
		return value, true
	}
	if value[0] != ':' {
		return nil, false // a longer name, such as "datum"
	}
	value = value[1:]
	if len(value) > 0 && value[0] == ' ' {
		value = value[1:]
	}
	return value, true
}

// endBlock runs at a blank line: the last event ID is committed, and the
// block becomes an event if it had data.
func (p *parser) endBlock() recKind {
	changed := p.idSet && !bytes.Equal(p.id, p.lastID) // only an id field changes p.id
	p.idChanged = changed
	if changed {
		p.lastID = append(p.lastID[:0], p.id...)
	}
	if !p.hasData {
		p.clearBlock()
		if changed {
			return recID
		}
		return 0
	}
	if len(p.chunks) > 0 {
		p.joinChunks()
	}
	if p.dirty && !utf8.Valid(p.data) {
		p.scratch = appendValidUTF8(p.scratch[:0], p.data)
		p.data, p.scratch = p.scratch, p.data
	}
	p.flush = true
	return recEvent
}

// takeData hands the event's data, with id appended, to the caller, who may
// keep it for good: the parser will not write to it again. The buffer goes
// as it is unless it has much more room than content (which would stay
// allocated for nothing); then its content is copied to an exact size. The
// next event gets a buffer sized after this one, so that its growth does not
// leave that room again.
func (p *parser) takeData(id []byte) []byte {
	n := len(p.data) + len(id)
	b := p.data
	if cap(b) > n+n/4 {
		b = append(make([]byte, 0, n), p.data...)
	}
	b = append(b, id...)
	p.data, p.dataHint = nil, n+n/8
	return b
}

// parseRetry accepts only ASCII digits, as the spec requires. A value too
// large for a Duration saturates; one too large for 64 bits is ignored.
func parseRetry(v []byte) (time.Duration, bool) {
	if len(v) == 0 {
		return 0, false
	}
	var ms uint64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if ms > (math.MaxUint64-d)/10 {
			return 0, false
		}
		ms = ms*10 + d
	}
	if ms > math.MaxInt64/uint64(time.Millisecond) {
		return math.MaxInt64, true
	}
	return time.Duration(ms) * time.Millisecond, true
}

// line returns the next line without its terminator (LF, CR or CRLF).
func (p *parser) line() ([]byte, error) {
	for {
		if p.skipLF && p.start < p.end {
			p.skipLF = false
			if p.buf[p.start] == '\n' {
				p.start++
			}
		}
		if i := p.terminator(); i >= 0 {
			line := p.buf[p.start:i]
			p.clean = i <= p.valid
			p.start = i + 1
			if p.buf[i] == '\r' {
				if p.start == p.end {
					p.skipLF = true
				} else if p.buf[p.start] == '\n' {
					p.start++
				}
			}
			return line, nil
		}
		if err := p.fill(); err != nil {
			return nil, err
		}
	}
}

// terminator returns the index of the first CR or LF in the unread bytes,
// or -1. Each byte is searched at most once for each of the two, however
// the stream is split into reads, except for the few bytes shortTerminator
// may look at again.
func (p *parser) terminator() int {
	start, end := p.start, p.end
	from := start // no terminator comes before from
	if p.lfTo <= start || p.crTo <= start {
		// Most lines are short: test the first bytes of a line not yet
		// scanned for both at once, which costs less than two calls to
		// bytes.IndexByte.
		to := min(end, start+shortScan)
		if i := shortTerminator(p.buf[start:to]); i >= 0 {
			return start + i
		}
		if to == end {
			p.lfTo, p.crTo = max(p.lfTo, end), max(p.crTo, end)
			return -1
		}
		from = to
	}
	if p.lf < start && p.cr < start {
		// If only a few bytes follow (tiny reads), test them the same way
		// instead of searching.
		if from = max(min(p.lfTo, p.crTo), from); end-from <= shortScan {
			if from == end {
				return -1 // scanned already (see scanTiny)
			}
			if i := shortTerminator(p.buf[from:end]); i >= 0 {
				p.lfTo, p.crTo = max(p.lfTo, from+i), max(p.crTo, from+i)
				return from + i
			}
			p.lfTo, p.crTo = end, end
			return -1
		}
	}
	lf := p.lf
	if lf < start {
		lf = p.search(&p.lf, &p.lfTo, '\n')
	}
	cr := p.cr
	if cr < start && p.crTo < end {
		cr = p.search(&p.cr, &p.crTo, '\r')
	}
	if cr >= start && (lf < 0 || cr < lf) {
		return cr
	}
	return lf
}

// shortScan is how many bytes shortTerminator tests before the searches
// take over.
const shortScan = 16

// shortTerminator returns the index of the first CR or LF in b, or -1. It
// tests eight bytes at a time for both, which for the start of a line costs
// less than a call to bytes.IndexByte for each.
func shortTerminator(b []byte) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	n := len(b)
	i := 0
	for ; i+8 <= n; i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		lf, cr := w^(ones*'\n'), w^(ones*'\r')
		// A byte of lf or cr is zero where w has the byte searched for; the
		// lowest flagged byte is always a true match.
		if t := ((lf-ones)&^lf | (cr-ones)&^cr) & highs; t != 0 {
			return i + bits.TrailingZeros64(t)/8
		}
	}
	for ; i < n; i++ {
		if c := b[i]; c == '\n' || c == '\r' {
			return i
		}
	}
	return -1
}

// search finds the next c in the unread bytes, resuming where the last
// search for it stopped (*to), so that no byte is searched twice however the
// stream is split into reads. It records the result in *at: -1 for none.
func (p *parser) search(at, to *int, c byte) int {
	if *to >= p.end {
		*at = -1
		return -1
	}
	from := max(*to, p.start)
	i := bytes.IndexByte(p.buf[from:p.end], c)
	if i < 0 {
		*at, *to = -1, p.end
		return -1
	}
	*at, *to = from+i, from+i+1
	return from + i
}

// fill reads more bytes, first making room (see makeRoom). Tiny reads that
// end no line are followed by more reads before it returns.
func (p *parser) fill() error {
	if p.err != nil {
		return p.err
	}
	if err := p.makeRoom(); err != nil {
		return err
	}
	for empty := 0; ; {
		n, err := p.r.Read(p.buf[p.end:])
		p.end += n
		if err != nil {
			p.err = err
		}
		if n == 0 {
			if err != nil {
				return err
			}
			if empty++; empty == maxEmptyReads {
				p.err = io.ErrNoProgress
				return p.err
			}
			continue
		}
		if !p.bomDone {
			p.skipBOM()
		}
		from := p.end - n
		if n > shortScan || from < p.start {
			p.checkUTF8()
			return nil
		}
		handled, lineEnd := p.scanTiny(from)
		if !handled {
			p.checkUTF8()
			return nil
		}
		// A tiny read that ended no line (a server trickling bytes): read
		// again here rather than through line and terminator, while there
		// is room.
		if lineEnd || p.err != nil || p.end == len(p.buf) {
			return nil
		}
	}
}

// makeRoom makes room at the end of the buffer for a read: it moves the
// unread bytes to the front, and when they fill the buffer, it spills a long
// data line into the event's data (see spill.go) or grows the buffer, up to
// the size limit.
func (p *parser) makeRoom() error {
	if p.end < len(p.buf) {
		return nil
	}
	if p.start > 0 {
		p.shift(p.start) // only when out of room: a shift per read is quadratic for tiny reads
		return nil
	}
	if spilled, err := p.spill(); spilled || err != nil {
		return err
	}
	if p.spilled+p.end > p.max { // spilled: a data line that stopped spilling (ill-formed UTF-8)
		return &TooLargeError{Limit: p.max}
	}
	p.moveTo(make([]byte, min(2*len(p.buf), p.max+1)))
	return nil
}

// scanTiny does for the bytes of a tiny read, buf[from:end], what
// checkUTF8 and terminator would do, in one pass: it checks that they are
// ASCII and finds the first CR or LF, and reports whether there was one. A
// server that trickles bytes makes a read per byte, and then these calls
// cost more than the bytes. It applies only when everything before from is
// known valid and free of terminators; otherwise, or for a byte that is not
// ASCII, it returns handled false having changed nothing.
func (p *parser) scanTiny(from int) (handled, lineEnd bool) {
	if p.valid != from || p.lfTo != from || p.crTo != from || p.lf >= p.start || p.cr >= p.start {
		return false, false
	}
	term := -1
	for i, c := range p.buf[from:p.end] {
		if c >= utf8.RuneSelf {
			return false, false
		}
		if term < 0 && (c == '\n' || c == '\r') {
			term = from + i
		}
	}
	p.valid = p.end
	if term < 0 {
		p.lfTo, p.crTo = p.end, p.end
		return true, false
	}
	// Both searches have covered the bytes up to term; the one that found
	// it records where.
	p.lfTo, p.crTo = term+1, term+1
	if p.buf[term] == '\n' {
		p.lf = term
	} else {
		p.cr = term
	}
	return true, true
}

// skipBOM drops a byte order mark at the start of the stream. While the
// bytes read so far are only the start of one, it waits for more (they hold
// no line terminator, so no line is held back by the wait).
func (p *parser) skipBOM() {
	head := p.buf[p.start:p.end]
	switch {
	case bytes.HasPrefix(head, []byte(bom)):
		p.start += len(bom)
	case len(head) < len(bom) && bytes.HasPrefix([]byte(bom), head):
		return
	}
	p.bomDone = true
}

// shift moves the unread bytes down by k and keeps the search state aligned.
func (p *parser) shift(k int) {
	copy(p.buf, p.buf[k:p.end])
	p.rebase(k)
}

// moveTo moves the unread bytes to the front of buf, which becomes the
// buffer: a larger one, or a smaller one once a long line has gone.
func (p *parser) moveTo(buf []byte) {
	copy(buf, p.buf[p.start:p.end])
	p.buf = buf
	p.rebase(p.start)
}

// rebase keeps the positions in the buffer aligned after its bytes moved
// down by k.
func (p *parser) rebase(k int) {
	p.start -= k
	p.end -= k
	p.lfTo = max(p.lfTo-k, 0)
	p.valid = max(p.valid-k, 0)
	p.badTo = max(p.badTo-k, 0)
	p.crTo = max(p.crTo-k, 0)
	if p.lf >= 0 {
		p.lf -= k
	}
	if p.cr >= 0 {
		p.cr -= k
	}
}

// checkUTF8 extends the part of the buffer known to be valid UTF-8 over the
// bytes just read. Lines start on character boundaries (after a CR or LF),
// so every line, and every field value, inside that part is valid too.
func (p *parser) checkUTF8() {
	from := p.valid
	if from < p.start {
		if p.start < p.badTo {
			return // the bytes that failed are still unread
		}
		from = p.start
	}
	if tiny := p.buf[from:p.end]; len(tiny) < 8 && isASCII(tiny) {
		p.valid = p.end // tiny reads: skip the calls below
		return
	}
	to := p.end - partialRune(p.buf[from:p.end])
	if utf8.Valid(p.buf[from:to]) {
		p.valid = to
	} else {
		p.badTo = p.end
	}
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// partialRune returns how many bytes at the end of b start a multi-byte
// sequence that the next read may complete.
func partialRune(b []byte) int {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax+1; i-- {
		switch c := b[i]; {
		case c < utf8.RuneSelf:
			return 0
		case c >= 0xC0:
			if utf8.FullRune(b[i:]) {
				return 0
			}
			return len(b) - i
		}
	}
	return 0
}

// text returns a comment from the current line: the line itself when it is
// known to be valid UTF-8 (it stays valid until the next read), or a
// repaired copy in *buf.
func (p *parser) text(buf *[]byte, src []byte) []byte {
	if p.clean {
		return src
	}
	*buf = appendValidUTF8((*buf)[:0], src)
	return *buf
}

// appendText appends a field value or comment from the current line,
// checking its UTF-8 only if the line was not already known to be valid.
func (p *parser) appendText(dst, src []byte) []byte {
	if p.clean {
		return append(dst, src...)
	}
	return appendValidUTF8(dst, src)
}

// appendValidUTF8 appends src to dst with every ill-formed sequence replaced
// by U+FFFD, one replacement per maximal subpart, exactly as the WHATWG UTF-8
// decoder does (which is not what a Go range loop does: it replaces per byte).
func appendValidUTF8(dst, src []byte) []byte {
	if utf8.Valid(src) {
		return append(dst, src...)
	}
	const replacement = "\uFFFD"
	var (
		need, seen   int
		lower, upper byte = 0x80, 0xBF
		seqStart     int
	)
	for i := 0; i < len(src); i++ {
		b := src[i]
		if need == 0 {
			switch {
			case b < 0x80:
				dst = append(dst, b)
			case b >= 0xC2 && b <= 0xDF:
				need = 1
			case b >= 0xE0 && b <= 0xEF:
				need = 2
				if b == 0xE0 {
					lower = 0xA0
				} else if b == 0xED {
					upper = 0x9F
				}
			case b >= 0xF0 && b <= 0xF4:
				need = 3
				if b == 0xF0 {
					lower = 0x90
				} else if b == 0xF4 {
					upper = 0x8F
				}
			default:
				dst = append(dst, replacement...)
			}
			seqStart = i
			continue
		}
		if b < lower || b > upper {
			// The sequence so far is one maximal subpart; b starts afresh.
			need, seen, lower, upper = 0, 0, 0x80, 0xBF
			dst = append(dst, replacement...)
			i--
			continue
		}
		lower, upper = 0x80, 0xBF
		seen++
		if seen == need {
			dst = append(dst, src[seqStart:i+1]...)
			need, seen = 0, 0
		}
	}
	if need != 0 {
		dst = append(dst, replacement...)
	}
	return dst
}

// Comments returns the comment lines read on this connection, those skipped
// included.
func (p *parser) Comments() int64 { return p.comments }
