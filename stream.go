package sse

import (
	"context"
	"errors"
	"io"
	"iter"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
	"go.opentelemetry.io/otel/trace"

	"github.com/ssekit/sse/internal/parser"
)

// This file is the pull engine: the state machine that moves one stream
// between waiting, connecting and reading, and the one iterator over its
// actions that All, Events and the Dispatcher range over. Whether and when
// to reconnect is decided in reconnect.go, one attempt is opened by a Source
// (connect.go), bytes become records in the parser, and telemetry (otel.go)
// is told at the edges.

// Stream is the pull engine: it connects, reads, parses and reconnects, and
// hands out what happens through the iterators [Stream.All] and
// [Stream.Events], on the goroutine that ranges over them. [Dispatcher]
// runs one on a goroutine of its own and calls handlers instead.
//
// One goroutine at a time may range over a Stream. Close, Interrupt,
// LastEventID and NextRetryDelay may be called from any goroutine.
type Stream struct {
	src    Source
	tel    *telemetry
	log    logrus.FieldLogger // the configured logger; see logger
	logURL string             // the URL as logs show it
	redact redactor           // hides secrets in errors that leave the stream
	policy reconnector

	readTimeout  time.Duration
	maxEventSize int

	halt   atomic.Bool // Close, or the iteration's context is done
	iterMu sync.Mutex  // held by the goroutine advancing the stream

	mu          sync.Mutex // guards the fields below
	closed      bool
	iteration   uint64                  // counts iterations, so a late callback of an old one is ignored
	stop        context.CancelCauseFunc // ends the current connection or delay
	interrupted bool                    // an Interrupt came while stop was nil
	lastEventID string                  // written only by the iterating goroutine
	nextDelay   time.Duration

	// Owned by the iterating goroutine.
	state     streamState
	p         parser.Parser
	conn      conn
	wait      time.Duration // before the next attempt
	attempts  int
	types     map[string]*eventType
	lastType  *eventType // the type of the last event, checked first
	block     []byte     // the block small events are cut from
	blockUsed int        // how much of block is taken

	cur step // the action the iterator yields
}

type streamState uint8

const (
	stateConnect streamState = iota // connect at once
	stateWait                       // connect after s.wait
	stateOpen                       // reading a connection
	stateStopped                    // the error strategy stopped; ranging again waits s.wait, then reconnects
	stateClosed                     // Close: for good
	stateBroken                     // a user callback failed at the start: report s.cur.fault, then stop
)

// actionKind is what a step holds.
type actionKind uint8

const (
	kindEvent actionKind = iota + 1
	kindComment
	kindStart
	kindFault
)

// step is one action of the stream as the internal iterator yields it. It
// is the stream's own and is overwritten by the next step. An event is not
// in it: steps yields it beside the step.
type step struct {
	kind    actionKind
	ctx     context.Context // the attempt's: it carries the connection's span
	comment Comment
	start   Start
	fault   Fault
	// err is what a final Fault makes Start, Run, Wait and Events report:
	// its Err, or nil when the stream ended as the server asked (an orderly
	// end, or a 204), which is no failure.
	err error
}

// conn is one connection attempt, from Open to its end.
type conn struct {
	ctx    context.Context // carries the attempt's span
	cancel context.CancelCauseFunc
	span   trace.Span
	body   io.ReadCloser
	unhook func() bool  // stops the AfterFunc that closes body
	timer  *time.Timer  // the read timeout
	opened time.Time    // zero until Open succeeded
	stats  attemptStats // what it received
}

// NewStream returns a Stream for url, configured by opts. It does not
// connect: ranging over it does. See [New] for the URL and options.
func NewStream(url string, opts ...Option) (*Stream, error) {
	c := newConfig(opts)
	if err := c.validate(); err != nil {
		return nil, err
	}
	redact := newRedactor(c)
	src := c.source
	if src == nil {
		h, err := newHTTPSource(url, c, redact)
		if err != nil {
			return nil, err
		}
		src = h
	}
	redacted := redact.URL(url) // for logs and traces alike
	s := &Stream{
		src:          src,
		readTimeout:  c.readTimeout,
		maxEventSize: c.maxEventSize,
		tel:          newTelemetry(c, url, redacted),
		log:          c.log,
		logURL:       redacted,
		redact:       redact,
		policy:       newReconnector(c),
		lastEventID:  c.lastEventID,
	}
	s.p.SetLastID(c.lastEventID)
	return s, nil
}

