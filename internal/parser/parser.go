// Package parser turns the bytes of one event stream into records,
// following the "event stream interpretation" of the WHATWG Server-sent
// events standard. It is the only part of the library that sees bytes:
// package sse builds events, counts, and reconnects on top of the records
// it returns, and reaches the parser only through its methods.
//
// Everything a Parser hands out points into its own buffers and is valid
// only until the next call to Next, Reset or Release: callers copy what
// they keep, or take the data over with TakeData. Every buffer has a bound
// (the limit given to Reset, applied after U+FFFD repair), and none stays
// above its first size once the parser waits for the next event.
package parser

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"math/bits"
	"time"
	"unicode/utf8"
)

// Kind says what [Parser.Next] found.
type Kind uint8

// The kinds of record.
const (
	Event     Kind = iota + 1 // a block ended with data: Type, Data, ID, LastID
	Comment                   // a comment line: Comment
	Retry                     // a retry field with a valid value: Retry
	IDChanged                 // a block without data changed the last event ID: LastID
)

// ErrTooLarge reports a line, or a value, larger than the limit given to
// [Parser.Reset]. The parser cannot resynchronise in the middle of a line,
// so the connection is over.
var ErrTooLarge = errors.New("parser: line or value over the size limit")

const (
	bom = "\xEF\xBB\xBF"
	// initialBufSize is the read buffer's first size: small, since an idle
	// stream holds it. A long line other than a data line grows the buffer,
	// up to the limit, and the buffer is back to this size before the first
	// read after the line.
	initialBufSize = 2 << 10
	// keptData bounds the data buffer kept while the parser waits for bytes
	// between events, and the one kept for repairing data. A larger data
	// buffer is kept from one event for the next only while events follow
	// without a wait (see dropKept).
	keptData = 4 << 10
	// keptText bounds the buffers kept from one event type, id or repaired
	// comment for the next.
	keptText = 256
	// maxEmptyReads is how many reads in a row may return 0, nil: a Reader
	// that keeps doing so is broken.
	maxEmptyReads = 100
	// busyReads full reads in a row (each of at least half the first size)
	// say that bytes are queued faster than the parser takes them: the
	// buffer then grows to busyBufSize, so that each read (often a system
	// call, or a lock in an HTTP/2 body) brings many events, not a few.
	busyReads   = 4
	busyBufSize = 32 << 10
)

// Parser reads lines from one connection at a time and interprets their
// fields. The zero value is ready for Reset. It is not safe for concurrent
// use.
type Parser struct {
	r    io.Reader
	buf  []byte
	size int // the read buffer's first size
	max  int // the largest line or value accepted, in bytes

	// The unread bytes are buf[start:end]. lf and cr cache where the next
	// LF and CR are (-1: none before lfTo/crTo), so that no byte is searched
	// twice however the stream is split into reads.
	start, end int
	lf, cr     int
	lfTo, crTo int
	// buf[start:valid] is known to be valid UTF-8, checked once per read,
	// so that the fields of clean lines need no check of their own. A
	// failed check is not retried before start reaches badTo.
	valid, badTo int
	err          error // the Reader's error, returned once the buffer is empty
	// fullReads counts the reads in a row that filled the room they were
	// given (see busyReads); after a short one, the next read may wait.
	// Tiny reads (a server trickling bytes) are not counted: a field
	// written on their path costs them several percent.
	fullReads int

	// A data line longer than the buffer is moved into data as it arrives
	// (see spill.go): spilling says one is under way, spilled counts its
	// bytes so far, and chunks hold its data when data fills up: the first
	// nChunks in firstChunks, so that a line of a few chunks needs no list
	// allocated, the rest in moreChunks.
	spilled     int
	firstChunks [4][]byte
	moreChunks  [][]byte
	nChunks     int
	chunkedLen  int

	comments int64 // comment lines read on this connection

	// The block being built. id is the value of its id field; lastID is
	// the spec's "last event ID buffer" as the last block left it.
	typ  []byte
	data []byte
	// hint sizes data once it outgrows keptData: about the size of the
	// last event that did. spare is the buffer it outgrew, kept for the
	// next event until a wait.
	hint   int
	spare  []byte
	id     []byte
	lastID []byte

	comment    []byte        // the text of the last comment, valid until the next call
	commentBuf []byte        // holds comment when it needed repair
	retry      time.Duration // the value of the last retry field
	scratch    []byte        // spare buffer for UTF-8 repair

	// The flags, together so that they share a word rather than pad one
	// each: an idle stream holds a Parser.
	skipLF   bool // the last line ended with a CR at the end of the buffer
	clean    bool // the last line lies within valid
	bomDone  bool
	spilling bool // a data line is spilling (see above)
	// skipComments drops comment lines instead of returning them (they are
	// still counted): a caller that wants none saves a round trip per line.
	skipComments bool
	hasData      bool // the block has had a data field
	dirty        bool // a data line was not known to be valid UTF-8
	idSet        bool // this block had a valid id field
	idChanged    bool // the last block to end changed lastID
	// tidy says that the last record returned left work for the next call
	// (see tidyUp); flush, that it was an event, whose block goes.
	tidy  bool
	flush bool
}

