package sse

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
)

// Events reach the handlers for their type and the handlers for all types,
// together in registration order.
func TestRouting(t *testing.T) {
	type reg struct {
		name  string
		types []string // none: all types
	}
	tests := []struct {
		name string
		regs []reg
		want map[string][]string // event type -> handlers called, in order
	}{
		{
			name: "all-type handlers only",
			regs: []reg{{"A", nil}, {"B", nil}},
			want: map[string][]string{"message": {"A", "B"}, "add": {"A", "B"}},
		},
		{
			name: "per-type handlers only",
			regs: []reg{{"A", []string{"add"}}, {"B", []string{"del"}}, {"C", []string{"add"}}},
			want: map[string][]string{"message": nil, "add": {"A", "C"}, "del": {"B"}},
		},
		{
			name: "mixed, in registration order",
			regs: []reg{{"A", nil}, {"B", []string{"add"}}, {"C", nil}, {"D", []string{"add", "del"}}},
			want: map[string][]string{"message": {"A", "C"}, "add": {"A", "B", "C", "D"}, "del": {"A", "C", "D"}},
		},
		{
			name: "per-type before any all-type",
			regs: []reg{{"A", []string{"add"}}, {"B", nil}, {"C", []string{"add"}}},
			want: map[string][]string{"message": {"B"}, "add": {"A", "B", "C"}},
		},
		{
			name: "message by name",
			regs: []reg{{"A", []string{"message"}}, {"B", nil}},
			want: map[string][]string{"message": {"A", "B"}, "other": {"B"}},
		},
		{
			name: "same type twice in one registration",
			regs: []reg{{"A", []string{"add", "add"}}},
			want: map[string][]string{"add": {"A", "A"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var types []string
				for typ := range tt.want {
					types = append(types, typ)
				}
				slices.Sort(types)
				var body strings.Builder
				for _, typ := range types {
					fmt.Fprintf(&body, "event: %s\ndata: x\n\n", typ)
				}
				if _, ok := tt.want["message"]; ok {
					body.WriteString("data: plain\n\n") // no event field is "message" too
				}
				d := newScriptedDispatcher(t, script(scriptStep{body: body.String()}))
				got := map[string][]string{}
				for _, r := range tt.regs {
					d.OnEvent(func(_ context.Context, ev Event) {
						if ev.Data == "plain" {
							got["plain"] = append(got["plain"], r.name)
							return
						}
						got[ev.Type] = append(got[ev.Type], r.name)
					}, r.types...)
				}
				d.Run(t.Context())
				for _, typ := range types {
					if !slices.Equal(got[typ], tt.want[typ]) {
						t.Errorf("event type %q: got handlers %q; want %q", typ, got[typ], tt.want[typ])
					}
				}
				if _, ok := tt.want["message"]; ok && !slices.Equal(got["plain"], tt.want["message"]) {
					t.Errorf("event without a type: got handlers %q; want %q", got["plain"], tt.want["message"])
				}
			})
		})
	}
}

// A registration copies little of the table: over many typed and all-type
// registrations, the handler entries copied stay within a small multiple of
// the entries the table ends with. (A table whose every list is copied on
// each registration copies about n³/3 entries for n of each.)
func TestRegistrationCopiesLittle(t *testing.T) {
	d, err := New("http://example.invalid/")
	if err != nil {
		t.Fatal(err)
	}
	ev := func(context.Context, Event) {}
	copied := 0
	step := func(register func()) {
		before := d.handlers.Load()
		register()
		copied += copiedBy(before, d.handlers.Load())
	}
	const n = 100
	for i := range n {
		step(func() { d.OnEvent(ev, fmt.Sprint("type", i)) })
		step(func() { d.OnEvent(ev) })
		step(func() { OnJSON(d, fmt.Sprint("json", i%10), func(context.Context, int, Event) {}) })
		step(func() { d.OnComment(func(context.Context, Comment) {}) })
		step(func() { d.OnStart(func(context.Context, Start) {}) })
		step(func() { d.OnFault(func(context.Context, Fault) {}) })
	}
	h := d.handlers.Load()
	entries := len(h.all) + len(h.comment) + len(h.start) + len(h.fault)
	for _, hs := range h.byType {
		entries += len(hs)
	}
	if copied > 3*entries {
		t.Errorf("registering %d entries copied %d; want at most %d", entries, copied, 3*entries)
	}
	if got := len(h.events("type7")); got != n+1 {
		t.Errorf("handlers for type7: got %d; want %d (its own and the %d all-type ones)", got, n+1, n)
	}
}

