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

// Stream is the pull engine: it connects, reads, parses and reconnects, and
// hands out what happens through the iterators [Stream.All] and
// [Stream.Events], on the goroutine that ranges over them. [Dispatcher]
// runs one on a goroutine of its own and calls handlers instead.
//
// One goroutine at a time may range over a Stream. Close, Interrupt,
// LastEventID and NextRetryDelay may be called from any goroutine.
type Stream struct {
	url    string // names the stream in logs and traces
	src    Source
	tel    *telemetry
	log    logrus.FieldLogger // the configured logger; see logger
	logURL string             // the URL as logs show it
	delay  retryDelay

	// What the stream keeps of its configuration; the rest of it lives in
	// the Source and the telemetry, or was only needed to build them.
	readTimeout   time.Duration
	maxEventSize  int
	resetAfter    time.Duration
	errorStrategy ErrorStrategy

	halt   atomic.Bool // Close, or the iteration's context is done
	iterMu sync.Mutex  // held by the goroutine advancing the stream

	mu          sync.Mutex // guards the fields below
	closed      bool
	stop        context.CancelCauseFunc // ends the current connection or delay
	interrupted bool                    // an Interrupt came while stop was nil
	lastEventID string                  // written only by the iterating goroutine
	nextDelay   time.Duration

	// Owned by the iterating goroutine.
	state        streamState
	p            parser.Parser
	conn         conn
	wait         time.Duration // before the next attempt
	attempts     int
	failures     int // consecutive, since the last successful connection
	firstFailure time.Time
	types        map[string]*eventType
	lastType     *eventType // the type of the last event, checked first
	block        []byte     // the block small events are cut from
	blockUsed    int        // how much of block is taken

	// The action next returned.
	comment Comment
	start   Start
	fault   Fault
}

type streamState uint8

const (
	stateConnect streamState = iota // connect at once
	stateWait                       // connect after s.wait
	stateOpen                       // reading a connection
	stateStopped                    // the error strategy stopped; ranging again reconnects
	stateClosed                     // Close: for good
)

// actionKind is what next produced; kindNone ends an iteration.
type actionKind uint8

const (
	kindNone actionKind = iota
	kindEvent
	kindComment
	kindStart
	kindFault
)

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
	src := c.source
	if src == nil {
		h, err := newHTTPSource(url, c)
		if err != nil {
			return nil, err
		}
		src = h
	}
	redacted := c.redactURL(url) // for logs and traces alike
	s := &Stream{
		url:           url,
		src:           src,
		readTimeout:   c.readTimeout,
		maxEventSize:  c.maxEventSize,
		resetAfter:    c.resetAfter,
		errorStrategy: c.errorStrategy,
		tel:           newTelemetry(c, url, redacted),
		log:           c.log,
		logURL:        redacted,
		delay:         retryDelay{b: c.backoff},
		lastEventID:   c.lastEventID,
	}
	if !c.userBackoff {
		s.delay.jitter = c.jitter
	}
	s.p.SetLastID(c.lastEventID)
	return s, nil
}

// All returns an iterator over everything that happens on the stream, in
// order: a [Start] for each connection, its [Event]s and [Comment]s, and a
// [Fault] when it fails or ends. It connects when ranged over and stops
// when the error strategy gives up (after the Fault that says so), when ctx
// is done, or after Close. Ranging again after the error strategy gave up
// reconnects; breaking out of the loop keeps the connection for the next
// range, as long as ctx lives.
func (s *Stream) All(ctx context.Context) iter.Seq[Action] {
	return func(yield func(Action) bool) {
		defer s.begin(ctx)()
		s.p.SkipComments(false)
		for {
			var a Action
			switch k, ev := s.next(ctx); k {
			case kindEvent:
				a = ev
			case kindComment:
				a = s.commentText()
			case kindStart:
				a = s.start
			case kindFault:
				a = s.fault
			default:
				return
			}
			if !yield(a) {
				return
			}
		}
	}
}

