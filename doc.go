// Package sse consumes Server-Sent Events streams, as the WHATWG HTML
// standard defines them, with the reconnection, backoff and error handling
// a long-lived client needs.
//
// A [Dispatcher] reads a stream on a goroutine of its own and calls the
// handlers you register, one at a time, in stream order:
//
//	d, err := sse.New("https://example.com/stream")
//	if err != nil { ... }
//	d.OnEvent(func(ctx context.Context, ev sse.Event) { fmt.Println(ev.Type, ev.Data) })
//	sse.OnJSON(d, "price", func(ctx context.Context, p Price, ev sse.Event) { ... })
//	err = d.Run(ctx)
//
// A [Stream] is the same engine without the goroutine: range over
// [Stream.Events] or [Stream.All] to pull what happens yourself.
//
// Parsing follows the standard exactly: LF, CR and CRLF line endings however
// the bytes are split, a leading byte order mark, comments, the event, data,
// id and retry fields, and U+FFFD for invalid UTF-8. Reconnection sends the
// last event ID as Last-Event-ID, honours the server's retry field, and backs
// off exponentially with jitter through github.com/cenkalti/backoff/v4. Each
// connection attempt is an OpenTelemetry span.
package sse
