package sse

// Tests of the Stream (stream.go): its iterators, the last event ID,
// Interrupt and Close, the read timeout, logging, and what a stream costs.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"github.com/ssekit/sse/ssetest"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func TestStreamAll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := script(scriptStep{body: "event: add\nid: 7\ndata: a\n\n: ping\n\ndata: b\n\n"})
		s := newScripted(t, src)
		got := pull(t.Context(), s, 100)
		want := []string{
			"start 1",
			describe(Event{Type: "add", Data: "a", ID: "7", HasID: true, LastEventID: "7"}),
			`comment " ping"`,
			describe(Event{Type: "message", Data: "b", LastEventID: "7"}),
			faultOf(nil, true, 0),
		}
		if !slices.Equal(got, want) {
			t.Errorf("one connection ended by the server, AlwaysFail:\ngot  %q\nwant %q", got, want)
		}
		if id := s.LastEventID(); id != "7" {
			t.Errorf("LastEventID after the stream: got %q; want %q", id, "7")
		}
	})
}

func TestStreamEvents(t *testing.T) {
	tests := []struct {
		name    string
		steps   []scriptStep
		opts    []Option
		want    []string
		wantErr error
	}{
		{
			name:  "orderly end yields no error",
			steps: []scriptStep{{body: "data: a\n\n: c\n\ndata: b\n\n"}},
			want:  []string{"a", "b"},
		},
		{
			name:    "failure given up on is the last pair",
			steps:   []scriptStep{{err: errRefused}},
			wantErr: errRefused,
		},
		{
			name:    "retried failures are not yielded",
			steps:   []scriptStep{{err: errRefused}, {body: "data: a\n\n"}, {err: errRefused}},
			opts:    []Option{WithErrorStrategy(ContinueWithMaxAttempts(1))},
			want:    []string{"a"},
			wantErr: errRefused,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := newScripted(t, script(tt.steps...), tt.opts...)
				var got []string
				var gotErr error
				for ev, err := range s.Events(t.Context()) {
					if err != nil {
						gotErr = err
						continue
					}
					got = append(got, ev.Data)
				}
				if !slices.Equal(got, tt.want) || !errors.Is(gotErr, tt.wantErr) || (tt.wantErr == nil) != (gotErr == nil) {
					t.Errorf("got %q, error %v; want %q, error %v", got, gotErr, tt.want, tt.wantErr)
				}
			})
		})
	}
}

// Breaking out of a range keeps the connection; the next range goes on
// where the last one stopped, without a new Start.
func TestStreamBreakAndResume(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := script(scriptStep{body: "data: a\n\ndata: b\n\n", open: -1})
		s := newScripted(t, src)
		first := pull(t.Context(), s, 2)
		second := pull(t.Context(), s, 1)
		if want := []string{"start 1", describe(Event{Type: "message", Data: "a"})}; !slices.Equal(first, want) {
			t.Errorf("first range: got %q; want %q", first, want)
		}
		if want := []string{describe(Event{Type: "message", Data: "b"})}; !slices.Equal(second, want) {
			t.Errorf("second range: got %q; want %q", second, want)
		}
		if n := src.attempts(); n != 1 {
			t.Errorf("attempts: got %d; want 1", n)
		}
	})
}

// After the error strategy gave up, ranging again reconnects, as the seed's
// iterators do.
func TestStreamRangeAgainAfterGivingUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := script(scriptStep{err: errRefused}, scriptStep{body: "data: a\n\n"})
		s := newScripted(t, src)
		first := pull(t.Context(), s, 100)
		second := pull(t.Context(), s, 100)
		if want := []string{faultOf(errRefused, true, 0)}; !slices.Equal(first, want) {
			t.Errorf("first range: got %q; want %q", first, want)
		}
		want := []string{"start 2", describe(Event{Type: "message", Data: "a"}), faultOf(nil, true, 0)}
		if !slices.Equal(second, want) {
			t.Errorf("second range: got %q; want %q", second, want)
		}
	})
}