// Events returns an iterator over the stream's events, reconnecting as the
// error strategy allows. When the strategy gives up on a failure, the last
// pair carries that error; an orderly end just ends the iteration. It
// otherwise behaves as [Stream.All].
func (s *Stream) Events(ctx context.Context) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		defer s.begin(ctx)()
		s.p.SkipComments(true)
		for {
			switch k, ev := s.next(ctx); k {
			case kindEvent:
				if !yield(ev, nil) {
					return
				}
			case kindFault:
				if s.fault.Final && s.fault.Err != nil {
					yield(Event{}, s.fault.Err)
					return
				}
			case kindNone:
				return
			}
		}
	}
}

// begin prepares an iteration under ctx and returns the function that ends it.
func (s *Stream) begin(ctx context.Context) func() {
	s.iterMu.Lock()
	if s.state == stateStopped {
		s.state = stateConnect
		s.failures = 0 // a new start: the error strategy counts afresh
	}
	// AfterFunc runs on a goroutine of its own, even for a ctx already done:
	// check that here, or a first connection could slip through.
	s.halt.Store(s.isClosed() || ctx.Err() != nil)
	unwatch := context.AfterFunc(ctx, func() { s.halt.Store(true) })
	return func() {
		unwatch()
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
	stop := s.stop
	s.mu.Unlock()
	s.halt.Store(true)
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
// reconnects. It is safe to call from any goroutine.
func (s *Stream) LastEventID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastEventID
}

// NextRetryDelay returns the delay before the next reconnection, as computed
// at the last failure: zero before any failure. It is safe to call from any
// goroutine.
func (s *Stream) NextRetryDelay() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nextDelay
}