// copiedBy counts the handler entries a registration copied from table old
// to table new: every entry of a list that moved to another array, and the
// all-type entries a new type's list starts with.
func copiedBy(old, new *handlers) int {
	n := moved(old.all, new.all) + moved(old.comment, new.comment) +
		moved(old.start, new.start) + moved(old.fault, new.fault)
	for typ, hs := range new.byType {
		if was, ok := old.byType[typ]; ok {
			n += moved(was, hs)
		} else {
			n += len(old.all)
		}
	}
	return n
}

// moved returns len(old) if new no longer shares old's array, and 0 if it
// does.
func moved[A any](old, new []handler[A]) int {
	if len(old) == 0 || &old[0] == &new[0] {
		return 0
	}
	return len(old)
}

type price struct {
	Symbol string  `json:"symbol"`
	Px     float64 `json:"px"`
}

// OnJSON decodes the data of its event type; data that does not decode is a
// non-final Fault with a *DecodeError, the handler is skipped, and the
// stream goes on.
func TestOnJSON(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		body := "event: price\ndata: {\"symbol\":\"A\",\"px\":1.5}\n\n" +
			"event: price\ndata: not json\n\n" +
			"event: other\ndata: {\"symbol\":\"B\"}\n\n" +
			"event: price\nid: 9\ndata: {\"symbol\":\"C\",\ndata: \"px\":2}\n\n"
		d := newScriptedDispatcher(t, script(scriptStep{body: body}))
		var got []string
		OnJSON(d, "price", func(_ context.Context, p price, ev Event) {
			got = append(got, fmt.Sprintf("%s %v id=%q", p.Symbol, p.Px, ev.ID))
		})
		var decodeErrs []*DecodeError
		var faults []Fault
		d.OnFault(func(_ context.Context, f Fault) {
			faults = append(faults, f)
			var de *DecodeError
			if errors.As(f.Err, &de) {
				decodeErrs = append(decodeErrs, de)
			}
		})
		if err := d.Run(t.Context()); err != nil {
			t.Fatalf("Run: %v", err)
		}
		if want := []string{`A 1.5 id=""`, `C 2 id="9"`}; !slices.Equal(got, want) {
			t.Errorf("decoded: got %q; want %q", got, want)
		}
		if len(decodeErrs) != 1 {
			t.Fatalf("DecodeErrors: got %d; want 1 (faults %v)", len(decodeErrs), faults)
		}
		de := decodeErrs[0]
		if de.Event.Type != "price" || de.Event.Data != "not json" {
			t.Errorf("DecodeError.Event: got %+v; want the price event with data \"not json\"", de.Event)
		}
		var syntax *json.SyntaxError
		if !errors.As(de, &syntax) {
			t.Errorf("DecodeError %v does not unwrap to a *json.SyntaxError", de)
		}
		if len(faults) != 2 || faults[0].Final || faults[0].RetryDelay != 0 || !faults[1].Final || faults[1].Err != nil {
			t.Errorf("faults: got %v; want the non-final decode fault, then the final end of stream", faults)
		}
	})
}

// OnJSON into a type the data does not fit is a decode failure too.
func TestOnJSONTypeMismatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newScriptedDispatcher(t, script(scriptStep{body: "data: {\"px\":\"high\"}\n\ndata: [1,2]\n\n"}))
		var got [][]int
		OnJSON(d, "message", func(_ context.Context, v []int, _ Event) { got = append(got, v) })
		var typeErr *json.UnmarshalTypeError
		decodeFaults := 0
		d.OnFault(func(_ context.Context, f Fault) {
			if errors.As(f.Err, &typeErr) {
				decodeFaults++
			}
		})
		d.Run(t.Context())
		if len(got) != 1 || !slices.Equal(got[0], []int{1, 2}) {
			t.Errorf("decoded: got %v; want [[1 2]]", got)
		}
		if decodeFaults != 1 {
			t.Errorf("faults with a *json.UnmarshalTypeError: got %d; want 1", decodeFaults)
		}
	})
}