// Reconnections send the last event ID, which survives the reconnect and is
// the last event ID of events without their own id on the new connection.
func TestStreamResumesWithLastEventID(t *testing.T) {
	tests := []struct {
		name        string
		opts        []Option
		bodies      []string
		wantIDs     []string // the last event ID of each attempt
		wantLast    string   // LastEventID of the last event
		wantEventID string
	}{
		{
			name:     "id of an event",
			bodies:   []string{"id: 1\ndata: a\n\n", "data: b\n\n"},
			wantIDs:  []string{"", "1"},
			wantLast: "1",
		},
		{
			name:     "id committed by a block without data",
			bodies:   []string{"id: 1\ndata: a\n\nid: 2\n\n", "data: b\n\n"},
			wantIDs:  []string{"", "2"},
			wantLast: "2",
		},
		{
			name:     "id of a block cut off by the end is not committed",
			bodies:   []string{"id: 1\ndata: a\n\nid: 2\ndata: cut", "data: b\n\n"},
			wantIDs:  []string{"", "1"},
			wantLast: "1",
		},
		{
			name:     "emptied id is not sent",
			bodies:   []string{"id: 1\ndata: a\n\nid\n\n", "data: b\n\n"},
			wantIDs:  []string{"", ""},
			wantLast: "",
		},
		{
			name:     "preset with WithLastEventID",
			opts:     []Option{WithLastEventID("x9")},
			bodies:   []string{"data: a\n\n", "data: b\n\n"},
			wantIDs:  []string{"x9", "x9"},
			wantLast: "x9",
		},
		{
			name:        "id on the new connection",
			bodies:      []string{"id: 1\ndata: a\n\n", "id: 5\ndata: b\n\n"},
			wantIDs:     []string{"", "1"},
			wantLast:    "5",
			wantEventID: "5",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var steps []scriptStep
				for _, b := range tt.bodies {
					steps = append(steps, scriptStep{body: b})
				}
				src := script(steps...)
				s := newScripted(t, src, append([]Option{WithErrorStrategy(ContinueWithMaxAttempts(1))}, tt.opts...)...)
				var last Event
				for ev, err := range s.Events(t.Context()) {
					if err != nil {
						t.Fatalf("Events: %v", err)
					}
					last = ev
					if ev.Data == "b" {
						break
					}
				}
				if got := src.lastIDs(); !slices.Equal(got, tt.wantIDs) {
					t.Errorf("bodies %q: Last-Event-ID per attempt: got %q; want %q", tt.bodies, got, tt.wantIDs)
				}
				if last.Data != "b" || last.LastEventID != tt.wantLast || last.ID != tt.wantEventID {
					t.Errorf("bodies %q: last event: got %+v; want data b, id %q, last event id %q", tt.bodies, last, tt.wantEventID, tt.wantLast)
				}
				if got := s.LastEventID(); got != tt.wantLast {
					t.Errorf("bodies %q: LastEventID(): got %q; want %q", tt.bodies, got, tt.wantLast)
				}
			})
		})
	}
}

func TestStreamNextRetryDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newScripted(t, script(scriptStep{err: errRefused}), WithErrorStrategy(ContinueWithMaxAttempts(2)),
			WithInitialDelay(3*time.Second))
		if d := s.NextRetryDelay(); d != 0 {
			t.Errorf("NextRetryDelay before any failure: got %v; want 0", d)
		}
		var got []time.Duration
		for a := range s.All(t.Context()) {
			f := a.(Fault)
			if d := s.NextRetryDelay(); d != f.RetryDelay {
				t.Errorf("NextRetryDelay at %s: got %v; want %v", describe(f), d, f.RetryDelay)
			}
			got = append(got, f.RetryDelay)
		}
		if want := []time.Duration{3 * time.Second, 6 * time.Second, 0}; !slices.Equal(got, want) {
			t.Errorf("retry delays: got %v; want %v", got, want)
		}
	})
}

// Interrupt drops an open connection with a Fault that carries
// ErrInterrupted, is not final even under AlwaysFail, and does not consult
// the error strategy; the stream reconnects after the retry delay.
func TestStreamInterruptOpenConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		consulted := 0
		strategy := func(error, int, time.Duration) bool { consulted++; return false }
		src := script(scriptStep{body: "id: 1\ndata: a\n\n", open: -1}, scriptStep{body: "data: b\n\n"})
		s := newScripted(t, src, WithErrorStrategy(strategy))
		var got []string
		start := time.Now()
		var faultAt time.Duration
		for a := range s.All(t.Context()) {
			got = append(got, describe(a))
			switch a := a.(type) {
			case Event:
				if a.Data == "a" {
					s.Interrupt()
				}
			case Fault:
				if errors.Is(a.Err, ErrInterrupted) {
					faultAt = time.Since(start)
				}
			}
		}
		want := []string{
			"start 1",
			describe(Event{Type: "message", Data: "a", ID: "1", HasID: true, LastEventID: "1"}),
			faultOf(ErrInterrupted, false, time.Second),
			"start 2",
			describe(Event{Type: "message", Data: "b", LastEventID: "1"}),
			faultOf(nil, true, 0),
		}
		if !slices.Equal(got, want) {
			t.Errorf("\ngot  %q\nwant %q", got, want)
		}
		if consulted != 1 {
			t.Errorf("error strategy calls: got %d; want 1 (the orderly end only)", consulted)
		}
		if faultAt != 0 {
			t.Errorf("the interrupt's Fault came %v after the event; want at once", faultAt)
		}
		if gaps := src.gaps(); !slices.Equal(gaps, []time.Duration{time.Second}) {
			t.Errorf("time between attempts: got %v; want [1s]", gaps)
		}
		if ids := src.lastIDs(); !slices.Equal(ids, []string{"", "1"}) {
			t.Errorf("Last-Event-ID per attempt: got %q; want [\"\" \"1\"]", ids)
		}
	})
}

