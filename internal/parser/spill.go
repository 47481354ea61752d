package parser

import (
	"bytes"
	"io"
	"unicode/utf8"
)

// This file handles data lines longer than the parser's buffer. Other long
// lines grow the buffer until they fit; a data line instead has what was
// read of it moved into the event's data once the buffer fills, and the
// rest of the line is read straight into the data (readSpilled), whose
// full buffers are set aside as chunks of growing size and joined once the
// event ends. That costs one copy of the line beyond the read, not a chain
// of ever larger buffers (each cleared, and a copy of the last), and the
// read buffer keeps its first size unless a read brings more after the
// line than it holds: a stream that received a huge event keeps no large
// buffer.

const (
	// Sizes of the chunks that hold a spilled line's data until it ends.
	minSpillChunk = 64 << 10
	maxSpillChunk = 1 << 20
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
		if err := p.addData(value); err != nil {
			return false, err
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
			p.nextChunk()
		}
		n := copy(p.data[len(p.data):cap(p.data)], b)
		p.data = p.data[:len(p.data)+n]
		b = b[n:]
	}
	return nil
}

// nextChunk sets a full data buffer aside as a chunk and starts the next,
// larger one.
func (p *Parser) nextChunk() {
	if len(p.data) > 0 {
		if p.chunks == nil {
			// Room for the chunks of a line of 16 MiB: the list does not
			// grow by steps (an allocation each) as an 8 MiB line fills it.
			p.chunks = make([][]byte, 0, 20)
		}
		p.chunks = append(p.chunks, p.data)
		p.chunkedLen += len(p.data)
	}
	p.data = make([]byte, 0, min(max(2*cap(p.data), minSpillChunk), maxSpillChunk))
}

// readSpilled reads more of a spilled line straight into the event's data,
// which spares copying it out of the read buffer. Each read goes into the
// data's free room, up to spillBufSize; once a read brings the line's end,
// the bytes from the end on go to the read buffer (grown only if they do
// not fit), where line finds them. Each read is checked for UTF-8 while it
// is in the cache; what fails, or a character cut between chunks, is left
// to the check of the whole data at the event's end (dirty).
func (p *Parser) readSpilled() error {
	most := bufSize(spillBufSize, p.max)
	cut := 0 // bytes at the end of data that start a character cut by a read
	for empty := 0; ; {
		if len(p.data) == cap(p.data) {
			p.nextChunk()
			p.dirty = p.dirty || cut > 0 // a character split across chunks: check it at the end
			cut = 0
		}
		room := p.data[len(p.data):cap(p.data)]
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
		p.data = p.data[:len(p.data)+i]
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
// once per line. bytes.Join allocates without clearing the memory first
// (make would clear it all, only for the copy to overwrite it: a quarter of
// the time of an 8 MiB event); the last part it joins is room for an id,
// which TakeData appends to the data it hands over.
func (p *Parser) joinChunks() {
	n := p.chunkedLen + len(p.data)
	parts := append(p.chunks, p.data, idPad[:])
	p.data = bytes.Join(parts, nil)[:n]
	p.chunks, p.chunkedLen = nil, 0
}

// idPad is joined after spilled data as room for an id; only its length
// matters.
var idPad [idRoom]byte