// Reset starts a new connection on r, whose lines, and the data of whose
// events, may not exceed max bytes; a max below 1 counts as 1, and any
// larger one works, math.MaxInt included. The last event ID survives; the
// unfinished block of the previous connection, and its id, do not.
func (p *Parser) Reset(r io.Reader, max int) {
	if max < 1 {
		max = 1
	}
	p.size = bufSize(initialBufSize, max)
	if len(p.buf) != p.size {
		p.buf = make([]byte, p.size) // a buffer grown by a long line is not kept
	}
	p.restart(r, nil)
	p.max, p.comments = max, 0
}

// restart ends the current connection, if any, and makes r the next one, or
// the Reader's error, err, final: nothing unread, no block under way.
func (p *Parser) restart(r io.Reader, err error) {
	p.r, p.err = r, err
	p.start, p.end, p.lf, p.cr, p.lfTo, p.crTo = 0, 0, -1, -1, 0, 0
	p.valid, p.badTo = 0, 0
	p.skipLF, p.bomDone, p.fullReads = false, false, 0
	p.spilling, p.spilled = false, 0
	p.dropChunks()
	p.tidyUp()
	p.clearBlock()
}

// tidyUp ends the record Next returned last: the block of an event, or a
// comment repaired into a large buffer.
func (p *Parser) tidyUp() {
	p.tidy = false
	if p.flush {
		p.clearBlock()
	}
	if cap(p.commentBuf) > keptText {
		p.comment, p.commentBuf = nil, nil
	}
}

// clearBlock starts a new block. The buffers of the last one stay for the
// next, except those that a large event type or id grew; a large data
// buffer stays until the parser waits for bytes (see dropKept).
func (p *Parser) clearBlock() {
	p.typ, p.data = p.typ[:0], p.data[:0]
	if cap(p.typ) > keptText {
		p.typ = nil
	}
	if cap(p.id) > keptText {
		p.id = nil // its length does not matter: the next id field overwrites it
	}
	p.hasData, p.idSet, p.flush, p.dirty = false, false, false, false
}

// Release ends the current connection: it drops the unfinished block, lets
// go of the Reader, and keeps no buffer beyond its first size, so that a
// parser waiting for its next connection (a stream waiting to reconnect)
// holds little. Reset starts the next connection.
func (p *Parser) Release() {
	p.restart(nil, io.EOF)
	p.dropKept()
	if len(p.buf) > p.size {
		p.buf = nil // Reset makes one of the first size
	}
}

// dropKept drops what was kept only for events that follow at once, before
// a read that may wait for a long time: an idle parser holds its buffers at
// their first size only.
func (p *Parser) dropKept() {
	// A busy stream's last read filled its buffer: more is queued, and the
	// next read will not wait. (A server that stops just after such a read
	// leaves the buffer at busyBufSize while it waits, as one that stops
	// in the middle of an event does.)
	if p.fullReads == 0 || len(p.buf) != bufSize(busyBufSize, p.max) {
		p.shrink(p.size) // a buffer grown for a long line goes in any case
	}
	if cap(p.data) > keptData {
		p.data = nil
	}
	if p.spare != nil || p.comment != nil {
		p.spare, p.comment = nil, nil // the comment may point into an old buffer
	}
}

