package sse

// This file is the push side: the Dispatcher runs a Stream (stream.go) on a
// goroutine of its own and calls the handlers registered in handler.go, one
// at a time, in stream order. It ranges over the stream's one iterator and
// uses nothing else of the stream but its public methods.

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// Dispatcher reads a Server-Sent Events stream on a goroutine of its own and
// calls the handlers registered with OnEvent, OnComment, OnStart, OnFault and
// [OnJSON].
//
// Handlers run one at a time on the dispatcher goroutine, in stream order:
// OnStart before the events of its connection, OnFault after the failure it
// reports. A slow handler therefore slows the stream (and nothing is
// dropped); a handler that must block for long should hand work to a
// goroutine of its own. A handler that panics becomes a Fault with a
// *[PanicError], and the stream goes on. Handlers may be registered at any
// time, from any goroutine; one registered while an event is being
// delivered sees the next event.
//
// A handler that calls runtime.Goexit (as testing.T.Fatal does) ends the
// dispatcher goroutine, and no recover can prevent that. The stream then
// stops for good: its connection is closed, no further handler runs
// (OnFault included), and Wait, Run, and Start if it has not returned yet,
// return [ErrHandlerExited]. The same holds for the other callbacks the
// dispatcher goroutine runs: a [Source], an [ErrorStrategy], a BackOff or a
// request hook.
type Dispatcher struct {
	s        *Stream
	regMu    sync.Mutex // serialises registrations
	handlers atomic.Pointer[handlers]
	gid      atomic.Int64    // the dispatcher goroutine's id, once running
	runCtx   context.Context // the dispatcher goroutine's context, read only there
	ready    chan<- error    // Start waits on it; set by Start, then used only by the dispatcher goroutine

	mu      sync.Mutex // guards the fields below
	started bool
	closed  bool
	cancel  context.CancelCauseFunc
	done    chan struct{}
	err     error // why the stream stopped, for Wait

	connected    chan struct{} // closed once a first connection's OnStart handlers have run; made by the first WaitConnected
	wasConnected bool
	lastFault    error // the final Fault's error, for WaitConnected; guarded by mu
}

// New returns a Dispatcher for the stream at url (http or https), configured
// by opts. It does not connect: [Dispatcher.Start] or [Dispatcher.Run] does.
// It fails only for a URL or options that cannot work.
func New(url string, opts ...Option) (*Dispatcher, error) {
	s, err := NewStream(url, opts...)
	if err != nil {
		return nil, err
	}
	d := &Dispatcher{s: s, done: make(chan struct{})}
	d.handlers.Store(&handlers{})
	return d, nil
}

// Start starts the dispatcher goroutine and returns once the first
// connection has succeeded (nil) or the error strategy has given up on it
// (that error), in either case after the OnStart or OnFault handlers for
// it have run, so what they wrote is visible to Start's caller; a server
// that asks the stream to stop (204 No Content) makes it return nil. If
// Close is called or ctx ends first, OnStart handlers included, Start
// returns [ErrClosed] or ctx's cause: the stream is not running. The stream
// then runs until Close, until ctx is done, or until the error strategy
// gives up.
//
// Start blocks for as long as the first connection takes, which under a
// retrying error strategy may be for ever, and ctx bounds the stream as
// well as the wait. To wait at most some time for the first connection and
// let the stream go on trying in the background, run it on a goroutine of
// its own and use [Dispatcher.WaitConnected] with a deadline.
//
// A Dispatcher runs once: a second Start returns [ErrStarted], also after
// the stream has stopped. To start again, make a new Dispatcher, with
// [WithLastEventID](d.LastEventID()) to resume where this one stopped; its
// first connection is not delayed, so a loop that restarts must wait
// between rounds itself (NextRetryDelay says how long).
func (d *Dispatcher) Start(ctx context.Context) error {
	d.mu.Lock()
	switch {
	case d.closed:
		d.mu.Unlock()
		return ErrClosed
	case d.started:
		d.mu.Unlock()
		return ErrStarted
	}
	d.started = true
	runCtx, cancel := context.WithCancelCause(ctx)
	d.cancel = cancel
	ready := make(chan error, 1)
	d.ready = ready
	d.mu.Unlock()

	go d.serve(ctx, runCtx)
	return <-ready
}

// Run is Start followed by Wait: it blocks until the stream stops, and
// returns the error that stopped it (see [Dispatcher.Wait]).
func (d *Dispatcher) Run(ctx context.Context) error {
	if err := d.Start(ctx); errors.Is(err, ErrStarted) {
		return err
	}
	return d.Wait()
}