// Interrupt during a retry delay reconnects at once.
func TestStreamInterruptDuringDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := script(scriptStep{err: errRefused}, scriptStep{body: "data: a\n\n", open: -1})
		s := newScripted(t, src, WithErrorStrategy(AlwaysContinue()), WithInitialDelay(time.Hour), WithMaxDelay(2*time.Hour))
		actions := make(chan string)
		go func() {
			defer close(actions)
			for a := range s.All(t.Context()) {
				actions <- describe(a)
			}
		}()
		if got, want := <-actions, faultOf(errRefused, false, time.Hour); got != want {
			t.Fatalf("first action: got %s; want %s", got, want)
		}
		synctest.Wait() // the stream sleeps its hour
		start := time.Now()
		s.Interrupt()
		if got := <-actions; got != "start 2" {
			t.Errorf("after Interrupt: got %s; want start 2", got)
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("reconnected %v after Interrupt; want at once", d)
		}
		s.Close()
		for a := range actions {
			if a != describe(Event{Type: "message", Data: "a"}) {
				t.Errorf("after Close: got %s; want nothing but the pending event", a)
			}
		}
	})
}

// Close during a backoff sleep ends the iteration at once, without a Fault.
func TestStreamCloseDuringDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newScripted(t, script(scriptStep{err: errRefused}), WithErrorStrategy(AlwaysContinue()), WithInitialDelay(time.Hour), WithMaxDelay(2*time.Hour))
		done := make(chan []string)
		go func() { done <- pull(context.Background(), s, 100) }()
		synctest.Wait()
		start := time.Now()
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		got := <-done
		if d := time.Since(start); d != 0 {
			t.Errorf("the iteration ended %v after Close; want at once", d)
		}
		if want := []string{faultOf(errRefused, false, time.Hour)}; !slices.Equal(got, want) {
			t.Errorf("actions: got %q; want %q", got, want)
		}
		if got := pull(context.Background(), s, 100); len(got) != 0 {
			t.Errorf("ranging after Close: got %q; want nothing", got)
		}
	})
}

// Close and context cancellation during an open connection end the
// iteration without a Fault.
func TestStreamStopWhileOpen(t *testing.T) {
	for _, how := range []string{"Close", "cancel"} {
		t.Run(how, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := newScripted(t, script(scriptStep{body: "data: a\n\n", open: -1}), WithErrorStrategy(AlwaysContinue()))
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				var got []string
				for a := range s.All(ctx) {
					got = append(got, describe(a))
					if _, ok := a.(Event); ok {
						if how == "Close" {
							s.Close()
						} else {
							cancel()
						}
					}
				}
				want := []string{"start 1", describe(Event{Type: "message", Data: "a"})}
				if !slices.Equal(got, want) {
					t.Errorf("got %q; want %q", got, want)
				}
			})
		})
	}
}

// A line or event over WithMaxEventSize fails the connection with a
// *TooLargeError.
func TestStreamTooLarge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newScripted(t, script(scriptStep{body: "data: ok\n\ndata: 0123456789abcdef\n\n"}), WithMaxEventSize(12))
		var got []string
		var tl *TooLargeError
		for a := range s.All(t.Context()) {
			got = append(got, describe(a))
			if f, ok := a.(Fault); ok && !errors.As(f.Err, &tl) {
				t.Errorf("fault: got %v; want a *TooLargeError", f.Err)
			}
		}
		if tl == nil || tl.Limit != 12 {
			t.Errorf("TooLargeError: got %+v; want limit 12", tl)
		}
		if len(got) != 3 || got[1] != describe(Event{Type: "message", Data: "ok"}) {
			t.Errorf("actions: got %q; want start, the small event, the fault", got)
		}
	})
}

// An Interrupt that comes while the stream reports a failure, before its
// retry delay has begun (e.g. from an OnFault handler), is not lost: the
// delay is skipped.
func TestStreamInterruptWhileReportingFault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := script(scriptStep{err: errRefused}, scriptStep{body: "data: a\n\n"})
		s := newScripted(t, src, WithErrorStrategy(AlwaysContinue()), WithInitialDelay(time.Hour), WithMaxDelay(time.Hour))
		var got []string
		for a := range s.All(t.Context()) {
			got = append(got, describe(a))
			if _, ok := a.(Fault); ok {
				s.Interrupt()
			}
			if _, ok := a.(Event); ok {
				break
			}
		}
		if gaps := src.gaps(); !slices.Equal(gaps, []time.Duration{0}) {
			t.Errorf("time between attempts: got %v; want [0s] (actions %q)", gaps, got)
		}
	})
}

// An Interrupt before the stream connects does not cut the new connection.
func TestStreamInterruptBeforeConnect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newScripted(t, script(scriptStep{body: "data: a\n\n"}))
		s.Interrupt()
		got := pull(t.Context(), s, 100)
		want := []string{"start 1", describe(Event{Type: "message", Data: "a"}), faultOf(nil, true, 0)}
		if !slices.Equal(got, want) {
			t.Errorf("got %q; want %q", got, want)
		}
	})
}

