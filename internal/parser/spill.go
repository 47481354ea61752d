package parser

import "bytes"

// This file handles data lines longer than the parser's buffer. Other long
// lines grow the buffer until they fit; a data line instead has what was
// read of it moved into the event's data whenever the buffer fills, and
// reading goes on into a buffer of moderate size (spillBufSize). That costs
// one copy of the line, not a chain of ever larger buffers (each cleared,
// and a copy of the last). The buffer stays for the next long line while
// bytes keep coming, and goes back to its first size once the stream
// pauses: a stream that received a huge event keeps no large buffer.

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
	if size := bufSize(spillBufSize, p.max); len(p.buf) < size {
		p.moveTo(make([]byte, size))
	} else {
		p.shift(p.start)
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
			if len(p.data) > 0 {
				p.chunks = append(p.chunks, p.data)
				p.chunkedLen += len(p.data)
			}
			p.data = make([]byte, 0, min(max(2*cap(p.data), minSpillChunk), maxSpillChunk))
		}
		n := copy(p.data[len(p.data):cap(p.data)], b)
		p.data = p.data[:len(p.data)+n]
		b = b[n:]
	}
	return nil
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
