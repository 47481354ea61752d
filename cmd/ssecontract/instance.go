package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ssekit/sse"
)

// createParams is the body of POST /. Only StreamURL and CallbackURL are
// required; the harness sends null for an optional number it does not set.
type createParams struct {
	StreamURL      string            `json:"streamUrl"`
	CallbackURL    string            `json:"callbackUrl"`
	Tag            string            `json:"tag"`
	InitialDelayMS *int64            `json:"initialDelayMs"`
	ReadTimeoutMS  *int64            `json:"readTimeoutMs"`
	LastEventID    string            `json:"lastEventId"`
	Headers        map[string]string `json:"headers"`
	Method         string            `json:"method"`
	Body           *string           `json:"body"`
}

// options turns the parameters into dispatcher options.
func (p *createParams) options(client *http.Client, log logrus.FieldLogger) ([]sse.Option, error) {
	if p.StreamURL == "" {
		return nil, errors.New("ssecontract: streamUrl is required")
	}
	opts := []sse.Option{
		sse.WithHTTPClient(client),
		sse.WithLogger(log),
		sse.WithErrorStrategy(sse.AlwaysContinue()),
	}
	if p.InitialDelayMS != nil {
		d, err := millis("initialDelayMs", *p.InitialDelayMS)
		if err != nil {
			return nil, err
		}
		// No jitter, so the first retry waits exactly this long.
		// The harness's delay is honoured as given, below the library's
		// floor too: its servers are test fixtures, and its tests time out.
		opts = append(opts, sse.WithInitialDelay(d), sse.WithMinDelay(min(d, sse.DefaultMinDelay)), sse.WithJitter(0))
	}
	if p.ReadTimeoutMS != nil {
		d, err := millis("readTimeoutMs", *p.ReadTimeoutMS)
		if err != nil {
			return nil, err
		}
		opts = append(opts, sse.WithReadTimeout(d))
	}
	if p.LastEventID != "" {
		opts = append(opts, sse.WithLastEventID(p.LastEventID))
	}
	hasContentType := false
	for name, value := range p.Headers {
		hasContentType = hasContentType || http.CanonicalHeaderKey(name) == "Content-Type"
		opts = append(opts, sse.WithHeader(name, value))
	}
	if p.Method != "" {
		// NewRequest checks the method is a valid token, which the library
		// would otherwise only find out on every connection attempt.
		if _, err := http.NewRequest(p.Method, p.StreamURL, nil); err != nil {
			return nil, fmt.Errorf("ssecontract: bad method or streamUrl: %w", err)
		}
		opts = append(opts, sse.WithMethod(p.Method))
	}
	if p.Body != nil {
		opts = append(opts, sse.WithBody([]byte(*p.Body)))
		if !hasContentType {
			opts = append(opts, sse.WithHeader("Content-Type", "text/plain"))
		}
	}
	return opts, nil
}