// The stream logs through logrus with structured fields, at Warn for a
// retried failure, Error for giving up on one and Info for a stop the
// server asked for; it never logs event data.
func TestStreamLogging(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		logger, hook := logtest.NewNullLogger()
		logger.SetLevel(logrus.DebugLevel)
		src := script(scriptStep{err: &StatusError{Code: 503}}, scriptStep{body: "id: 4\ndata: secret-data\n\n"},
			scriptStep{err: errRefused})
		s, err := NewStream("http://user:pw@stream.test/feed", WithSource(src), WithJitter(0), WithLogger(logger),
			WithErrorStrategy(ContinueWithMaxAttempts(1)))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		pull(t.Context(), s, 100)
		s.Close()
		// An orderly end under AlwaysFail, and a 204, stop the stream at Info.
		for _, step := range []scriptStep{{body: "data: x\n\n"}, {err: &StatusError{Code: 204}}} {
			s2, _ := NewStream("http://stream.test/", WithSource(script(step)), WithLogger(logger), WithErrorStrategy(AlwaysFail()))
			pull(t.Context(), s2, 100)
			s2.Close()
		}

		type entry struct {
			level logrus.Level
			msg   string
		}
		var got []entry
		for _, e := range hook.AllEntries() {
			got = append(got, entry{e.Level, e.Message})
			text, _ := e.String()
			if strings.Contains(text, "secret-data") || strings.Contains(text, "pw@") {
				t.Errorf("log entry shows event data or a password: %s", text)
			}
			if u, _ := e.Data["url"].(string); !strings.HasPrefix(u, "http://") || strings.Contains(u, "pw") {
				t.Errorf("log entry %q: url field %q; want the redacted stream URL", e.Message, u)
			}
			if _, ok := e.Data["attempt"]; !ok {
				t.Errorf("log entry %q has no attempt field", e.Message)
			}
		}
		levels := map[logrus.Level]int{}
		for _, e := range got {
			levels[e.level]++
		}
		if levels[logrus.WarnLevel] != 2 || levels[logrus.ErrorLevel] != 1 {
			t.Errorf("entries: got %v; want 2 at Warn (503, end), 1 at Error (refused), stops at Info", got)
		}
		var warn503, gaveUp *logrus.Entry
		for _, e := range hook.AllEntries() {
			if e.Level == logrus.WarnLevel && warn503 == nil {
				warn503 = e
			}
			if e.Level == logrus.ErrorLevel {
				gaveUp = e
			}
		}
		if warn503 == nil || warn503.Data["status"] != 503 || warn503.Data["delay"] != time.Second {
			t.Errorf("first Warn entry: got %+v; want status 503 and delay 1s", warn503)
		}
		if gaveUp == nil || gaveUp.Data["last_event_id"] != "4" || !errors.Is(gaveUp.Data[logrus.ErrorKey].(error), errRefused) {
			t.Errorf("Error entry: got %+v; want last_event_id 4 and the error", gaveUp)
		}
	})
}

// A context that is already done stops an iteration before it connects.
func TestStreamContextDoneBeforeRange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := script(scriptStep{body: "data: a\n\n"})
		s := newScripted(t, src)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if got := pull(ctx, s, 100); len(got) != 0 {
			t.Errorf("actions: got %q; want none", got)
		}
		if n := src.attempts(); n != 0 {
			t.Errorf("attempts: got %d; want 0", n)
		}
	})
}

// Ranging again after the error strategy gave up starts its count afresh:
// ContinueWithMaxAttempts(1) allows one more retry, as at the start.
func TestStreamRangeAgainResetsStrategyCount(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newScripted(t, script(scriptStep{err: errRefused}), WithErrorStrategy(ContinueWithMaxAttempts(1)))
		first := pull(t.Context(), s, 100)
		second := pull(t.Context(), s, 100)
		if len(first) != 2 || len(second) != 2 {
			t.Errorf("Faults: got %q, then %q; want one retry and a final Fault each time", first, second)
		}
	})
}

// Cancelling the iteration's context from the loop body ends the iteration
// there, even when more events are already buffered.
func TestStreamCancelInLoopBody(t *testing.T) {
	for range 20 { // the stop must not depend on goroutine scheduling
		synctest.Test(t, func(t *testing.T) {
			s := newScripted(t, script(scriptStep{body: "data: a\n\ndata: b\n\ndata: c\n\n", open: -1}))
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var got []string
			for ev, err := range s.Events(ctx) {
				got = append(got, ev.Data)
				if err != nil {
					t.Errorf("error: %v", err)
				}
				cancel()
			}
			if !slices.Equal(got, []string{"a"}) {
				t.Errorf("events: got %q; want only a", got)
			}
		})
	}
}