// Close stops the stream for good. Called from outside, handlers of other
// dispatchers included, it returns once the dispatcher goroutine has exited
// and no handler runs any more. Called from one of d's handlers, it cannot
// wait for the goroutine it runs on: it returns at once, no further handler
// is called, and the goroutine exits when the handler returns. It is safe
// to call more than once, and before Start.
func (d *Dispatcher) Close() error {
	d.mu.Lock()
	wasClosed := d.closed
	d.closed = true
	started, cancel := d.started, d.cancel
	if !started && !wasClosed {
		close(d.done)
	}
	d.mu.Unlock()
	d.s.Close()
	if cancel != nil {
		cancel(ErrClosed)
	}
	if started && !d.onDispatcherGoroutine() {
		<-d.done
	}
	return nil
}

// Interrupt drops the current connection and reconnects, as
// [Stream.Interrupt] describes. It is safe to call from any goroutine,
// handlers included.
func (d *Dispatcher) Interrupt() { d.s.Interrupt() }

// Wait blocks until the dispatcher goroutine has exited, and returns the
// error the error strategy gave up on, or [ErrHandlerExited]; it returns nil
// when the stream was stopped by Close or its context, or stopped as the
// server asked (an orderly end the error strategy does not retry, or a 204
// No Content). Like Done, it does not return before Start has been called
// and the stream has stopped, or Close was called: another goroutine may
// start the dispatcher later. It must not be called from one of d's
// handlers, where it would wait for itself: there it returns [ErrStarted]
// at once.
func (d *Dispatcher) Wait() error {
	if d.onDispatcherGoroutine() {
		return ErrStarted
	}
	<-d.done
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}

// WaitConnected blocks until the dispatcher's first connection has
// succeeded and its OnStart handlers have run, and returns nil. If the
// stream stops before it ever connects, it returns the error of the final
// Fault (which matches [ErrServerStopped] for a 204), or ErrClosed after
// Close or the end of Start's context. If ctx ends first, it returns ctx's
// cause, and the stream goes on trying in the background. It may be called
// before Start, from any goroutine but the dispatcher's own: from a handler
// it returns [ErrStarted] at once.
func (d *Dispatcher) WaitConnected(ctx context.Context) error {
	if d.onDispatcherGoroutine() {
		return ErrStarted
	}
	connected := d.connectedChan()
	select {
	case <-connected:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-d.done:
	}
	select {
	case <-connected: // it connected, and then stopped
		return nil
	default:
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.lastFault != nil {
		return d.lastFault
	}
	return ErrClosed
}

// connectedChan returns the channel that is closed once the dispatcher has
// connected. It is made on first use: an idle dispatcher nobody waits on
// holds none.
func (d *Dispatcher) connectedChan() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.connected == nil {
		d.connected = make(chan struct{})
		if d.wasConnected {
			close(d.connected)
		}
	}
	return d.connected
}

// markConnected records a first connection, for WaitConnected.
func (d *Dispatcher) markConnected() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.wasConnected {
		d.wasConnected = true
		if d.connected != nil {
			close(d.connected)
		}
	}
}

// Done returns a channel that is closed once the dispatcher goroutine has
// exited (or Close was called before Start).
func (d *Dispatcher) Done() <-chan struct{} { return d.done }

// LastEventID returns the stream's last event ID; see [Stream.LastEventID].
func (d *Dispatcher) LastEventID() string { return d.s.LastEventID() }

// NextRetryDelay returns the delay before the next reconnection; see
// [Stream.NextRetryDelay].
func (d *Dispatcher) NextRetryDelay() time.Duration { return d.s.NextRetryDelay() }

// serve is the dispatcher goroutine: run, and the teardown that follows it
// however it ends. A handler (or another callback run here) may end the
// goroutine with runtime.Goexit, which no recover stops; the teardown then
// stops the stream and reports ErrHandlerExited.
func (d *Dispatcher) serve(ctx, runCtx context.Context) {
	d.gid.Store(goroutineID())
	d.runCtx = runCtx
	returned := false
	defer func() {
		if !returned {
			if v := recover(); v != nil {
				panic(v) // a panic outside any handler is a bug: let it crash as it would have
			}
			d.exited()
		}
		d.cancel(nil)
		close(d.done)
	}()
	d.run(ctx)
	returned = true
}

// run pulls actions from the stream and calls the handlers, until the
// stream stops. The stream's iterator holds the stream for the loop, and
// lets go of it before serve's teardown runs, however run ends.
//
// The stream answers to ctx, Start's: every cancellation of the
// dispatcher's own context (Close, a Goexit, the end of run) stops the
// stream itself too, and a stream that watched that context would cost
// each idle dispatcher its Done channel and a place among its children.
func (d *Dispatcher) run(ctx context.Context) {
	started := d.signalStart
	for st, ev := range d.s.steps(ctx, d.wantsComments) {
		switch st.kind {
		case kindEvent:
			deliver(d, d.handlers.Load().events(ev.Type), st.ctx, ev)
		case kindComment:
			deliver(d, d.handlers.Load().comment, st.ctx, st.comment)
		case kindStart:
			deliver(d, d.handlers.Load().start, st.ctx, st.start)
			started(nil) // after the handlers: what they wrote is visible to Start's caller
			d.markConnected()
		case kindFault:
			// Its handlers get a context that ends with the dispatcher.
			d.deliverFault(trace.ContextWithSpan(d.runCtx, trace.SpanFromContext(st.ctx)), st.fault)
			if st.fault.Final {
				d.mu.Lock()
				d.err, d.lastFault = st.err, st.fault.Err
				d.mu.Unlock()
				started(st.err) // after the handlers, as for kindStart
			}
		}
	}
	err := context.Cause(d.runCtx)
	if err == nil {
		err = ErrClosed // Close halts the stream before it cancels ctx
	}
	started(err)
}