// millis converts a non-negative number of milliseconds.
func millis(field string, ms int64) (time.Duration, error) {
	if ms < 0 || ms > int64(24*time.Hour/time.Millisecond) {
		return 0, fmt.Errorf("ssecontract: %s out of range: %d", field, ms)
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// instance is one client under test: a dispatcher and the callbacks that
// report what it sees.
type instance struct {
	log logrus.FieldLogger
	d   *sse.Dispatcher
	cb  *callbacks
	ran chan struct{} // closed when the dispatcher's Run has returned
}

func newInstance(p createParams, client *http.Client, log logrus.FieldLogger) (*instance, error) {
	base, err := callbackBase(p.CallbackURL)
	if err != nil {
		return nil, err
	}
	opts, err := p.options(client, log)
	if err != nil {
		return nil, err
	}
	d, err := sse.New(p.StreamURL, opts...)
	if err != nil {
		return nil, err
	}
	in := &instance{log: log, d: d, cb: newCallbacks(base, client, log), ran: make(chan struct{})}
	d.OnEvent(func(_ context.Context, ev sse.Event) {
		in.cb.send(eventMessage{Kind: "event", Event: eventFields{
			Type: ev.Type, Data: ev.Data, ID: ev.LastEventID,
		}})
	})
	d.OnComment(func(_ context.Context, c sse.Comment) {
		in.cb.send(textMessage{Kind: "comment", Comment: c.Text})
	})
	d.OnFault(func(_ context.Context, f sse.Fault) {
		// A restart is what the harness asked for, not a failure: it expects
		// the next connection's events next.
		if errors.Is(f.Err, sse.ErrInterrupted) {
			return
		}
		in.cb.send(textMessage{Kind: "error", Comment: faultText(f)})
	})
	return in, nil
}

// callbackBase checks the callback URL and returns it without a trailing
// slash, ready for "/N".
func callbackBase(raw string) (string, error) {
	if raw == "" {
		return "", errors.New("ssecontract: callbackUrl is required")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("ssecontract: callbackUrl %q is not an absolute http URL", raw)
	}
	return strings.TrimSuffix(raw, "/"), nil
}

// faultText describes a failed or ended connection for an error callback.
func faultText(f sse.Fault) string {
	msg := "stream ended by the server"
	if f.Err != nil {
		msg = f.Err.Error()
	}
	if f.Final {
		msg += "; not reconnecting"
	}
	return msg
}

// start runs the dispatcher and the callback sender. The dispatcher runs on
// its own goroutine because, with an always-continue strategy, Start does
// not return while the server keeps failing.
func (in *instance) start() {
	go in.cb.run()
	go func() {
		defer close(in.ran)
		if err := in.d.Run(context.Background()); err != nil {
			in.log.WithError(err).Info("ssecontract: stream stopped")
		}
	}()
}

// close stops the dispatcher, then the callbacks, and returns once every
// goroutine of the instance has exited. Handlers only queue callbacks and
// never block, so Close cannot wait on a slow callback server; callbacks
// still queued are dropped.
func (in *instance) close() {
	in.d.Close()
	<-in.ran
	in.cb.close()
}

// eventMessage reports an event. ID is the stream's last event ID, omitted
// when empty.
type eventMessage struct {
	Kind  string      `json:"kind"`
	Event eventFields `json:"event"`
}

type eventFields struct {
	Type string `json:"type"`
	Data string `json:"data"`
	ID   string `json:"id,omitempty"`
}

// textMessage reports a comment or an error.
type textMessage struct {
	Kind    string `json:"kind"`
	Comment string `json:"comment"`
}

// callbacks posts messages to <base>/1, <base>/2, ... one at a time, each
// after the previous one was answered, on a goroutine of its own. Messages
// wait in an unbounded queue, so the dispatcher never waits for the harness.
type callbacks struct {
	base   string
	client *http.Client
	log    logrus.FieldLogger
	ctx    context.Context
	cancel context.CancelFunc
	wake   chan struct{} // capacity 1: something was queued
	done   chan struct{} // closed when run returns

	mu      sync.Mutex
	pending [][]byte
}

func newCallbacks(base string, client *http.Client, log logrus.FieldLogger) *callbacks {
	ctx, cancel := context.WithCancel(context.Background())
	return &callbacks{
		base: base, client: client, log: log, ctx: ctx, cancel: cancel,
		wake: make(chan struct{}, 1), done: make(chan struct{}),
	}
}

// send queues a message; it never blocks.
func (c *callbacks) send(msg any) {
	body, err := json.Marshal(msg)
	if err != nil {
		c.log.WithError(err).Error("ssecontract: cannot encode callback")
		return
	}
	c.mu.Lock()
	c.pending = append(c.pending, body)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// run posts the queued messages in order until close.
func (c *callbacks) run() {
	defer close(c.done)
	n := 1
	for {
		c.mu.Lock()
		batch := c.pending
		c.pending = nil
		c.mu.Unlock()
		if len(batch) == 0 {
			select {
			case <-c.wake:
				continue
			case <-c.ctx.Done():
				return
			}
		}
		for _, body := range batch {
			if c.ctx.Err() != nil {
				return
			}
			c.post(n, body)
			n++
		}
	}
}

// post sends message n and waits for the reply. A failure is logged: the
// harness will see the gap, and retrying could reorder nothing useful.
func (c *callbacks) post(n int, body []byte) {
	target := c.base + "/" + strconv.Itoa(n)
	req, err := http.NewRequestWithContext(c.ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		c.log.WithError(err).Error("ssecontract: bad callback request")
		return
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		if c.ctx.Err() == nil {
			c.log.WithError(err).WithField("callback", n).Warn("ssecontract: callback failed")
		}
		return
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxRequestBody))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		c.log.WithField("callback", n).WithField("status", resp.StatusCode).Warn("ssecontract: callback refused")
	}
}

// close stops run, cutting short a callback in flight, and waits for it.
func (c *callbacks) close() {
	c.cancel()
	<-c.done
}