// All returns an iterator over everything that happens on the stream, in
// order: a [Start] for each connection, its [Event]s and [Comment]s, and a
// [Fault] when it fails or ends. It connects when ranged over and stops
// when the error strategy gives up (after the Fault that says so), when ctx
// is done, or after Close. Breaking out of the loop keeps the connection for
// the next range. Ranging again after the error strategy gave up waits the
// next retry delay first, then reconnects, so that a loop around the range
// cannot hammer the server.
func (s *Stream) All(ctx context.Context) iter.Seq[Action] {
	return func(yield func(Action) bool) {
		for st, ev := range s.steps(ctx, wantAll) {
			var a Action
			switch st.kind {
			case kindEvent:
				a = ev
			case kindComment:
				a = st.comment
			case kindStart:
				a = st.start
			case kindFault:
				a = st.fault
			}
			if !yield(a) {
				return
			}
		}
	}
}

// Events returns an iterator over the stream's events, reconnecting as the
// error strategy allows. When the strategy gives up on a failure, the last
// pair carries that error; a stop the server asked for (an orderly end the
// strategy does not retry, or a 204) just ends the iteration. It otherwise
// behaves as [Stream.All].
func (s *Stream) Events(ctx context.Context) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		for st, ev := range s.steps(ctx, wantNoComments) {
			switch {
			case st.kind == kindEvent:
				if !yield(ev, nil) {
					return
				}
			case st.kind == kindFault && st.err != nil:
				yield(Event{}, st.err)
				return
			}
		}
	}
}

func wantAll() bool        { return true }
func wantNoComments() bool { return false }

// steps is the stream's one iterator: All, Events and the Dispatcher are
// loops over it. wantComments is asked before each step: while it says no,
// comment lines are counted but not handed up. The step yielded is valid
// until the loop body returns; the event of a kindEvent step comes beside
// it, by value: kept in the stream (on the heap), its strings would cost a
// GC write barrier each, on every event, while a collection runs.
func (s *Stream) steps(ctx context.Context, wantComments func() bool) iter.Seq2[*step, Event] {
	return func(yield func(*step, Event) bool) {
		defer s.begin(ctx)()
		for {
			s.p.SkipComments(!wantComments())
			ev, ok := s.next(ctx)
			if !ok || !yield(&s.cur, ev) {
				return
			}
		}
	}
}

// begin prepares an iteration under ctx and returns the function that ends it.
func (s *Stream) begin(ctx context.Context) func() {
	s.iterMu.Lock()
	if s.state == stateStopped {
		s.state = stateWait // a new start, after the delay a retry would have had
	}
	err := s.policy.start()
	s.mu.Lock()
	s.iteration++
	iteration := s.iteration
	// AfterFunc runs on a goroutine of its own, even for a ctx already done:
	// check that here, or a first connection could slip through.
	s.halt.Store(s.closed || ctx.Err() != nil)
	s.mu.Unlock()
	if err != nil { // the user's BackOff panicked in Reset
		s.state, s.cur.fault, s.cur.err = stateBroken, Fault{Err: err, Final: true}, err
	}
	// Each iteration answers to its own ctx: the connection outlives a range
	// that broke out of its loop, so its end comes from here, not from the
	// context it was opened under.
	unwatch := context.AfterFunc(ctx, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.iteration != iteration {
			return // this iteration has ended; another may be under way
		}
		s.halt.Store(true)
		if s.stop != nil {
			s.stop(context.Cause(ctx))
		}
	})
	return func() {
		unwatch()
		s.mu.Lock()
		s.iteration++ // a callback of this iteration still running now finds it stale
		s.mu.Unlock()
		s.iterMu.Unlock()
	}
}