// wantsComments tells the stream whether to hand comments up: while no
// comment handler is registered, it only counts them. One registered while
// the stream waits for bytes gets the comments after the next action.
func (d *Dispatcher) wantsComments() bool {
	return len(d.handlers.Load().comment) > 0
}

// signalStart makes Start return err; only the first call counts. A
// connection whose OnStart handler called Close (or ended the context) has
// not started anything: Start returns ErrClosed (or the context's cause).
func (d *Dispatcher) signalStart(err error) {
	if d.ready == nil {
		return
	}
	if err == nil && d.stopping() {
		if err = context.Cause(d.runCtx); err == nil {
			err = ErrClosed // Close halts the stream before it cancels the context
		}
	}
	d.ready <- err
	d.ready = nil
}

// exited stops the dispatcher whose goroutine runtime.Goexit is ending:
// it runs in serve's teardown, after run has let go of the stream.
func (d *Dispatcher) exited() {
	d.s.logger().Error("sse: a handler called runtime.Goexit; stopping")
	d.mu.Lock()
	d.err = ErrHandlerExited
	d.mu.Unlock()
	d.cancel(ErrHandlerExited) // for goroutines the handlers started on their ctx
	d.s.Close()                // ends the connection and its span
	d.signalStart(ErrHandlerExited)
}

// stopping reports whether Close, or the end of the dispatcher's context,
// forbids further handler calls; a handler may have caused either.
func (d *Dispatcher) stopping() bool {
	return d.s.halting() || d.runCtx.Err() != nil
}

// deliver calls handlers in registration order; a failed one becomes a
// Fault.
func deliver[A any](d *Dispatcher, hs []handler[A], ctx context.Context, a A) {
	for _, h := range hs {
		if d.stopping() {
			return // Close or cancel from a handler: no further handler runs
		}
		if err := call(h, ctx, a); err != nil {
			d.deliverFault(ctx, Fault{Err: err})
		}
	}
}

// deliverFault calls the OnFault handlers. A panic there is only logged:
// reporting it as a Fault could loop.
func (d *Dispatcher) deliverFault(ctx context.Context, f Fault) {
	var pe *PanicError
	if errors.As(f.Err, &pe) {
		d.s.logger().WithField("stack", string(pe.Stack)).WithError(f.Err).Error("sse: handler panicked")
	}
	for _, fn := range d.handlers.Load().fault {
		if d.stopping() {
			return // Close or cancel from a handler: no further handler runs
		}
		if err := call(fn, ctx, f); err != nil {
			pe := err.(*PanicError)
			d.s.logger().WithField("stack", string(pe.Stack)).WithError(err).Error("sse: OnFault handler panicked")
		}
	}
}

// call runs one handler; a panic becomes a *PanicError.
func call[A any](h handler[A], ctx context.Context, a A) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = newPanicError(v)
		}
	}()
	if h.fn != nil {
		h.fn(ctx, a)
		return nil
	}
	return h.try(ctx, a)
}

// onDispatcherGoroutine reports whether the caller runs on the dispatcher
// goroutine, that is, in one of its handlers, where Close and Wait must not
// wait for the goroutine they run on.
//
// It compares goroutine ids. Go hides them so that programs do not build
// goroutine-local state on them; here one is only compared, never used to
// find state. Looking for the frame of call on the caller's stack
// (runtime.Callers) would tell that the caller is in some dispatcher's
// handler, but not in which: when A's handler closes B while B runs a
// handler too, B's Close would wrongly return without waiting.
func (d *Dispatcher) onDispatcherGoroutine() bool {
	id := d.gid.Load()
	return id != 0 && id == goroutineID()
}

// goroutineID returns the calling goroutine's id, from the header of its
// stack trace ("goroutine 42 [running]:"). Ids are never reused while the
// process lives. It costs a few microseconds, paid once per dispatcher and
// in each Close and Wait; it panics if the runtime's format ever changes, so
// that the tests, which call it everywhere, catch that at once.
func goroutineID() int64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b, ok := bytes.CutPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); ok && i > 0 {
		if id, err := strconv.ParseInt(string(b[:i]), 10, 64); err == nil && id > 0 {
			return id
		}
	}
	panic("sse: no goroutine id in " + strconv.Quote(string(buf[:])))
}
