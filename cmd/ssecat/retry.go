package main

// This file holds ssecat's error strategies: whether to reconnect after a
// connection fails or ends. The library computes when.

import (
	"fmt"
	"time"

	"github.com/ssekit/sse"
)

// attemptBudget is the error strategy of --max-retries: it reconnects after
// any failure, rejections included, as long as no more than max
// reconnections in a row have delivered no event. The library counts those
// attempts (a connection that delivers an event starts the count again), so
// a server which accepts each connection and ends it at once still
// exhausts the budget.
type attemptBudget struct {
	max      int // -1: never give up
	failures int // the library's count at the last call
}

// strategy is the sse.ErrorStrategy that spends the budget.
func (b *attemptBudget) strategy(_ error, failures int, _ time.Duration) bool {
	b.failures = failures
	return b.max < 0 || failures <= b.max
}

// gaveUp returns what to add to the final error once the budget stopped
// the stream, such as " (gave up after 2 retries)"; "" when no retry was
// made.
func (b *attemptBudget) gaveUp() string {
	switch retries := b.failures - 1; {
	case retries == 1:
		return " (gave up after 1 retry)"
	case retries > 1:
		return fmt.Sprintf(" (gave up after %d retries)", retries)
	}
	return ""
}

// strategy returns the error strategy the flags ask for, and the budget
// that --max-retries sets (nil without the flag).
func strategy(cfg *config) (sse.ErrorStrategy, *attemptBudget) {
	if !cfg.retriesSet {
		return sse.ContinueUnlessRejected(), nil
	}
	b := &attemptBudget{max: cfg.maxRetries}
	return b.strategy, b
}