// TestStreamLastEventIDFromAnotherGoroutine reads LastEventID on another
// goroutine while events arrive (under -race, this checks how the ID is
// published) and on the ranging goroutine, where it must be exact. The IDs
// come with small, medium and large events, without an event, at lengths
// whose records need one and two length bytes, and empty.
func TestStreamLastEventIDFromAnotherGoroutine(t *testing.T) {
	var body strings.Builder
	var ids []string // every value LastEventID may take, in order
	add := func(id, data string) {
		fmt.Fprintf(&body, "id: %s\n", id)
		if data != "" {
			fmt.Fprintf(&body, "data: %s\n", data)
		}
		body.WriteString("\n")
		if len(ids) == 0 || ids[len(ids)-1] != id {
			ids = append(ids, id)
		}
	}
	for i := range 3000 {
		id := fmt.Sprint(i)
		switch i % 6 {
		case 1:
			id += strings.Repeat("l", 200) // a two-byte length
		case 2:
			add(id, strings.Repeat("m", 1000)) // text of its own
			continue
		case 3:
			add(id, strings.Repeat("L", 10000)) // the parser's buffer
			continue
		case 4:
			add(id, "") // no event
			continue
		case 5:
			add("", "x") // reset to empty
			continue
		}
		add(id, "s")
	}
	s := newScripted(t, script(scriptStep{body: body.String()}), WithLastEventID("start"))
	ids = append([]string{"start"}, ids...)

	done := make(chan struct{})
	seen := make(chan []string)
	go func() {
		var got []string
		for {
			select {
			case <-done:
				seen <- got
				return
			default:
			}
			if id := s.LastEventID(); len(got) == 0 || got[len(got)-1] != id {
				got = append(got, id)
			}
		}
	}()
	n := 0
	for ev, err := range s.Events(t.Context()) {
		if err != nil {
			t.Fatal(err)
		}
		if got := s.LastEventID(); got != ev.LastEventID {
			t.Fatalf("event %d: LastEventID() = %.20q; want the event's %.20q", n, got, ev.LastEventID)
		}
		n++
	}
	close(done)
	got := <-seen
	// What the other goroutine saw is the sequence with values skipped.
	i := 0
	for _, id := range got {
		for i < len(ids) && ids[i] != id {
			i++
		}
		if i == len(ids) {
			t.Fatalf("LastEventID() on another goroutine returned %.20q, out of order or never sent", id)
		}
	}
	if last := s.LastEventID(); last != ids[len(ids)-1] {
		t.Errorf("at the end LastEventID() = %.20q; want %.20q", last, ids[len(ids)-1])
	}
}

// TestAllocationsPerSmallEvent holds the pull engine and the dispatcher to
// at most one allocation per small event delivered, setting up the stream
// included (the benchmarks report the same figure).
func TestAllocationsPerSmallEvent(t *testing.T) {
	for _, sh := range benchShapes() {
		if sh.events < 1000 || len(sh.stream)/sh.events > 200 {
			continue // the small-event shapes
		}
		n := 0
		levels := map[string]func(){
			"stream": func() {
				s, _ := NewStream("", WithErrorStrategy(AlwaysFail()), sh.source())
				for range s.Events(context.Background()) {
					n++
				}
			},
			"dispatcher": func() {
				d, _ := New("", WithErrorStrategy(AlwaysFail()), sh.source())
				d.OnEvent(func(context.Context, Event) { n++ })
				d.Run(context.Background())
			},
		}
		for name, run := range levels {
			n = 0
			run()
			if n != sh.events {
				t.Fatalf("%s %s: %d events; want %d", sh.name, name, n, sh.events)
			}
			perEvent := testing.AllocsPerRun(3, run) / float64(sh.events)
			t.Logf("%s %s: %.3f allocations per event", sh.name, name, perEvent)
			if perEvent > 1 {
				t.Errorf("%s %s: %.2f allocations per event; want at most 1", sh.name, name, perEvent)
			}
		}
	}
}