// Close stops the stream for good and closes its connection. An iteration in
// progress ends promptly, without a Fault. It is safe to call more than once
// and from any goroutine.
func (s *Stream) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.halt.Store(true)
	stop := s.stop
	s.mu.Unlock()
	if stop != nil {
		stop(ErrClosed)
	}
	// With no iteration under way (the caller broke out of one), nobody
	// else will end the open connection and its span: do it here.
	if s.iterMu.TryLock() {
		s.halted()
		s.iterMu.Unlock()
	}
	return nil
}

// Interrupt drops the current connection, as if the server had closed it,
// and reconnects after the usual retry delay; during a retry delay, or
// while the Fault before one is delivered (as from an OnFault handler), it
// reconnects at once. The Fault it causes carries [ErrInterrupted], and the
// error strategy is not consulted. Complete events the stream has already
// read from the connection are still delivered; bytes still on their way
// are dropped with it. It is safe to call from any goroutine, handlers
// included.
func (s *Stream) Interrupt() {
	s.mu.Lock()
	stop := s.stop
	if stop == nil {
		s.interrupted = true // between a failure and its delay: skip the delay
	}
	s.mu.Unlock()
	if stop != nil {
		stop(ErrInterrupted)
	}
}

// LastEventID returns the stream's last event ID: the value of the most
// recent id field (or [WithLastEventID]), sent as Last-Event-ID when it
// reconnects. An ID with a control character other than tab (an id field
// may carry any but NUL, CR and LF) is not a valid header value, and
// net/http refuses to send it: a reconnection then sends no Last-Event-ID,
// as for a stream without one, and the server starts the client afresh.
// An encoding of the ID would be an ID the server never sent, which it
// could not find or, worse, could take for another; browsers send the raw
// bytes, which Go cannot. The ID is still reported as received, here and
// in [Event.LastEventID]. It is safe to call from any goroutine.
func (s *Stream) LastEventID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastEventID
}

// Span returns the span of the stream's current connection attempt, or of
// the last one once it has ended; before the first attempt, a span that
// records nothing. Code that ranges over [Stream.All] or [Stream.Events] can
// nest its own spans under the connection with
// trace.ContextWithSpan(ctx, s.Span()); handlers of a [Dispatcher] receive a
// context that carries it already. Call it from the goroutine that ranges.
func (s *Stream) Span() trace.Span {
	if s.conn.ctx == nil {
		return trace.SpanFromContext(context.Background())
	}
	return trace.SpanFromContext(s.conn.ctx)
}

// NextRetryDelay returns the delay before the next reconnection, as computed
// at the last failure: zero before any failure, and after a failure the
// error strategy gave up on. It is safe to call from any goroutine.
func (s *Stream) NextRetryDelay() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nextDelay
}

// halting reports whether Close, or the end of the iteration's context,
// has asked the iteration to stop.
func (s *Stream) halting() bool { return s.halt.Load() }

func (s *Stream) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// setStop records how to end what the stream is blocked on; ok is false if
// the stream was closed or its iteration halted meanwhile. interrupted
// reports, once, an Interrupt that came while nothing was recorded.
func (s *Stream) setStop(stop context.CancelCauseFunc) (ok, interrupted bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if stop != nil && s.halt.Load() {
		return false, false
	}
	s.stop = stop
	interrupted, s.interrupted = s.interrupted, false
	return true, interrupted
}

func (s *Stream) setLastEventID(id string) {
	s.mu.Lock()
	s.lastEventID = id
	s.mu.Unlock()
}

// logger returns the logger with the stream's URL as a field. The entry is
// made when something is logged (rarely) rather than kept by every stream.
func (s *Stream) logger() logrus.FieldLogger {
	return s.log.WithField("url", s.logURL)
}