func (s *Stream) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// setStop records how to end what the stream is blocked on; ok is false if
// the stream was closed meanwhile. interrupted reports, once, an Interrupt
// that came while nothing was recorded.
func (s *Stream) setStop(stop context.CancelCauseFunc) (ok, interrupted bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
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

// next advances the stream to its next action and returns its kind; the
// action itself is returned if it is an Event (the common case, kept off
// the heap), and otherwise left in s.start or s.fault, or, for a comment,
// made on demand by s.commentText.
func (s *Stream) next(ctx context.Context) (actionKind, Event) {
	for {
		// ctx.Err as well as halt: halt misses a cancel made in the loop body
		// (AfterFunc sets it later, on another goroutine), and then buffered
		// events would still be handed out. (Err is an atomic load; a select
		// on Done costs several times more.)
		if s.halt.Load() || ctx.Err() != nil {
			return s.halted(), Event{}
		}
		switch s.state {
		case stateWait:
			if !s.sleep(ctx, s.wait) {
				return s.halted(), Event{}
			}
			s.state = stateConnect
		case stateConnect:
			if err := s.connect(ctx); err != nil {
				return s.fail(ctx, err), Event{}
			}
			s.state = stateOpen
			return kindStart, Event{}
		case stateOpen:
			k, err := s.p.Next()
			switch k {
			case parser.Event:
				return kindEvent, s.buildEvent()
			case parser.Comment:
				return kindComment, Event{}
			case parser.Retry:
				s.delay.setBase(s.p.Retry())
				continue
			case parser.IDChanged:
				s.setLastEventID(string(s.p.LastID()))
				continue
			}
			return s.fail(ctx, parseError(err, s.maxEventSize)), Event{}
		default:
			return kindNone, Event{}
		}
	}
}

// halted ends an iteration stopped by Close or its context, without a Fault.
func (s *Stream) halted() actionKind {
	s.disconnect(nil, true)
	s.wait = 0 // ranging again connects at once
	if s.isClosed() {
		s.state = stateClosed
	} else if s.state != stateStopped {
		s.state = stateConnect
	}
	return kindNone
}

// connect opens one connection: the request, the response checks (done by
// the Source), the read timeout, and the parser on the body.
func (s *Stream) connect(ctx context.Context) error {
	s.attempts++
	cctx, cancel := context.WithCancelCause(ctx)
	if ok, _ := s.setStop(cancel); !ok { // an earlier Interrupt is moot now
		cancel(ErrClosed)
		return ErrClosed
	}
	lastID := s.lastEventID
	cctx, span := s.tel.startAttempt(cctx, s.attempts, lastID, s.wait)
	s.conn = conn{ctx: cctx, cancel: cancel, span: span}
	if d := s.readTimeout; d > 0 {
		s.conn.timer = time.AfterFunc(d, func() { cancel(&TimeoutError{After: d}) })
	}
	s.logger().WithFields(logrus.Fields{"attempt": s.attempts, "last_event_id": lastID}).Debug("sse: connecting")
	body, err := s.src.Open(cctx, lastID)
	if err != nil {
		return err
	}
	s.conn.body = body
	s.conn.opened = time.Now()
	s.conn.unhook = context.AfterFunc(cctx, func() { body.Close() })
	var r io.Reader = body
	if s.conn.timer != nil {
		s.conn.timer.Stop() // from now on it runs only while a Read waits
		r = &timeoutReader{r: body, timer: s.conn.timer, d: s.readTimeout}
	}
	s.p.Reset(s.tel.meter(cctx, r, &s.p), s.maxEventSize)
	s.failures = 0
	s.start = Start{Attempt: s.attempts}
	s.logger().WithField("attempt", s.attempts).Info("sse: connected")
	return nil
}

// disconnect ends the current attempt, if any. err is how it ended;
// requested tells a stop the caller asked for, which is not a failure.
func (s *Stream) disconnect(err error, requested bool) {
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
	s.tel.endAttempt(c.ctx, c.span, c.opened, c.stats, err, requested)
	*c = conn{ctx: c.ctx} // handlers of the Fault still get the attempt's context
}

// fail handles the end of a connection or a failed attempt: it decides,
// through the error strategy and the backoff, whether and when to
// reconnect, and leaves the Fault in s.fault.
func (s *Stream) fail(ctx context.Context, err error) actionKind {
	// No cancel means no attempt began (Close won the race with connect),
	// and s.conn.ctx may still be nil.
	if s.conn.cancel != nil {
		if cause := context.Cause(s.conn.ctx); cause != nil {
			err = cause // our own cancellation explains the read or request error
		}
	}
	if s.halt.Load() || ctx.Err() != nil || errors.Is(err, ErrClosed) {
		return s.halted()
	}
	if errors.Is(err, io.EOF) {
		err = nil
	}
	opened := s.conn.opened
	s.disconnect(err, false)
	// The Fault's handlers get the attempt's span, but a context that lives
	// on after the attempt, as handlers may use it for their own work.
	s.conn.ctx = trace.ContextWithSpan(ctx, trace.SpanFromContext(s.conn.ctx))

	now := time.Now()
	if !opened.IsZero() && now.Sub(opened) >= s.resetAfter {
		s.delay.reset()
	}
	s.failures++
	if s.failures == 1 {
		s.firstFailure = now
	}
	var statusErr *StatusError
	retry := true
	switch {
	case errors.Is(err, ErrInterrupted):
	case errors.As(err, &statusErr) && statusErr.Code == 204:
		retry = false // the server asks the client to stop
	default:
		retry = s.errorStrategy(err, s.failures, now.Sub(s.firstFailure))
	}
	var d time.Duration
	if retry {
		d, retry = s.delay.next()
	}
	s.mu.Lock()
	s.nextDelay = d
	s.mu.Unlock()
	s.fault = Fault{Err: err, Final: !retry, RetryDelay: d}
	s.wait = d
	s.state = stateWait
	s.tel.reconnect(s.conn.ctx, err, retry)
	log := s.logger().WithFields(logrus.Fields{"attempt": s.attempts, "last_event_id": s.lastEventID})
	if err != nil {
		log = log.WithError(err)
	}
	if statusErr != nil {
		log = log.WithField("status", statusErr.Code)
	}
	switch {
	case retry:
		log.WithField("delay", d).Warn("sse: connection ended; reconnecting")
	case err == nil || statusErr != nil && statusErr.Code == 204:
		s.state = stateStopped
		log.Info("sse: server ended the stream; stopping") // a stop it asked for is no error
	default:
		s.state = stateStopped
		log.Error("sse: connection ended; giving up")
	}
	return kindFault
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

// timeoutReader runs the read timeout only while a Read waits for bytes, so
// that time the consumer or a handler takes does not count as silence.
type timeoutReader struct {
	r     io.Reader
	timer *time.Timer
	d     time.Duration
}

func (t *timeoutReader) Read(b []byte) (int, error) {
	t.timer.Reset(t.d)
	n, err := t.r.Read(b)
	t.timer.Stop()
	return n, err
}
