package main

// This file holds ssecat's error strategies: whether to reconnect after a
// connection fails or ends. The library computes when.

import (
	"errors"
	"fmt"
	"time"

	"github.com/ssekit/sse"
)

// continueUnlessRejected is ssecat's default error strategy, the one a
// browser's EventSource follows: it reconnects after a dropped connection,
// a network failure or an orderly end of the stream, and stops when the
// server rejects the request with a status other than 2xx (the library
// itself always stops at 204 No Content) or with a content type other than
// text/event-stream.
//
// The library is getting this strategy as sse.ContinueUnlessRejected; once
// it has it, strategy returns that one and this function goes.
func continueUnlessRejected() sse.ErrorStrategy {
	return func(err error, _ int, _ time.Duration) bool { return !rejected(err) }
}

// rejected reports whether err is the server refusing the stream, as
// opposed to the connection failing.
func rejected(err error) bool {
	var (
		statusErr *sse.StatusError
		ctErr     *sse.ContentTypeError
	)
	return errors.As(err, &statusErr) || errors.As(err, &ctErr)
}

// attemptBudget is the error strategy of --max-retries: it reconnects after
// any failure, rejections included, as long as no more than max
// reconnections in a row have delivered no event. Counting events rather
// than successful connections means that a server which accepts each
// connection and ends it at once still exhausts the budget.
//
// Both the strategy and delivered run on the goroutine that ranges over the
// stream (the library calls the strategy from its iterator), so the count
// needs no lock.
type attemptBudget struct {
	max       int // -1: never give up
	fruitless int // connections ended since the last event, the last one included
}

// strategy is the sse.ErrorStrategy that spends the budget.
func (b *attemptBudget) strategy(error, int, time.Duration) bool {
	b.fruitless++
	return b.max < 0 || b.fruitless <= b.max
}

// delivered starts the count again: an event arrived.
func (b *attemptBudget) delivered() { b.fruitless = 0 }

// gaveUp returns what to add to the final error once the budget stopped
// the stream, such as " (gave up after 2 retries)"; "" when no retry was
// made.
func (b *attemptBudget) gaveUp() string {
	switch retries := b.fruitless - 1; {
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
		return continueUnlessRejected(), nil
	}
	b := &attemptBudget{max: cfg.maxRetries}
	return b.strategy, b
}