// next advances the stream to its next action and leaves it in s.cur, and
// an event in ev; it returns false when the iteration is over.
func (s *Stream) next(ctx context.Context) (ev Event, ok bool) {
	if s.cur.kind == kindFault && s.state == stateStopped {
		return ev, false // the Fault that stopped the stream has been handed out
	}
	// The step handed out last is the caller's now: keep no large text of it
	// while the stream waits for bytes.
	if len(s.cur.comment.Text) > maxKeptText {
		s.cur.comment = Comment{}
	}
	for {
		// ctx.Err as well as halt: halt misses a cancel made in the loop body
		// (AfterFunc sets it later, on another goroutine), and then buffered
		// events would still be handed out. (Err is an atomic load; a select
		// on Done costs several times more.)
		if s.halt.Load() || ctx.Err() != nil {
			s.halted()
			return ev, false
		}
		switch s.state {
		case stateWait:
			if !s.sleep(ctx, s.wait) {
				s.halted()
				return ev, false
			}
			s.state = stateConnect
		case stateConnect:
			if err := s.connect(ctx); err != nil {
				return ev, s.end(ctx, err)
			}
			s.state = stateOpen
			s.cur.kind = kindStart
			return ev, true
		case stateOpen:
			k, err := s.p.Next()
			switch k {
			case parser.Event:
				s.cur.kind = kindEvent
				return s.buildEvent(), true
			case parser.Comment:
				s.cur.kind = kindComment
				s.setComment()
				return ev, true
			case parser.Retry:
				s.policy.setBase(s.p.Retry())
				continue
			case parser.IDChanged:
				s.setLastEventID(string(s.p.LastID()))
				continue
			}
			return ev, s.end(ctx, parseError(err, s.maxEventSize))
		case stateBroken:
			s.state, s.cur.kind = stateStopped, kindFault
			return ev, true
		default:
			return ev, false
		}
	}
}

// halted ends an iteration stopped by Close or its context, without a
// Fault. A connection it closes is reconnected at once by the next range; a
// delay it cuts short is waited again in full.
func (s *Stream) halted() {
	s.disconnect(ending{kind: endRequested})
	switch {
	case s.isClosed():
		s.state = stateClosed
	case s.state == stateOpen:
		s.state = stateConnect
	}
}

// connect opens one connection: the request, the response checks (done by
// the Source), the read timeout, and the parser on the body.
func (s *Stream) connect(ctx context.Context) error {
	s.attempts++
	// The connection may outlive the iteration that opened it (a range that
	// broke out of its loop): it keeps ctx's values, and each iteration ends
	// it through s.stop (see begin).
	cctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	if ok, _ := s.setStop(cancel); !ok { // an earlier Interrupt is moot now
		cancel(ErrClosed)
		return ErrClosed
	}
	lastID := s.lastEventID
	cctx, span := s.tel.startAttempt(cctx, s.attempts, lastID, s.wait)
	s.conn = conn{ctx: cctx, cancel: cancel, span: span}
	if d := s.readTimeout; d > 0 {
		// Until the response head has arrived this is one deadline; after
		// that, each read of the body restarts it (see telemetry.meter).
		s.conn.timer = time.AfterFunc(d, func() { cancel(&TimeoutError{After: d}) })
	}
	s.logger().WithFields(logrus.Fields{"attempt": s.attempts, "last_event_id": lastID}).Debug("sse: connecting")
	body, err := s.open(cctx, lastID)
	if err != nil {
		return err
	}
	s.conn.body = body
	s.conn.opened = time.Now()
	s.conn.unhook = context.AfterFunc(cctx, func() { body.Close() })
	if s.conn.timer != nil {
		s.conn.timer.Stop() // from now on it runs only while a Read waits
	}
	s.p.Reset(s.tel.meter(cctx, body, &s.p, s.conn.timer, s.readTimeout), s.maxEventSize)
	s.cur.ctx = cctx
	s.cur.start = startOf(s.attempts, body)
	s.logger().WithField("attempt", s.attempts).Info("sse: connected")
	return nil
}

// open opens the source; a panic in it (or in a request hook) fails the
// attempt instead of the process.
func (s *Stream) open(ctx context.Context, lastID string) (body io.ReadCloser, err error) {
	if perr := callUser("source", func() { body, err = s.src.Open(ctx, lastID) }); perr != nil {
		return nil, perr
	}
	return body, err
}

