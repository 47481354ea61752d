package parser

import (
	"bytes"
	"io"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// This file handles data lines longer than the parser's buffer. Other long
// lines grow the buffer until they fit; a data line instead has what was
// read of it moved into the event's data once the buffer fills, and the
// rest of the line is read straight into the data (readSpilled), whose
// full buffers are set aside as chunks and joined once the event ends.
// Each chunk has room for three times the line's bytes before it, so that
// a line of n bytes takes about log4(n/64 KiB) chunks (five for 4 to 16
// MiB), never room past the size limit; chunks and the joined buffer are
// allocated without clearing (makeNoZero), so the part of the last chunk a
// line leaves unused costs no time. That is one copy of the line beyond the
// read, not a chain of ever larger buffers (each cleared, and a copy of the
// last), and the read buffer keeps its first size unless a read brings more
// after the line than it holds: a stream that received a huge event keeps
// no large buffer.

const (
	// The room of the first chunk that holds a spilled line's data.
	minSpillChunk = 64 << 10
	// The buffer while a line spills: large enough for reads to stay large
	// (a read through net/http's 4 KiB bufio into a smaller buffer costs a
	// copy and often a system call), small enough to drop when it ends.
	spillBufSize = 32 << 10
)

// spill makes room in a full buffer whose unread bytes are the start of a
// data line (or more of a line already spilled) by moving them into the
// event's data. It reports false, having changed nothing, for any other
// line, and for bytes not yet known to be valid UTF-8 (rare: the general
// path repairs them).
func (p *Parser) spill() (bool, error) {
	if p.valid-p.start < len(p.buf)/2 {
		return false, nil
	}
	part := p.buf[p.start:p.valid]
	var value []byte
	if !p.spilling {
		// Past "data: ", so that the optional space is known to be there or not.
		if len(part) <= len("data: ") {
			return false, nil
		}
		var ok bool
		if value, ok = cutField(part, "data"); !ok {
			return false, nil
		}
	}
	if p.spilled+p.end-p.start > p.max {
		return false, ErrTooLarge // the line alone is over the limit
	}
	if p.spilling {
		if err := p.appendSpilled(part); err != nil {
			return false, err
		}
	} else {
		p.clean = true
		// A line this long makes a large event: size its data as the last
		// large one, as growData would once past keptData.
		if need := len(p.data) + len(value) + 1; cap(p.data) <= keptData && p.hint > need {
			if err := p.growData(max(need, keptData+1)); err != nil {
				return false, err
			}
		}
		if !p.appendData(value) {
			p.nextChunk(0) // rather than growing data by steps
			if err := p.addData(value); err != nil {
				return false, err
			}
		}
		p.spilling = true
	}
	p.spilled += len(part)
	p.start = p.valid // what remains is the start of a character cut by the read
	if size := bufSize(spillBufSize, p.max); len(p.buf) < size && p.start < p.end {
		p.moveTo(make([]byte, size))
	} else {
		p.shift(p.start) // with nothing left, fill reads into data (readSpilled)
	}
	return true, nil
}

// appendSpilled adds more of a spilled line to the event's data. Once data
// is full, it fills chunks of growing size rather than growing data, which
// would copy everything so far each time: the event's end joins them
// (joinChunks), and data lines in between append to the last chunk.
func (p *Parser) appendSpilled(b []byte) error {
	if p.chunkedLen+len(p.data)+len(b) > p.max {
		return ErrTooLarge
	}
	for len(b) > 0 {
		if len(p.data) == cap(p.data) {
			p.nextChunk(0)
		}
		n := copy(p.data[len(p.data):cap(p.data)], b)
		p.data = p.data[:len(p.data)+n]
		b = b[n:]
	}
	return nil
}

// nextChunk sets the data buffer aside as a chunk, if it holds anything,
// and starts the next, with room for three times the line so far (the
// bytes held grow fourfold per chunk) but never for more than the limit
// lets the event still take. The last carry bytes of data move to the new
// chunk: they start a character that the next read completes, so that
// every chunk ends on a character boundary.
func (p *Parser) nextChunk(carry int) {
	full := p.data[:len(p.data)-carry]
	total := p.chunkedLen + len(full)
	room := p.max - total
	if total < room/3 {
		room = max(3*total, min(minSpillChunk, room))
	}
	// At the limit, one byte of room still reads the line's end.
	data := append(makeNoZero(max(room, 1)), p.data[len(full):]...)
	switch {
	case len(full) > 0:
		if p.nChunks < len(p.firstChunks) {
			p.firstChunks[p.nChunks] = full
		} else {
			p.moreChunks = append(p.moreChunks, full)
		}
		p.nChunks++
		p.chunkedLen += len(full)
	case cap(p.data) <= keptData && p.spare == nil:
		p.spare = p.data[:0] // for the next event, as growData keeps it
	}
	p.data = data
}

// dropChunks forgets the chunks of a spilled line, and lets their memory
// go.
func (p *Parser) dropChunks() {
	clear(p.firstChunks[:])
	p.moreChunks, p.nChunks, p.chunkedLen = nil, 0, 0
}

// makeNoZero returns an empty slice with room for at least n bytes, whose
// memory is not cleared first: the caller writes every byte it reads, and
// hands out no more than it wrote (see Data). Clearing a chunk that the
// line then overwrites, or leaves unused, was a tenth of the time of an
// 8 MiB event. strings.Builder is the only way the standard library offers
// to such memory that is not filled at once. Writing to the bytes behind
// its string is sound here only because that string never escapes: the
// Builder is dropped at once, and the slice is the memory's one reference.
func makeNoZero(n int) []byte {
	var b strings.Builder
	b.Grow(n)
	b.WriteByte(0) // so that the string, and its pointer, is not empty
	return unsafe.Slice(unsafe.StringData(b.String()), b.Cap())[:0]
}

// readSpilled reads more of a spilled line straight into the event's data,
// which spares copying it out of the read buffer. Each read goes into the
// data's free room, up to spillBufSize; once a read brings the line's end,
// the bytes from the end on go to the read buffer (grown only if they do
// not fit), where line finds them. When data is full, the read goes to the
// read buffer, and a new chunk is made only if the line goes on: a line
// that ends where its chunk does takes none for its end alone. Each read is
// checked for UTF-8 while it is in the cache; what fails is left to the
// check of the whole data at the event's end (dirty).
func (p *Parser) readSpilled() error {
	most := bufSize(spillBufSize, p.max)
	cut := 0 // bytes at the end of data that start a character cut by a read
	for empty := 0; ; {
		room := p.data[len(p.data):cap(p.data)]
		full := len(room) == 0
		if full {
			room = p.buf // nothing is unread in it
		}
		room = room[:min(len(room), most)]
		n, err := p.r.Read(room)
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
		empty = 0
		got := room[:n]
		i := lineEnd(got)
		if p.spilled+i > p.max || p.chunkedLen+len(p.data)+i > p.max {
			return ErrTooLarge
		}
		if !full {
			p.data = p.data[:len(p.data)+i]
		} else if i > 0 {
			p.nextChunk(cut)
			p.data = append(p.data, got[:i]...)
		}
		p.spilled += i
		if !p.dirty {
			unchecked := p.data[len(p.data)-i-cut:]
			cut = partialRune(unchecked)
			p.dirty = !utf8.Valid(unchecked[:len(unchecked)-cut])
		}
		if i < n || err != nil {
			p.dirty = p.dirty || cut > 0 // the line ends inside a character
			if rest := got[i:]; len(rest) > len(p.buf) {
				p.buf = make([]byte, most) // the buffer holds nothing now
			}
			// The rest is searched and checked as bytes just read.
			p.start, p.end = 0, copy(p.buf, got[i:])
			p.lf, p.cr, p.lfTo, p.crTo, p.valid, p.badTo = -1, -1, 0, 0, 0, 0
			p.checkUTF8()
			return nil
		}
	}
}

// lineEnd returns the index of the first CR or LF in b, or len(b) if there
// is none.
func lineEnd(b []byte) int {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		i = len(b)
	}
	if j := bytes.IndexByte(b[:i], '\r'); j >= 0 {
		return j
	}
	return i
}