// reuse returns b emptied for another value, or nil if it is larger than
// keep: a buffer grown by a large value is not kept for small ones.
func reuse(b []byte, keep int) []byte {
	if cap(b) > keep {
		return nil
	}
	return b[:0]
}

// Next reads up to the next record and returns its kind. At the end of the
// input it returns the Reader's error (io.EOF for an orderly end), and an
// unfinished block is dropped; a line or value over the limit is
// ErrTooLarge.
func (p *Parser) Next() (Kind, error) {
	if p.tidy {
		p.tidyUp()
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
			if k, err := p.endBlock(); k != 0 || err != nil {
				return k, err
			}
			continue
		}
		switch line[0] {
		case ':':
			p.comments++
			if p.skipComments {
				continue
			}
			if p.comment, err = p.text(&p.commentBuf, line[1:]); err != nil {
				return 0, err
			}
			return Comment, nil
		case 'd':
			if value, ok := cutField(line, "data"); ok {
				if !p.appendData(value) {
					if err := p.addData(value); err != nil {
						return 0, err
					}
				}
				if err := p.dataLines(); err != nil {
					return 0, err
				}
			}
		case 'e':
			if value, ok := cutField(line, "event"); ok {
				if p.typ, err = p.appendText(p.typ[:0], value); err != nil {
					return 0, err
				}
			}
		case 'i':
			if value, ok := cutField(line, "id"); ok && bytes.IndexByte(value, 0) < 0 {
				if p.id, err = p.appendText(p.id[:0], value); err != nil {
					return 0, err
				}
				p.idSet = true
			}
		case 'r':
			if value, ok := cutField(line, "retry"); ok {
				if d, ok := parseRetry(value); ok {
					p.retry = d
					return Retry, nil
				}
			}
		}
		// Any other line is a field the spec tells us to ignore.
	}
}

// SkipComments tells Next to skip comment lines (it still counts them)
// instead of returning them: a caller that wants none saves a call per
// line. Default: false.
func (p *Parser) SkipComments(skip bool) { p.skipComments = skip }

// SetLastID sets the last event ID, as if an id field had set it.
func (p *Parser) SetLastID(id string) { p.lastID = append(reuse(p.lastID, keptText), id...) }

// Type returns the value of the current event's event field: empty if it
// had none (the event's type is then "message").
func (p *Parser) Type() []byte { return p.typ }

// Data returns the current event's data. Its capacity ends with it: the
// room after it may hold memory that was never cleared (see makeNoZero).
func (p *Parser) Data() []byte { return p.data[:len(p.data):len(p.data)] }

// ID returns the value of the current event's own id field, or nil if it
// had none: an empty id field gives an empty slice that is not nil.
func (p *Parser) ID() []byte {
	if !p.idSet {
		return nil
	}
	if p.id == nil {
		return []byte{}
	}
	return p.id
}

// HasID reports whether the current event had an id field of its own.
func (p *Parser) HasID() bool { return p.idSet }

// LastID returns the last event ID: after an Event or IDChanged record, as
// the block that ended left it.
func (p *Parser) LastID() []byte { return p.lastID }

// LastIDChanged reports whether the current event changed the last event
// ID.
func (p *Parser) LastIDChanged() bool { return p.idChanged }

// Retry returns the value of the retry field of a Retry record.
func (p *Parser) Retry() time.Duration { return p.retry }

// Comment returns the text of a Comment record: the line after its colon.
func (p *Parser) Comment() []byte { return p.comment }

// Comments returns how many comment lines this connection has had so far,
// skipped ones included.
func (p *Parser) Comments() int64 { return p.comments }

// appendData appends the value of a data field to the event's data if the
// buffer has room for it, and reports whether it did; addData makes room.
// It is apart from addData so that it is inlined on the path of every data
// line.
func (p *Parser) appendData(value []byte) bool {
	if n := len(p.data) + len(value) + 1; n > cap(p.data) || p.chunkedLen+n > p.max {
		return false
	}
	if p.hasData {
		p.data = append(p.data, '\n')
	}
	p.data = append(p.data, value...)
	p.hasData = true
	p.dirty = p.dirty || !p.clean
	return true
}

