package sse

import (
	"math"
	"testing"
	"testing/synctest"
	"time"
)

// Every numeric option at 0, 1, its largest value and a negative value is
// either refused by NewStream with an error, or accepted and then works: the
// stream connects, fails, and computes a usable delay without panicking.
func TestNumericOptionExtremes(t *testing.T) {
	const maxDur = time.Duration(math.MaxInt64)
	durations := []time.Duration{0, 1, maxDur, -1}
	type option struct {
		name   string
		make   func(v float64) Option
		values []float64
		refuse func(v float64) bool // the values NewStream must refuse
	}
	dur := func(f func(time.Duration) Option) func(float64) Option {
		return func(v float64) Option {
			if v >= float64(maxDur) {
				return f(maxDur) // the float rounds up past it
			}
			return f(time.Duration(v))
		}
	}
	var durVals []float64
	for _, d := range durations {
		durVals = append(durVals, float64(d))
	}
	negative := func(v float64) bool { return v < 0 }
	options := []option{
		{"WithInitialDelay", dur(WithInitialDelay), durVals, negative},
		{"WithMaxDelay", dur(WithMaxDelay), durVals, negative},
		{"WithMinDelay", dur(WithMinDelay), durVals, negative},
		{"WithResetAfter", dur(WithResetAfter), durVals, negative},
		{"WithReadTimeout", dur(WithReadTimeout), durVals, negative},
		{"WithMaxRedirects", func(v float64) Option { return WithMaxRedirects(toInt(v)) },
			[]float64{0, 1, math.MaxInt, -1}, func(float64) bool { return false }}, // negative means none
		{"WithMaxEventSize", func(v float64) Option { return WithMaxEventSize(toInt(v)) },
			[]float64{0, 1, math.MaxInt, -1}, func(v float64) bool { return v < 1 }},
		{"WithJitter", func(v float64) Option { return WithJitter(v) },
			[]float64{0, 1, math.MaxFloat64, -1}, func(v float64) bool { return v < 0 || v > 1 }},
		{"WithMultiplier", func(v float64) Option { return WithMultiplier(v) },
			[]float64{0, 1, math.MaxFloat64, -1}, func(v float64) bool { return v < 1 }},
	}
	for _, o := range options {
		for _, v := range o.values {
			synctest.Test(t, func(t *testing.T) {
				src := script(scriptStep{body: "data: x\n\n"}, scriptStep{err: errRefused})
				s, err := NewStream("mem://x", WithSource(src), WithErrorStrategy(AlwaysContinue()), o.make(v))
				if o.refuse(v) {
					if err == nil {
						s.Close()
						t.Errorf("%s(%v): accepted; want an error from NewStream", o.name, v)
					}
					return
				}
				if err != nil {
					t.Fatalf("%s(%v): %v; want it accepted", o.name, v, err)
				}
				defer s.Close()
				var events int
				var delays []time.Duration
				for a := range s.All(t.Context()) {
					switch a := a.(type) {
					case Event:
						events++
					case Fault:
						delays = append(delays, a.RetryDelay)
					}
					if len(delays) == 2 {
						break
					}
				}
				tooSmall := o.name == "WithMaxEventSize" && v == 1 // the line itself is over it
				if events != 1 && !tooSmall {
					t.Errorf("%s(%v): %d events; want the one sent", o.name, v, events)
				}
				for _, d := range delays {
					if d < 0 {
						t.Errorf("%s(%v): delays %v; want none negative", o.name, v, delays)
					}
				}
			})
		}
	}
}

// toInt converts v, which may be math.MaxInt rounded up as a float.
func toInt(v float64) int {
	if v >= math.MaxInt {
		return math.MaxInt
	}
	return int(v)
}