// endSpill adds the rest of a spilled line, as line returned it.
func (p *Parser) endSpill(rest []byte) error {
	p.spilling = false
	if p.spilled+len(rest) > p.max {
		return ErrTooLarge
	}
	p.spilled = 0
	p.dirty = p.dirty || !p.clean
	if err := p.appendSpilled(rest); err != nil {
		return err
	}
	// Little unread after a long line suggests that the server paused:
	// back to the first size then.
	if p.end-p.start <= p.size/2 {
		p.shrink(p.size)
	}
	return nil
}

// joinChunks makes the event's data one buffer again, once the event is
// complete: joining after each spilled line would copy the data so far
// once per line. The buffer has room for an id after the data, which
// TakeData appends to the data it hands over.
func (p *Parser) joinChunks() {
	n := p.chunkedLen + len(p.data)
	joined := makeNoZero(n + idRoom)
	for _, c := range p.firstChunks[:min(p.nChunks, len(p.firstChunks))] {
		joined = appendInPieces(joined, c)
	}
	for _, c := range p.moreChunks {
		joined = appendInPieces(joined, c)
	}
	p.data = appendInPieces(joined, p.data)
	p.dropChunks()
}

// appendInPieces appends b to dst, which has room for it, a piece at a
// time. A copy cannot be preempted, and a loop of copies alone has no
// point where this goroutine stops for the garbage collector, which then
// spins on the other core until the join ends: the call to appendPiece for
// each piece is such a point.
func appendInPieces(dst, b []byte) []byte {
	const piece = 64 << 10
	for len(b) > piece {
		dst, b = appendPiece(dst, b[:piece]), b[piece:]
	}
	return append(dst, b...)
}

// appendPiece appends b to dst; see appendInPieces.
//
//go:noinline
func appendPiece(dst, b []byte) []byte { return append(dst, b...) }