// addData appends the value of a data field to the event's data, within
// the limit, making room first.
func (p *Parser) addData(value []byte) error {
	if err := p.growData(len(p.data) + len(value) + 1); err != nil {
		return err
	}
	p.appendData(value)
	return nil
}

// growData makes room for need bytes of data, within the limit. Up to
// keptData the buffer doubles; past it, it takes the size of the last event
// that went past (hint) at once, which spares large events of one size a
// chain of copies, and costs small events nothing, however large the last
// one was.
func (p *Parser) growData(need int) error {
	if p.chunkedLen+need > p.max {
		return ErrTooLarge
	}
	if need <= cap(p.data) {
		return nil
	}
	size := max(need, 2*cap(p.data))
	if need <= keptData {
		size = min(size, keptData)
	} else {
		size = max(size, min(p.hint, p.max))
		if p.spare == nil {
			p.spare = p.data[:0] // no larger than keptData: for the next event
		}
	}
	// Not cleared: only appended bytes are ever handed out. Large data
	// leaves with its event (TakeData), so each large event makes a
	// buffer, and clearing it cost as much as parsing its lines.
	p.data = append(makeNoZero(size), p.data...)
	return nil
}

// dataLines appends the data lines that follow in the buffer: in large
// events they are most lines, and a tight loop costs less than a trip
// through line, terminator and next for each. It takes only lines that the
// general path would read the same way: whole "data:" lines ended by LF, in
// bytes known to be valid UTF-8 and free of CR, and stops at anything else.
// A "data:" line that the buffer ends inside is read on here too: reads cut
// a line per read, and the general path would search and check it again.
// (It tests for "data:" itself: going through cutField, which would also
// take "data" without a colon, measured 4-8% slower on small events.)
func (p *Parser) dataLines() error {
	if p.cr >= p.start || p.crTo < p.end || p.valid <= p.start {
		return nil // a CR lies ahead, or the bytes are not checked yet
	}
	return p.moreDataLines()
}