// OnJSON handlers and OnEvent handlers share one order.
func TestOnJSONOrderWithOnEvent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newScriptedDispatcher(t, script(scriptStep{body: "event: n\ndata: 5\n\n"}))
		var got []string
		d.OnEvent(func(context.Context, Event) { got = append(got, "all") })
		OnJSON(d, "n", func(_ context.Context, v int, _ Event) { got = append(got, fmt.Sprint("json ", v)) })
		d.OnEvent(func(context.Context, Event) { got = append(got, "n") }, "n")
		d.Run(t.Context())
		if want := []string{"all", "json 5", "n"}; !slices.Equal(got, want) {
			t.Errorf("got %q; want %q", got, want)
		}
	})
}

// An Event's strings are its own: later events do not change them, also for
// data large enough that the stream hands its buffer over instead of copying.
func TestEventStringsAreOwned(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Sizes around the ways the stream makes event text: tiny, shared
		// blocks, copies, and large buffers handed over (also one smaller
		// than the buffer before it).
		sizes := []int{1, 5, 300, 1000, 1100, 2 << 10, 64 << 10, 64 << 10, 10, 5 << 10, 200 << 10, 100, 50 << 10, 1}
		var body strings.Builder
		var want []Event
		last := ""
		for i, n := range sizes {
			data := strings.Repeat(string(rune('a'+i%26)), n)
			ev := Event{Type: "message", Data: data, LastEventID: last}
			if i%3 != 2 { // some events without an id
				ev.ID, ev.HasID = strconv.Itoa(i), true
				ev.LastEventID, last = ev.ID, ev.ID
				fmt.Fprintf(&body, "id: %s\n", ev.ID)
			}
			fmt.Fprintf(&body, "data: %s\n\n", data)
			want = append(want, ev)
		}
		d := newScriptedDispatcher(t, script(scriptStep{body: body.String()}))
		var kept []Event
		d.OnEvent(func(_ context.Context, ev Event) { kept = append(kept, ev) })
		d.Run(t.Context())
		if !slices.Equal(kept, want) {
			for i := range min(len(kept), len(want)) {
				if kept[i] != want[i] {
					t.Errorf("event %d: got data %s, id %s, last %s; want data %s, id %s, last %s",
						i, short(kept[i].Data), short(kept[i].ID), short(kept[i].LastEventID),
						short(want[i].Data), short(want[i].ID), short(want[i].LastEventID))
				}
			}
			if len(kept) != len(want) {
				t.Errorf("events: got %d; want %d", len(kept), len(want))
			}
		}
	})
}

// short describes a long string by its start and length.
func short(s string) string {
	if len(s) <= 20 {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%q... (%d bytes)", s[:20], len(s))
}

// BenchmarkRegisterMixed registers n handlers for n distinct types and n
// handlers for all types, alternating, on a fresh Dispatcher: the cost of
// one registration should grow with the handlers that exist, no faster.
func BenchmarkRegisterMixed(b *testing.B) {
	for _, n := range []int{50, 100, 200, 400} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			fn := func(context.Context, Event) {}
			types := make([]string, n)
			for i := range types {
				types[i] = fmt.Sprintf("type%d", i)
			}
			b.ReportAllocs()
			for b.Loop() {
				d, _ := New("http://bench.invalid/")
				for _, typ := range types {
					d.OnEvent(fn, typ)
					d.OnEvent(fn)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*2*n), "ns/registration")
		})
	}
}

// BenchmarkHandlerLookup measures the event path's lookup of an event
// type's handlers in a table of a few types and handlers.
func BenchmarkHandlerLookup(b *testing.B) {
	d, _ := New("http://bench.invalid/")
	fn := func(context.Context, Event) {}
	d.OnEvent(fn)
	for _, typ := range []string{"add", "update", "delete", "ping"} {
		d.OnEvent(fn, typ)
		d.OnEvent(fn)
	}
	for _, typ := range []string{"update", "message"} { // with a list of its own, and without
		b.Run(typ, func(b *testing.B) {
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				n += len(d.handlers.Load().events(typ))
			}
			if n == 0 {
				b.Fatal("no handlers found")
			}
		})
	}
}