// disconnect ends the current attempt, if any, as e says.
func (s *Stream) disconnect(e ending) {
	c := &s.conn
	if c.cancel == nil {
		return
	}
	s.mu.Lock()
	s.stop = nil
	s.mu.Unlock()
	if c.timer != nil {
		c.timer.Stop()
	}
	if c.body != nil {
		c.unhook()
		c.body.Close()
		c.stats.bytes, c.stats.comments = s.tel.bytesRead(), s.p.Comments()
	}
	s.p.Release() // while the stream waits to reconnect, it holds little
	c.cancel(nil)
	s.tel.endAttempt(c.ctx, c.span, c.opened, c.stats, e)
	*c = conn{ctx: c.ctx} // handlers of the Fault still get the attempt's context
}

// end handles the end of a connection or a failed attempt: it classifies
// how it ended, asks the reconnection policy whether and when to
// reconnect, and leaves the Fault in s.cur. It returns false when the
// iteration is over instead (Close or the context).
func (s *Stream) end(ctx context.Context, err error) bool {
	// No cancel means no attempt began (Close won the race with connect),
	// and s.conn.ctx may still be nil.
	if s.conn.cancel != nil {
		if cause := context.Cause(s.conn.ctx); cause != nil {
			err = cause // our own cancellation explains the read or request error
		}
	}
	err = s.redact.Error(err) // the Fault, logs, span and Wait show no credential
	if s.halt.Load() || ctx.Err() != nil || errors.Is(err, ErrClosed) {
		s.halted()
		return false
	}
	e := classify(err)
	now := time.Now()
	if opened := s.conn.opened; !opened.IsZero() {
		e.lasted = now.Sub(opened)
	}
	e.events = s.conn.stats.events
	s.disconnect(e)
	// The Fault's handlers get the attempt's span, but a context that lives
	// on after the attempt, as handlers may use it for their own work.
	s.cur.ctx = trace.ContextWithSpan(ctx, trace.SpanFromContext(s.conn.ctx))

	retry, d, perr := s.policy.decide(e, now)
	faultErr := e.err
	if perr != nil {
		faultErr = perr // a user's strategy or BackOff panicked: stop, and say why
	}
	s.wait, s.state = d, stateWait
	s.cur.kind, s.cur.fault = kindFault, Fault{Err: faultErr, RetryDelay: d}
	s.cur.err = nil
	if !retry {
		// Ranging again waits d first; the Fault says there is no retry.
		s.state, s.cur.fault.Final, s.cur.fault.RetryDelay = stateStopped, true, 0
		if e.fault() || perr != nil {
			s.cur.err = faultErr
		}
	}
	s.mu.Lock()
	s.nextDelay = s.cur.fault.RetryDelay
	s.mu.Unlock()
	s.tel.reconnect(s.cur.ctx, e, retry)
	s.logEnding(e, perr, retry, d)
	return true
}

// logEnding logs how a connection ended and what comes next.
func (s *Stream) logEnding(e ending, perr error, retry bool, d time.Duration) {
	log := s.logger().WithFields(logrus.Fields{"attempt": s.attempts, "last_event_id": s.lastEventID})
	if e.err != nil {
		log = log.WithError(e.err)
	}
	if e.status != 0 {
		log = log.WithField("status", e.status)
	}
	switch {
	case perr != nil:
		log.WithError(perr).Error("sse: reconnection policy failed; stopping")
	case retry:
		log.WithField("delay", d).Warn("sse: connection ended; reconnecting")
	case !e.fault():
		log.Info("sse: server ended the stream; stopping") // a stop it asked for is no error
	default:
		log.Error("sse: connection ended; giving up")
	}
}

// sleep waits d before a reconnection. It returns false if the stream
// should stop instead; an Interrupt cuts the wait short.
func (s *Stream) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	ok, interrupted := s.setStop(cancel)
	if !ok {
		return false
	}
	defer s.setStop(nil)
	if interrupted {
		s.wait = 0 // what the next attempt's span reports
		return true
	}
	start := time.Now()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-wctx.Done():
		if errors.Is(context.Cause(wctx), ErrInterrupted) {
			s.wait = time.Since(start)
			return true
		}
		return false
	}
}