// moreDataLines is the loop of dataLines, apart so that the test before it
// is inlined: with tiny reads, it fails after nearly every data line.
func (p *Parser) moreDataLines() error {
	p.clean = true
	// The loop works on copies, stored back before any call that reads
	// the fields: no GC write barrier and no reload per line.
	buf, start, data := p.buf[:p.valid], p.start, p.data
	room := min(cap(data), p.max-p.chunkedLen)
	for {
		rest := buf[start:]
		if len(rest) < len("data:") || string(rest[:len("data:")]) != "data:" {
			break
		}
		value := rest[len("data:"):]
		i := bytes.IndexByte(value, '\n')
		if i < 0 {
			p.start, p.data = start, data
			if len(buf) < p.end {
				p.lf, p.lfTo = -1, len(buf)
				return nil // the rest is not checked yet: line reads it
			}
			if err := p.fill(); err != nil {
				return err // what line would have returned for this line
			}
			if p.spilling || p.valid < p.end || p.crTo < p.end && p.search(&p.cr, &p.crTo, '\r') >= 0 {
				return nil // a long line, bytes not checked, or a CR: line reads them
			}
			buf, start, data = p.buf[:p.valid], p.start, p.data
			continue
		}
		start += len("data:") + i + 1
		value = value[:i]
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
		n := len(data) + 1 + len(value)
		if n > room {
			p.start, p.data = start, data
			if err := p.addData(value); err != nil {
				return err
			}
			data = p.data
			room = min(cap(data), p.max-p.chunkedLen)
			continue
		}
		// A data line came before (the one Next read), so a LF joins them.
		at := len(data)
		data = data[:n]
		data[at] = '\n'
		copy(data[at+1:], value)
	}
	if start != p.start { // data grew only with start
		p.start, p.data = start, data
	}
	return nil
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
func (p *Parser) endBlock() (Kind, error) {
	if p.hasData {
		if p.nChunks > 0 {
			p.joinChunks()
		}
		if p.dirty && !utf8.Valid(p.data) {
			if err := p.repairData(); err != nil {
				return 0, err // the block did not end well: its id does not count
			}
		}
	}
	changed := p.idSet && !bytes.Equal(p.id, p.lastID)
	p.idChanged = changed
	if changed {
		p.lastID = append(reuse(p.lastID, keptText), p.id...)
	}
	if !p.hasData {
		p.clearBlock()
		if changed {
			return IDChanged, nil
		}
		return 0, nil
	}
	if n := len(p.data); n > keptData {
		p.hint = n + n/8
	}
	p.flush, p.tidy = true, true
	return Event, nil
}

// repairData replaces each ill-formed sequence in the event's data by
// U+FFFD, as the stream is decoded before it is parsed. The limit bounds
// the data as delivered: a U+FFFD takes three bytes, one bad byte as
// little as one.
func (p *Parser) repairData() error {
	n := repairedLen(p.data)
	if n > p.max {
		return ErrTooLarge
	}
	fixed := p.scratch[:0]
	if cap(fixed) < n {
		fixed = make([]byte, 0, n+idRoom)
	}
	// The bytes before repair are spare now, unless they are many.
	p.data, p.scratch = appendRepaired(fixed, p.data), reuse(p.data, keptData)
	return nil
}

// idRoom is the room left after large data for an id, which TakeData
// appends.
const idRoom = 64

// TakeData hands the current event's data, with id appended, to the
// caller, who may keep it for good: the parser will not write to it again.
// The buffer goes as it is unless it has much more room than content
// (which would stay allocated for nothing); then its content is copied to
// an exact size, and the buffer stays.
func (p *Parser) TakeData(id []byte) []byte {
	n := len(p.data) + len(id)
	b := p.data
	if cap(b) > n+n/4 {
		b = append(makeNoZero(n), p.data...)
	} else {
		p.data, p.spare = p.spare, nil
	}
	b = append(b, id...)
	return b[:n:n] // the room after it may not have been cleared
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
func (p *Parser) line() ([]byte, error) {
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
func (p *Parser) terminator() int {
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
func (p *Parser) search(at, to *int, c byte) int {
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
func (p *Parser) fill() error {
	if p.err != nil {
		return p.err
	}
	if p.start == p.end && !p.hasData {
		p.dropKept() // between events, with nothing unread: the read may wait
	}
	if err := p.makeRoom(); err != nil {
		return err
	}
	if p.spilling && p.start == p.end {
		p.fullReads = 0 // these reads go into data: the buffer's count starts again after the line
		return p.readSpilled()
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
			p.countRead(n, len(p.buf)-from)
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

// countRead counts a read of n bytes into room bytes of the buffer, and
// grows the buffer for the next once reads are seen to keep filling it.
func (p *Parser) countRead(n, room int) {
	if n < room || 2*room < p.size {
		p.fullReads = 0
		return
	}
	if p.fullReads++; p.fullReads >= busyReads && len(p.buf) < busyBufSize {
		if size := bufSize(busyBufSize, p.max); len(p.buf) < size {
			p.moveTo(make([]byte, size))
		}
	}
}

// makeRoom makes room at the end of the buffer for a read: it moves the
// unread bytes to the front, and when they fill the buffer, it spills a long
// data line into the event's data (see spill.go) or grows the buffer, up to
// the size limit.
func (p *Parser) makeRoom() error {
	// A buffer of up to spillBufSize stays while bytes keep coming, for
	// the next long data line; a larger one goes at once.
	if len(p.buf) > spillBufSize {
		p.shrink(spillBufSize)
	}
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
		return ErrTooLarge
	}
	p.moveTo(make([]byte, bufSize(2*len(p.buf), p.max)))
	return nil
}

// bufSize returns size, or less under a limit of max bytes: a buffer never
// needs more than max+1 (a line of max bytes and its terminator). It adds 1
// to max only when max is below size, so that no limit overflows.
func bufSize(size, max int) int {
	if max < size {
		return max + 1
	}
	return size
}

// shrink puts the read buffer back to its first size once the long line
// it grew for is over, if it is larger than keep and the unread bytes fit.
func (p *Parser) shrink(keep int) {
	if len(p.buf) > keep && !p.spilling && p.end-p.start < p.size {
		p.moveTo(make([]byte, p.size))
	}
}

// scanTiny does for the bytes of a tiny read, buf[from:end], what
// checkUTF8 and terminator would do, in one pass: it checks that they are
// ASCII and finds the first CR or LF, and reports whether there was one. A
// server that trickles bytes makes a read per byte, and then these calls
// cost more than the bytes. It applies only when everything before from is
// known valid and free of terminators; otherwise, or for a byte that is not
// ASCII, it returns handled false having changed nothing.
func (p *Parser) scanTiny(from int) (handled, lineEnd bool) {
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
func (p *Parser) skipBOM() {
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
func (p *Parser) shift(k int) {
	copy(p.buf, p.buf[k:p.end])
	p.rebase(k)
}

// moveTo moves the unread bytes to the front of buf, which becomes the
// buffer: a larger one, or a smaller one once a long line has gone.
func (p *Parser) moveTo(buf []byte) {
	copy(buf, p.buf[p.start:p.end])
	p.buf = buf
	p.rebase(p.start)
}

// rebase keeps the positions in the buffer aligned after its bytes moved
// down by k.
func (p *Parser) rebase(k int) {
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
func (p *Parser) checkUTF8() {
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
// valid UTF-8 (it stays valid until the next read), or a repaired copy in
// *buf, within the limit.
func (p *Parser) text(buf *[]byte, src []byte) ([]byte, error) {
	if p.clean || utf8.Valid(src) {
		return src, nil
	}
	if repairedLen(src) > p.max {
		return nil, ErrTooLarge
	}
	*buf = appendRepaired((*buf)[:0], src)
	p.tidy = p.tidy || cap(*buf) > keptText
	return *buf, nil
}

// appendText appends a field value from the current line to dst, repaired
// if it is not valid UTF-8; the result may not exceed the limit.
func (p *Parser) appendText(dst, src []byte) ([]byte, error) {
	if p.clean || utf8.Valid(src) {
		return append(dst, src...), nil
	}
	if len(dst)+repairedLen(src) > p.max {
		return dst, ErrTooLarge
	}
	return appendRepaired(dst, src), nil
}

// The WHATWG UTF-8 decoder replaces an ill-formed sequence by one U+FFFD
// per maximal subpart: the longest start of a well-formed sequence, or a
// single byte (which is not what a Go range loop does: it replaces per
// byte).
const replacement = "\uFFFD"

// repairedLen returns the length of b once repaired.
func repairedLen(b []byte) int {
	n := 0
	for {
		at, bad := invalidAt(b)
		if at < 0 {
			return n + len(b)
		}
		n += at + len(replacement)
		b = b[at+bad:]
	}
}

// appendRepaired appends b to dst, repaired.
func appendRepaired(dst, b []byte) []byte {
	for {
		at, bad := invalidAt(b)
		if at < 0 {
			return append(dst, b...)
		}
		dst = append(append(dst, b[:at]...), replacement...)
		b = b[at+bad:]
	}
}

// invalidAt returns where the first ill-formed sequence in b starts, and
// the length of its maximal subpart; at is -1 if b is valid UTF-8.
func invalidAt(b []byte) (at, bad int) {
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			i++
			continue
		}
		if r, size := utf8.DecodeRune(b[i:]); r != utf8.RuneError || size > 1 {
			i += size // size > 1: a U+FFFD that was sent as such
			continue
		}
		return i, subpartLen(b[i:])
	}
	return -1, 0
}

// subpartLen returns the length of the maximal subpart at the start of b,
// which starts an ill-formed sequence: how many of its bytes could begin a
// well-formed one, at least 1.
func subpartLen(b []byte) int {
	need := 0                        // continuation bytes the lead byte calls for
	lo, hi := byte(0x80), byte(0xBF) // the range of the first of them
	switch c := b[0]; {
	case c >= 0xC2 && c <= 0xDF:
		need = 1
	case c >= 0xE0 && c <= 0xEF:
		need = 2
		if c == 0xE0 {
			lo = 0xA0 // no overlong forms
		} else if c == 0xED {
			hi = 0x9F // no surrogates
		}
	case c >= 0xF0 && c <= 0xF4:
		need = 3
		if c == 0xF0 {
			lo = 0x90 // no overlong forms
		} else if c == 0xF4 {
			hi = 0x8F // nothing past U+10FFFF
		}
	}
	n := 1
	for n <= need && n < len(b) && b[n] >= lo && b[n] <= hi {
		n++
		lo, hi = 0x80, 0xBF
	}
	return n
}