// TestLongLineAllocationsGrowLinearly checks that the memory a single-line
// event costs grows with its size and no faster, from 256 KiB to 4 MiB (a
// long generated answer, read in TCP-segment-sized pieces; the scale
// benchmark checks the time). The bound is five times the line: the chunks
// that hold a spilled line grow fourfold, so a line just past one chunk
// leaves most of the next unused, and then it is joined into one buffer of
// its size; the stream itself takes a few KiB more. The unused room is
// never cleared or written, so it costs no time; a smaller growth factor
// would cost more allocations per line (doubling: twice as many, for at
// most three times the line).
func TestLongLineAllocationsGrowLinearly(t *testing.T) {
	allocated := func(size int) uint64 {
		body := []byte("data: " + strings.Repeat("x", size) + "\n\n")
		src := WithSource(SourceFunc(func(context.Context, string) (io.ReadCloser, error) {
			return io.NopCloser(&chunkReader{body, 1460}), nil
		}))
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		s, _ := NewStream("", WithErrorStrategy(AlwaysFail()), src)
		for ev := range s.Events(context.Background()) {
			if len(ev.Data) != size {
				t.Fatalf("got %d bytes of data; want %d", len(ev.Data), size)
			}
		}
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	// 1 MiB + 1 is just past the third chunk: the worst case.
	for _, size := range []int{256 << 10, 1<<20 + 1, 2 << 20, 4 << 20} {
		got := allocated(size)
		t.Logf("a line of %d bytes allocated %d bytes, %.2f times the line", size, got, float64(got)/float64(size))
		if got > 5*uint64(size)+64<<10 {
			t.Errorf("a line of %d bytes allocated %d bytes; want at most five times the line, and 64 KiB", size, got)
		}
	}
}

// stallAfter is a body that delivers first and then waits, as an idle
// connection does, until it is closed.
type stallAfter struct {
	first  []byte
	closed chan struct{}
	once   sync.Once
}

func (r *stallAfter) Read(b []byte) (int, error) {
	if len(r.first) > 0 {
		n := copy(b, r.first)
		r.first = r.first[n:]
		return n, nil
	}
	<-r.closed
	return 0, io.EOF
}

func (r *stallAfter) Close() error {
	r.once.Do(func() { close(r.closed) })
	return nil
}

// TestIdleStreamCost holds idle streams, after their first event, to at
// most 8 KiB of the library's heap each, no goroutine of its own for a
// Stream and one for a Dispatcher. The bodies are in memory,
// so nothing of net/http is counted (bench/cmd/idle measures over HTTP).
func TestIdleStreamCost(t *testing.T) {
	const n = 300
	src := WithSource(SourceFunc(func(context.Context, string) (io.ReadCloser, error) {
		return &stallAfter{first: []byte("id: 100001\nevent: update\ndata: {\"seq\":1,\"user\":\"u-1234\"}\n\n"), closed: make(chan struct{})}, nil
	}))
	modes := map[string]struct {
		open       func() (close func())
		goroutines int
	}{
		"stream": {func() func() {
			s, _ := NewStream("", WithErrorStrategy(AlwaysFail()), src)
			for range s.Events(context.Background()) {
				break // the connection stays open, unread
			}
			return func() { s.Close() }
		}, 0},
		"dispatcher": {func() func() {
			d, _ := New("", WithErrorStrategy(AlwaysFail()), src)
			got := make(chan struct{}, 1)
			d.OnEvent(func(context.Context, Event) { got <- struct{}{} })
			d.Start(context.Background())
			<-got
			return func() { d.Close() }
		}, 1},
	}
	for name, m := range modes {
		closers := make([]func(), 0, n)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&before)
		g0 := runtime.NumGoroutine()
		for range n {
			closers = append(closers, m.open())
		}
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&after)
		goroutines := runtime.NumGoroutine() - g0
		for _, c := range closers {
			c()
		}
		heap := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / n
		t.Logf("%s: %d bytes of heap and %.2f goroutines per idle stream", name, heap, float64(goroutines)/n)
		if heap > 8<<10 {
			t.Errorf("%s: %d bytes of heap per idle stream; want at most %d", name, heap, 8<<10)
		}
		// A goroutine of an earlier test may still be on its way out.
		if per := float64(goroutines) / n; per < float64(m.goroutines)-0.05 || per > float64(m.goroutines)+0.05 {
			t.Errorf("%s: %d goroutines for %d idle streams; want %d each", name, goroutines, n, m.goroutines)
		}
	}
}

// A range that broke out of its loop leaves the connection to the next
// range, which answers to its own context: cancelling it ends a read that
// is blocked on that connection.
func TestStreamRangeObeysItsOwnContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newScripted(t, script(scriptStep{body: "data: x\n\n", open: -1}))
		for a := range s.All(t.Context()) {
			if _, ok := a.(Event); ok {
				break // the connection stays open, with nothing more to read
			}
		}
		ctx, cancel := context.WithCancel(t.Context())
		go func() {
			time.Sleep(time.Second)
			cancel()
		}()
		start := time.Now()
		for a := range s.All(ctx) {
			t.Errorf("second range: got %s; want nothing before its context ends", describe(a))
		}
		if waited := time.Since(start); waited != time.Second {
			t.Errorf("second range ended after %v; want when its context ended, 1s", waited)
		}
	})
}

// A range whose context was cancelled cannot end a later range: many
// rounds, so that a late cancel callback of the first has its chance.
func TestStreamRangeAfterCancelledRange(t *testing.T) {
	s := newScripted(t, script(scriptStep{body: "data: x\n\n", open: -1}))
	for i := range 2000 {
		ctx, cancel := context.WithCancel(t.Context())
		for range s.All(ctx) {
			cancel() // ends this range, and its connection
		}
		cancel()
		live, stop := context.WithCancel(t.Context())
		var got []string
		for a := range s.All(live) {
			if got = append(got, describe(a)); len(got) == 2 {
				stop() // and so its connection: the next round connects again
			}
		}
		stop()
		if want := []string{"start " + strconv.Itoa(2*i+2), msg("x")}; !slices.Equal(got, want) {
			t.Fatalf("round %d: a range with a live context got %q; want %q", i, got, want)
		}
	}
}

// Breaking out of an iteration and then closing the stream ends the
// connection and its span: nobody iterates any more to do it.
func TestStreamCloseAfterBreakEndsConnection(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: a\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	rec := tracetest.NewSpanRecorder()
	s, err := NewStream(srv.URL, WithErrorStrategy(AlwaysFail()), WithTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))))
	if err != nil {
		t.Fatal(err)
	}
	for range s.Events(context.Background()) {
		break
	}
	if n := len(rec.Ended()); n != 0 {
		t.Fatalf("after break: %d spans ended; want 0 (the connection stays open)", n)
	}
	s.Close()
	if n := len(rec.Ended()); n != 1 {
		t.Fatalf("after Close: %d spans ended; want 1", n)
	}
}

