package sse

import (
	"strings"
	"unsafe"
)

// This file turns the parser's records into what the stream hands out: an
// Event or a Comment whose strings are their own, allocated as cheaply as
// their size allows, and event types interned so that counting them by type
// allocates nothing. The parser (internal/parser) owns the bytes until
// then; the stream (stream.go) decides when a record becomes an action.

// What a stream keeps of the text it received, so that a server cannot
// grow its memory (or its metrics) without bound: at most maxInternedTypes
// event types, each of at most maxKeptText bytes; longer ones are not
// interned, and count under the shared overflow bucket of the metrics. A
// comment is kept for reuse only up to maxKeptText bytes too.
const (
	maxInternedTypes = 64
	maxKeptText      = 128
)

// setComment puts the comment the parser just reported in s.cur. Its string
// is made only for callers that want it, and a repeated comment (a
// heartbeat) reuses the last one, which next keeps only while it is short.
func (s *Stream) setComment() {
	if c := s.p.Comment(); s.cur.comment.Text != string(c) {
		s.cur.comment.Text = string(c)
	}
}

// buildEvent turns the parser's event into an Event whose strings share one
// allocation, and updates the last event ID.
func (s *Stream) buildEvent() Event {
	p := &s.p
	t, name := s.eventType(p.Type())
	s.conn.stats.events++
	s.tel.event(s.conn.ctx, t)
	ev := Event{Type: name}
	data := p.Data()
	if p.HasID() {
		n := len(data) // ownedText may take the data away
		all := s.ownedText(data, p.ID())
		ev.Data, ev.ID, ev.HasID = all[:n], all[n:], true
		ev.LastEventID = ev.ID
		if p.LastIDChanged() {
			s.setLastEventID(ev.ID)
		}
	} else {
		ev.Data = s.ownedText(data, nil)
		ev.LastEventID = s.lastEventID
	}
	return ev
}

// How event text is allocated: small events are carved out of shared
// blocks, so that most of them cost no allocation of their own (a kept
// event keeps at most one block alive); large data takes over the parser's
// buffer, which saves a copy; the rest gets an exactly sized string.
const (
	blockSize  = 512
	blockedMax = 128
	handOffMin = 4 << 10
)

// ownedText returns data followed by id as one string that is never
// written again.
func (s *Stream) ownedText(data, id []byte) string {
	n := len(data) + len(id)
	switch {
	case n == 0:
		return ""
	case n <= blockedMax:
		if len(s.block)-s.blockUsed < n {
			s.block, s.blockUsed = make([]byte, blockSize), 0
		}
		b := s.block[s.blockUsed : s.blockUsed+n : s.blockUsed+n]
		copy(b[copy(b, data):], id)
		// Advance to a word boundary: no later write shares a word with
		// this string, which another goroutine may be reading. (An offset,
		// not a reslice: storing an int needs no GC write barrier.)
		s.blockUsed = min(s.blockUsed+(n+7)&^7, len(s.block))
		return unsafe.String(unsafe.SliceData(b), n)
	case len(data) >= handOffMin:
		b := s.p.TakeData(id)
		return unsafe.String(unsafe.SliceData(b), len(b))
	}
	var b strings.Builder
	b.Grow(n)
	b.Write(data)
	b.Write(id)
	return b.String()
}

// eventType returns the type named by the bytes of an event field, for
// counting, and its name.
func (s *Stream) eventType(b []byte) (*eventType, string) {
	if len(b) == 0 {
		b = []byte("message")
	}
	if t := s.lastType; t != nil && t.name == string(b) {
		return t, t.name // most streams repeat one type
	}
	t, ok := s.types[string(b)]
	if !ok {
		name := string(b)
		if len(s.types) == maxInternedTypes || len(name) > maxKeptText {
			// Counted under the overflow bucket, whose eventType keeps no
			// name: the event carries this one, and the stream keeps none.
			return s.tel.eventType("", false), name
		}
		if s.types == nil {
			s.types = make(map[string]*eventType) // not before the first event: idle streams stay small
		}
		t = s.tel.eventType(name, true)
		s.types[name] = t
	}
	s.lastType = t // only when it changed: a pointer store costs a GC write barrier
	return t, t.name
}
