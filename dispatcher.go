package sse

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
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
type Dispatcher struct {
	s        *Stream
	regMu    sync.Mutex // serialises registrations
	handlers atomic.Pointer[handlers]
	gid      atomic.Int64    // the dispatcher goroutine's id, once running
	runCtx   context.Context // the dispatcher goroutine's context, read only there

	mu      sync.Mutex // guards the fields below
	started bool
	closed  bool
	cancel  context.CancelCauseFunc
	done    chan struct{}
	err     error // why the stream stopped, for Wait
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
// it have run, so what they wrote is visible to Start's caller. If ctx ends
// first, Start returns its cause. The stream then runs until Close, until
// ctx is done, or until the error strategy gives up. A second Start returns
// [ErrStarted].
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
	ctx, d.cancel = context.WithCancelCause(ctx)
	d.mu.Unlock()

	ready := make(chan error, 1)
	go d.run(ctx, ready)
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

// Close stops the stream for good. Called from outside, it returns once the
// dispatcher goroutine has exited and no handler runs any more. Called from
// a handler, it cannot wait for the goroutine it runs on: it returns at
// once, no further handler is called, and the goroutine exits when the
// handler returns. It is safe to call more than once, and before Start.
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
// error the error strategy gave up on; it returns nil when the stream was
// stopped by Close or its context, or ended in an orderly way. It must not
// be called from a handler, where it would wait for itself: there it
// returns [ErrStarted] at once.
func (d *Dispatcher) Wait() error {
	if d.onDispatcherGoroutine() {
		return ErrStarted
	}
	<-d.done
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}

// Done returns a channel that is closed once the dispatcher goroutine has
// exited (or Close was called before Start).
func (d *Dispatcher) Done() <-chan struct{} { return d.done }

// LastEventID returns the stream's last event ID; see [Stream.LastEventID].
func (d *Dispatcher) LastEventID() string { return d.s.LastEventID() }

// NextRetryDelay returns the delay before the next reconnection; see
// [Stream.NextRetryDelay].
func (d *Dispatcher) NextRetryDelay() time.Duration { return d.s.NextRetryDelay() }

// run is the dispatcher goroutine: it pulls actions from the stream and
// calls the handlers, until the stream stops.
func (d *Dispatcher) run(ctx context.Context, ready chan<- error) {
	d.gid.Store(goid())
	d.runCtx = ctx
	d.s.iterMu.Lock()
	defer d.s.iterMu.Unlock()
	defer close(d.done)
	defer d.cancel(nil)
	started := func(err error) {
		if ready != nil {
			ready <- err
			ready = nil
		}
	}
	for {
		// Without comment handlers the parser need not hand comments up. One
		// registered during a call of next gets the comments of later calls.
		d.s.p.SkipComments(len(d.handlers.Load().comment) == 0)
		switch k, ev := d.s.next(ctx); k {
		case kindEvent:
			deliver(d, d.handlers.Load().events(ev.Type), d.s.conn.ctx, ev)
		case kindComment:
			if hs := d.handlers.Load().comment; len(hs) > 0 {
				deliver(d, hs, d.s.conn.ctx, d.s.commentText())
			}
		case kindStart:
			deliver(d, d.handlers.Load().start, d.s.conn.ctx, d.s.start)
			started(nil) // after the handlers: what they wrote is visible to Start's caller
		case kindFault:
			f := d.s.fault
			d.deliverFault(d.s.conn.ctx, f)
			if f.Final {
				d.mu.Lock()
				d.err = f.Err
				d.mu.Unlock()
				started(f.Err) // after the handlers, as for kindStart
			}
		default:
			err := context.Cause(ctx)
			if err == nil {
				err = ErrClosed // Close halts the stream before it cancels ctx
			}
			started(err)
			return
		}
	}
}

// stopping reports whether Close, or the end of the dispatcher's context,
// forbids further handler calls; a handler may have caused either.
func (d *Dispatcher) stopping() bool {
	return d.s.halt.Load() || d.runCtx.Err() != nil
}

// deliver calls handlers in registration order; a failed one becomes a
// Fault.
func deliver[A any](d *Dispatcher, hs []handlerFunc[A], ctx context.Context, a A) {
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
func call[A any](h handlerFunc[A], ctx context.Context, a A) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = newPanicError(v)
		}
	}()
	return h(ctx, a)
}

// onDispatcherGoroutine reports whether the caller runs on the dispatcher
// goroutine, that is, inside a handler.
func (d *Dispatcher) onDispatcherGoroutine() bool {
	id := d.gid.Load()
	return id != 0 && id == goid()
}

// goid returns the current goroutine's id, read from the header of its stack
// trace ("goroutine 42 [running]:"). Go offers no API for it; it is only
// used to keep Close and Wait from waiting on themselves.
func goid() int64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		id, _ := strconv.ParseInt(string(b[:i]), 10, 64)
		return id
	}
	return -1
}