// TestReadTimeout covers WithReadTimeout wherever a connection can go
// silent: waiting for the response head, which is one deadline for the
// whole head, and between bytes of the body, where every byte restarts the
// clock. Time a consumer or a handler spends on an event does not count.
// A timeout is a retried Fault with a *TimeoutError, and the next attempt
// resumes from the last event ID. The rows in memory run on fake time and
// check when everything happened; the rows on sockets check the same over
// HTTP/1.1 and HTTP/2, without timings.
func TestReadTimeout(t *testing.T) {
	type row struct {
		name    string
		socket  bool // on loopback sockets over HTTP/1.1 and HTTP/2, not in memory on fake time
		handler bool // consume through a Dispatcher's handlers instead of ranging over the Stream
		timeout time.Duration
		// The server: HTTP responses in order, the last repeating, or the
		// attempts of a scripted Source.
		responses []ssetest.Response
		steps     []scriptStep
		slow      time.Duration // what the consumer or handler spends on each event
		slowStart time.Duration // and on each Start
		want      []string      // the actions, each after the time it came at (in memory)
		requests  []time.Duration
		lastIDs   []string // the Last-Event-ID of each attempt
	}
	write := func(s ...string) []ssetest.Step {
		var steps []ssetest.Step
		for _, x := range s {
			steps = append(steps, ssetest.Write(x))
		}
		return steps
	}
	endB := ssetest.Response{Steps: write("id: 2\ndata: b\n\n")}
	evB := `event message id="2" last="2" "b" has_id`
	rows := []row{
		{
			name: "head never comes", handler: true, timeout: 30 * time.Second,
			responses: []ssetest.Response{{Steps: []ssetest.Step{ssetest.Stall()}}, endB},
			want:      []string{"30s fault timeout 30s final=false delay=1s", "31s start 2", "31s " + evB, "31s fault end final=true delay=0s"},
			requests:  seconds(0, 31), lastIDs: []string{"", ""},
		},
		{
			name: "head later than the timeout", timeout: 2 * time.Second,
			responses: []ssetest.Response{{Steps: []ssetest.Step{ssetest.Sleep(3 * time.Second), ssetest.Write("data: late\n\n")}}, endB},
			want:      []string{"2s fault timeout 2s final=false delay=1s", "3s start 2", "3s " + evB, "3s fault end final=true delay=0s"},
			requests:  seconds(0, 3), lastIDs: []string{"", ""},
		},
		{
			name: "silence after a ping", handler: true, timeout: 30 * time.Second,
			responses: []ssetest.Response{{Steps: []ssetest.Step{ssetest.Write("id: 1\ndata: a\n\n"), ssetest.Sleep(10 * time.Second), ssetest.Write(": ping\n"), ssetest.Stall()}}, endB},
			want: []string{"0s start 1", `0s event message id="1" last="1" "a" has_id`, `10s comment " ping"`,
				"40s fault timeout 30s final=false delay=1s", "41s start 2", "41s " + evB, "41s fault end final=true delay=0s"},
			requests: seconds(0, 41), lastIDs: []string{"", "1"},
		},
		{
			name: "every body byte restarts the clock", timeout: 5 * time.Second,
			responses: []ssetest.Response{{Steps: []ssetest.Step{ssetest.Write("id: 1\ndata: a\n\n"), ssetest.Trickle(":\n:\n:\n", 2, 4*time.Second), ssetest.Stall()}}, endB},
			want: []string{"0s start 1", `0s event message id="1" last="1" "a" has_id`, `0s comment ""`, `4s comment ""`, `8s comment ""`,
				"13s fault timeout 5s final=false delay=1s", "14s start 2", "14s " + evB, "14s fault end final=true delay=0s"},
			requests: seconds(0, 14), lastIDs: []string{"", "1"},
		},
		{
			name: "every byte from a Source restarts the clock", timeout: 5 * time.Second,
			steps: []scriptStep{{body: "id: 1\ndata: a\n\n", dribble: []string{":\n", ":\n", ":\n"}, dribbleEvery: 4 * time.Second, open: -1}, {body: "id: 2\ndata: b\n\n"}},
			want: []string{"0s start 1", `0s event message id="1" last="1" "a" has_id`, `4s comment ""`, `8s comment ""`, `12s comment ""`,
				"17s fault timeout 5s final=false delay=1s", "18s start 2", "18s " + evB, "18s fault end final=true delay=0s"},
			requests: seconds(0, 18), lastIDs: []string{"", "1"},
		},
		{
			name: "bytes more often than the timeout", timeout: 2 * time.Second,
			steps:    []scriptStep{{dribble: []string{"data: 1\n\n", ": tick\n", "data: 2\n\n", ": tick\n"}, dribbleEvery: 1500 * time.Millisecond}},
			want:     []string{"0s start 1", "1.5s " + msg("1"), `3s comment " tick"`, "4.5s " + msg("2"), `6s comment " tick"`, "6s fault end final=true delay=0s"},
			requests: seconds(0), lastIDs: []string{""},
		},
		{
			name: "a slow consumer does not count", timeout: 5 * time.Second, slow: 10 * time.Second,
			steps:    []scriptStep{{body: "data: a\n\n", dribble: []string{"data: b\n\n"}, dribbleEvery: 4 * time.Second}},
			want:     []string{"0s start 1", "0s " + msg("a"), "14s " + msg("b"), "24s fault end final=true delay=0s"},
			requests: seconds(0), lastIDs: []string{""},
		},
		{
			name: "a slow handler does not count", handler: true, timeout: 5 * time.Second, slow: time.Minute,
			responses: []ssetest.Response{{Steps: []ssetest.Step{ssetest.Write("id: 1\ndata: slow\n\n"),
				ssetest.Trickle(": ping\n: ping\n: ping\n", 7, time.Second), ssetest.Write("id: 2\ndata: after\n\n")}}},
			want: []string{"0s start 1", `0s event message id="1" last="1" "slow" has_id`, `1m0s comment " ping"`, `1m1s comment " ping"`, `1m2s comment " ping"`,
				`1m2s event message id="2" last="2" "after" has_id`, "2m2s fault end final=true delay=0s"},
			requests: seconds(0), lastIDs: []string{""},
		},
		{
			name: "a slow start handler does not count", handler: true, timeout: 5 * time.Second, slowStart: time.Minute,
			responses: []ssetest.Response{{Steps: write("id: 1\ndata: a\n\n")}},
			want:      []string{"0s start 1", `1m0s event message id="1" last="1" "a" has_id`, "1m0s fault end final=true delay=0s"},
			requests:  seconds(0), lastIDs: []string{""},
		},
		{
			name: "silence after an event", socket: true, handler: true, timeout: 50 * time.Millisecond,
			responses: []ssetest.Response{{Steps: []ssetest.Step{ssetest.Write("id: 1\ndata: a\n\n"), ssetest.Stall()}}, endB},
			want: []string{"start 1", `event message id="1" last="1" "a" has_id`, "fault timeout 50ms final=false delay=1ms",
				"start 2", evB, "fault end final=true delay=0s"},
			lastIDs: []string{"", "1"},
		},
	}

	// check runs one row against a stream at url, with opts to reach the
	// server; requests reports when each attempt began and its last event ID.
	check := func(t *testing.T, tt row, url string, requests func() ([]time.Duration, []string), opts ...Option) {
		begin := time.Now()
		var l recorder
		add := func(a Action) {
			if tt.socket {
				l.add("%s", describe(a))
				return
			}
			l.add("%v %s", time.Since(begin), describe(a))
		}
		opts = append(opts, WithReadTimeout(tt.timeout), WithJitter(0),
			WithErrorStrategy(func(err error, failures int, _ time.Duration) bool { return err != nil && failures < 3 }))
		if tt.socket {
			opts = append(opts, WithInitialDelay(time.Millisecond), WithMinDelay(0))
		}
		if tt.handler {
			d, err := New(url, opts...)
			if err != nil {
				t.Fatal(err)
			}
			d.OnStart(func(_ context.Context, s Start) { add(s); time.Sleep(tt.slowStart) })
			d.OnEvent(func(_ context.Context, ev Event) { add(ev); time.Sleep(tt.slow) })
			d.OnComment(func(_ context.Context, c Comment) { add(c) })
			d.OnFault(func(_ context.Context, f Fault) { add(f) })
			if err := d.Run(context.Background()); err != nil {
				t.Fatalf("Run: got %v; want nil after the orderly end", err)
			}
		} else {
			s, err := NewStream(url, opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			for a := range s.All(t.Context()) {
				add(a)
				switch a.(type) {
				case Event:
					time.Sleep(tt.slow)
				case Start:
					time.Sleep(tt.slowStart)
				}
			}
		}
		checkActions(t, "actions", l.get(), tt.want)
		at, ids := requests()
		if !tt.socket && !slices.Equal(at, tt.requests) {
			t.Errorf("attempts at %v; want at %v", at, tt.requests)
		}
		if !slices.Equal(ids, tt.lastIDs) {
			t.Errorf("Last-Event-ID of each attempt: got %q; want %q", ids, tt.lastIDs)
		}
	}
	for _, tt := range rows {
		if tt.socket {
			t.Run(tt.name, func(t *testing.T) {
				var respond ssetest.Responder // a fresh sequence for each mode
				h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { respond.ServeHTTP(w, r) })
				run(t, h, func(t *testing.T, srv *httptest.Server) {
					respond = ssetest.Sequence(tt.responses...)
					var ids recorder
					client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
						ids.add("%s", r.Header.Get("Last-Event-ID"))
						return srv.Client().Transport.RoundTrip(r)
					})}
					check(t, tt, srv.URL, func() ([]time.Duration, []string) { return nil, ids.get() }, WithHTTPClient(client))
				})
			})
			continue
		}
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				if tt.steps != nil {
					src := script(tt.steps...)
					begin := time.Now()
					check(t, tt, "", func() ([]time.Duration, []string) {
						var at []time.Duration
						for _, o := range src.opens {
							at = append(at, o.at.Sub(begin))
						}
						return at, src.lastIDs()
					}, WithSource(src))
					return
				}
				begin := time.Now()
				var at []time.Duration
				var ids []string
				tr := &ssetest.Transport{Handler: ssetest.Sequence(tt.responses...)}
				client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
					at = append(at, time.Since(begin)) // on the goroutine of the stream
					ids = append(ids, r.Header.Get("Last-Event-ID"))
					return tr.RoundTrip(r)
				})}
				check(t, tt, "http://sse.test/", func() ([]time.Duration, []string) { return at, ids }, WithHTTPClient(client))
			})
		})
	}
}
