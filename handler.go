package sse

// This file is what users receive and register: the actions of a stream
// (Event, Comment, Start, Fault), and the handler table the Dispatcher
// (dispatcher.go) reads on every event without a lock.

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"time"
)

// An Action is one thing that happened on a stream: an [Event], a [Comment],
// a [Start] or a [Fault]. [Stream.All] yields them in stream order.
type Action interface {
	action()
}

// Event is one event received from the stream. Its strings are its own:
// they stay valid, and may be kept, after the handler returns.
type Event struct {
	// Type is the event's type: the value of its event field, or "message"
	// when the field is absent or empty.
	Type string
	// Data is the event's data: the values of its data fields, joined by LF.
	Data string
	// ID is the value of the event's own id field, or "" if it had none.
	ID string
	// HasID reports that the event had an id field of its own, possibly
	// empty: an empty one sets the last event ID to "", where an event
	// without one keeps it.
	HasID bool
	// LastEventID is the stream's last event ID once this event arrived:
	// ID if the event had one, otherwise the most recent ID before it, on
	// this connection or an earlier one. It is the ID as received, even one
	// that a reconnection cannot send (see [Stream.LastEventID]).
	LastEventID string
}

// Comment is a comment line received from the stream. The spec gives
// comments no meaning; servers often send them as heartbeats.
type Comment struct {
	Text string // the line without its leading colon
}

// Start reports that a connection succeeded: for HTTP, that the response had
// a 2xx status and the text/event-stream content type.
type Start struct {
	Attempt int // connection attempts by this stream so far, this one included

	// Status and Header are the response's status code and header, for a
	// connection made over HTTP; 0 and nil for a [Source] of your own.
	// Header is the response's own map, shared by every OnStart handler:
	// read it, do not change it.
	Status int
	Header http.Header
}

// Fault reports that a connection failed or ended, or that a handler failed.
//
// For a connection, Err is nil when the server ended the stream in an
// orderly way, and otherwise says why it failed, for example a
// *[StatusError], a *[ContentTypeError], a *[TimeoutError] or a network
// error. Final tells whether the stream stops for good; if it does not, it
// reconnects after RetryDelay.
//
// A handler failure (a *[PanicError] or a *[DecodeError]) does not touch the
// connection: Final is false, RetryDelay zero, and the stream goes on.
type Fault struct {
	Err        error
	Final      bool
	RetryDelay time.Duration
}

func (Event) action()   {}
func (Comment) action() {}
func (Start) action()   {}
func (Fault) action()   {}

// handler is a handler as the dispatcher holds it: fn, or for one that
// can fail (OnJSON), try, whose error (a *DecodeError) becomes a Fault.
// Holding fn itself, not a wrapper that returns nil, spares a call and a
// copy of the action on every delivery.
type handler[A any] struct {
	fn  func(context.Context, A)
	try func(context.Context, A) error
}

// handlers is the dispatcher's routing table. The event path reads it
// through an atomic pointer, without a lock; a registration publishes a new
// table (see register).
type handlers struct {
	all     []handler[Event]            // for event types without their own list
	byType  map[string][]handler[Event] // registration order, all-type handlers included
	comment []handler[Comment]
	start   []handler[Start]
	fault   []handler[Fault]
}

// events returns the handlers for an event type, in registration order.
func (h *handlers) events(typ string) []handler[Event] {
	if hs, ok := h.byType[typ]; ok {
		return hs
	}
	return h.all
}

// register applies edit to a copy of the table and publishes the copy.
//
// The copy shares its lists' arrays with the table it replaces, and edit
// appends to them in place (see grow), so a registration costs the lists it
// extends plus, for event handlers, a copy of the map: about linear in the
// handlers that exist. (Copying every list each time made registering n
// typed and n all-type handlers cost n³.)
func (d *Dispatcher) register(edit func(h *handlers)) {
	d.regMu.Lock()
	defer d.regMu.Unlock()
	h := *d.handlers.Load()
	edit(&h)
	d.handlers.Store(&h)
}

// grow appends fn to a list of the newest table. Appending in place is safe
// although older tables, which readers may still hold, share the array:
// lists only grow, each list has an array of its own, and only the newest
// table is appended to (under regMu), so the slot written lies beyond every
// published length and no reader has read it or will before the new table
// is stored.
func grow[A any](hs []handler[A], fn handler[A]) []handler[A] {
	return append(hs, fn)
}

// route registers an event handler for the given types, or for all types
// when none are given.
func (d *Dispatcher) route(r handler[Event], types ...string) {
	d.register(func(h *handlers) {
		h.byType = maps.Clone(h.byType) // readers of the old table look types up in it
		if len(types) == 0 {
			h.all = grow(h.all, r)
			for t, hs := range h.byType {
				h.byType[t] = grow(hs, r)
			}
			return
		}
		if h.byType == nil {
			h.byType = make(map[string][]handler[Event])
		}
		for _, t := range types {
			hs, ok := h.byType[t]
			if !ok {
				hs = slices.Clip(h.all) // the type's own array from the next append on
			}
			h.byType[t] = grow(hs, r)
		}
	})
}

// OnEvent registers fn for events of the given types, or of every type when
// none are given. A handler for every type receives every event, also the
// events of types that have handlers of their own; it is not a fallback,
// and not a browser's onmessage, which sees only "message" events (name
// "message" for that). An event reaches its handlers in the order they were
// registered, handlers for every type and for its own type interleaved.
// Like every handler, fn runs on the dispatcher goroutine, one handler at a
// time, and may be registered before or after Start. ctx carries the
// connection's trace span.
func (d *Dispatcher) OnEvent(fn func(ctx context.Context, ev Event), types ...string) {
	d.route(handler[Event]{fn: fn}, types...)
}

// OnComment registers fn for comment lines. It runs on the dispatcher
// goroutine, as soon as the line is read. While no comment handler is
// registered the stream does not hand comments up at all, so the first one,
// if registered while the dispatcher waits for bytes, gets the comments
// that follow the next event (or start, or fault).
func (d *Dispatcher) OnComment(fn func(ctx context.Context, c Comment)) {
	d.register(func(h *handlers) { h.comment = grow(h.comment, handler[Comment]{fn: fn}) })
}

// OnStart registers fn for every successful connection. It runs on the
// dispatcher goroutine before any event of that connection.
func (d *Dispatcher) OnStart(fn func(ctx context.Context, s Start)) {
	d.register(func(h *handlers) { h.start = grow(h.start, handler[Start]{fn: fn}) })
}

// OnFault registers fn for faults: connections that failed or ended, and
// handlers that panicked or could not decode their event. It runs on the
// dispatcher goroutine after the failure it reports, and before any
// reconnection delay. A panic inside fn is logged and otherwise ignored.
func (d *Dispatcher) OnFault(fn func(ctx context.Context, f Fault)) {
	d.register(func(h *handlers) { h.fault = grow(h.fault, handler[Fault]{fn: fn}) })
}

// OnJSON registers fn for events of type typ whose data is the JSON encoding
// of a T. An event that does not decode reaches the OnFault handlers as a
// *[DecodeError], fn is not called, and the stream goes on. Like every
// handler, fn runs on the dispatcher goroutine.
func OnJSON[T any](d *Dispatcher, typ string, fn func(ctx context.Context, v T, ev Event)) {
	d.route(handler[Event]{try: func(ctx context.Context, ev Event) error {
		var v T
		if err := json.Unmarshal([]byte(ev.Data), &v); err != nil {
			return &DecodeError{Event: ev, Err: err}
		}
		fn(ctx, v, ev)
		return nil
	}}, typ)
}
