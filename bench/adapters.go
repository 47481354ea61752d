package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"unicode/utf8"

	ldes "github.com/launchdarkly/eventsource"
	"github.com/openai/openai-go/v3/packages/ssestream"
	r3 "github.com/r3labs/sse/v2"
	"github.com/ssekit/sse"
	tmax "github.com/tmaxmax/go-sse"
	backoffv1 "gopkg.in/cenkalti/backoff.v1"
	"resty.dev/v3"
)

// maxEvent is the event size limit given to every client that has one: the
// 8 MiB event must fit everywhere.
const maxEvent = 16 << 20

// Level says what an adapter measures.
type Level string

const (
	Ours   Level = "ours"   // this library
	Parser Level = "parser" // a peer's decoder over a reader
	Client Level = "client" // a peer's full client (requests, reconnects, callbacks)
	Floor  Level = "floor"  // no SSE work at all
)

// Result is what an adapter found in a stream. Floors count lines and bytes
// instead of events and data.
type Result struct {
	Events  int
	DataLen int64
}

// An Adapter reads one whole stream with one implementation.
type Adapter struct {
	Name  string
	Level Level
	Read  func(ctx context.Context, sh *Shape, r io.ReadCloser) (Result, error)
}

// Want returns the result a correct run of a on sh must give.
func (a *Adapter) Want(sh *Shape) Result {
	switch {
	case a.Name == "floor-copy" || a.Name == "floor-copyvalid": // count bytes only
		return Result{DataLen: int64(len(sh.Data))}
	case a.Level == Floor:
		return Result{Events: sh.Lines, DataLen: int64(len(sh.Data))}
	}
	return Result{Events: sh.Events, DataLen: sh.DataLen}
}

// Adapters returns every implementation that reads from memory.
func Adapters() []*Adapter {
	return []*Adapter{
		{"ours-decoder", Ours, oursDecoder},
		{"ours-stream", Ours, oursStream},
		{"ours-dispatch", Ours, oursDispatch},
		{"tmaxmax-read", Parser, tmaxRead},
		{"openai-decoder", Parser, openaiDecoder},
		{"launchdarkly-decoder", Parser, ldDecoder},
		{"tmaxmax-client", Client, tmaxClient},
		{"r3labs-client", Client, r3Client},
		{"launchdarkly-client", Client, ldClient},
		{"resty-client", Client, restyClient},
		{"floor-indexbyte", Floor, floorIndexByte},
		{"floor-readslice", Floor, floorReadSlice},
		{"floor-copy", Floor, floorCopy},
		{"floor-copyvalid", Floor, floorCopyValid},
	}
}

// Known lists the peer failures on our shapes, by adapter and shape: those
// pairs are checked to fail as described and are not timed.
var Known = map[[2]string]string{
	{"resty-client", "small-crlf"}: "resty splits events only at LF LF, so a CRLF stream is one event",
}

// onceSource hands out one reader, then reports the stream as gone.
func onceSource(r io.ReadCloser) sse.Source {
	return sse.SourceFunc(func(context.Context, string) (io.ReadCloser, error) {
		if r == nil {
			return nil, errors.New("bench: stream already read")
		}
		body := r
		r = nil
		return body, nil
	})
}

// oursDecoder is the library's zero-copy level: Data is used as handed out,
// as openai-decoder's is.
func oursDecoder(_ context.Context, _ *Shape, r io.ReadCloser) (Result, error) {
	defer r.Close()
	d := sse.NewDecoder(r)
	var res Result
	for d.Next() {
		res.Events++
		res.DataLen += int64(len(d.Data()))
	}
	return res, d.Err()
}

func oursStream(ctx context.Context, _ *Shape, r io.ReadCloser) (Result, error) {
	s, err := sse.NewStream("", sse.WithSource(onceSource(r)), sse.WithErrorStrategy(sse.AlwaysFail()))
	if err != nil {
		return Result{}, err
	}
	return rangeStream(ctx, s)
}

// rangeStream reads a Stream's events to the end and closes it.
func rangeStream(ctx context.Context, s *sse.Stream) (Result, error) {
	defer s.Close()
	var res Result
	for ev, err := range s.Events(ctx) {
		if err != nil {
			return res, err
		}
		res.Events++
		res.DataLen += int64(len(ev.Data))
	}
	return res, nil
}

func oursDispatch(ctx context.Context, _ *Shape, r io.ReadCloser) (Result, error) {
	d, err := sse.New("", sse.WithSource(onceSource(r)), sse.WithErrorStrategy(sse.AlwaysFail()))
	if err != nil {
		return Result{}, err
	}
	return runDispatcher(ctx, d)
}

// runDispatcher counts a Dispatcher's events with one handler until it stops.
func runDispatcher(ctx context.Context, d *sse.Dispatcher) (Result, error) {
	var res Result
	d.OnEvent(func(_ context.Context, ev sse.Event) {
		res.Events++
		res.DataLen += int64(len(ev.Data))
	})
	err := d.Run(ctx)
	return res, err
}

func tmaxRead(_ context.Context, _ *Shape, r io.ReadCloser) (Result, error) {
	var res Result
	for ev, err := range tmax.Read(r, &tmax.ReadConfig{MaxEventSize: maxEvent}) {
		if err != nil {
			return res, err
		}
		res.Events++
		res.DataLen += int64(len(ev.Data))
	}
	return res, nil
}

func openaiDecoder(_ context.Context, _ *Shape, r io.ReadCloser) (Result, error) {
	dec := ssestream.NewDecoder(&http.Response{
		Header: http.Header{"Content-Type": {"text/event-stream"}},
		Body:   r,
	})
	var res Result
	for dec.Next() {
		ev := dec.Event()
		res.Events++
		res.DataLen += int64(len(ev.Data)) - 1 // it keeps the LF after the last data line
	}
	return res, dec.Err()
}

func ldDecoder(_ context.Context, _ *Shape, r io.ReadCloser) (Result, error) {
	dec := ldes.NewDecoder(r)
	var res Result
	for {
		ev, err := dec.Decode()
		if err == io.EOF {
			return res, nil
		}
		if err != nil {
			return res, err
		}
		res.Events++
		res.DataLen += int64(len(ev.Data()))
	}
}

// memTransport answers one request with the stream.
type memTransport struct{ body io.ReadCloser }

func (t *memTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.body == nil {
		return nil, errors.New("bench: stream already read")
	}
	body := t.body
	t.body = nil
	return &http.Response{
		Status: "200 OK", StatusCode: 200, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"text/event-stream"}},
		Body:          body,
		ContentLength: -1,
		Request:       req,
	}, nil
}

const memURL = "http://bench.invalid/events"

func tmaxClient(ctx context.Context, sh *Shape, r io.ReadCloser) (Result, error) {
	return tmaxClientHTTP(ctx, &http.Client{Transport: &memTransport{body: r}}, memURL)
}

func tmaxClientHTTP(ctx context.Context, hc *http.Client, url string) (Result, error) {
	c := &tmax.Client{HTTPClient: hc, Backoff: tmax.Backoff{MaxRetries: -1}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return Result{}, err
	}
	conn := c.NewConnection(req)
	conn.Buffer(nil, maxEvent)
	var res Result
	conn.SubscribeToAll(func(ev tmax.Event) {
		res.Events++
		res.DataLen += int64(len(ev.Data))
	})
	err = conn.Connect()
	var ce *tmax.ConnectionError
	if errors.As(err, &ce) && (ce.Err == nil || errors.Is(ce.Err, io.EOF)) {
		err = nil // the server ended the stream and no retry was allowed
	}
	return res, err
}

func r3Client(ctx context.Context, sh *Shape, r io.ReadCloser) (Result, error) {
	return r3ClientHTTP(ctx, &http.Client{Transport: &memTransport{body: r}}, memURL)
}

func r3ClientHTTP(ctx context.Context, hc *http.Client, url string) (Result, error) {
	c := r3.NewClient(url, r3.ClientMaxBufferSize(maxEvent))
	c.Connection = hc
	c.ReconnectStrategy = &backoffv1.StopBackOff{}
	var res Result
	err := c.SubscribeRawWithContext(ctx, func(ev *r3.Event) {
		if len(ev.Data) == 0 && len(ev.Event) == 0 {
			return // a heartbeat block: r3labs hands it out with the last ID as an "event"
		}
		res.Events++
		res.DataLen += int64(len(ev.Data))
	})
	return res, err
}

func ldClient(ctx context.Context, sh *Shape, r io.ReadCloser) (Result, error) {
	return ldClientHTTP(ctx, &http.Client{Transport: &memTransport{body: r}}, memURL)
}

func ldClientHTTP(ctx context.Context, hc *http.Client, url string) (Result, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return Result{}, err
	}
	var streamErr error
	s, err := ldes.SubscribeWithRequestAndOptions(req,
		ldes.StreamOptionHTTPClient(hc),
		ldes.StreamOptionErrorHandler(func(err error) ldes.StreamErrorHandlerResult {
			if err != io.EOF {
				streamErr = err
			}
			return ldes.StreamErrorHandlerResult{CloseNow: true}
		}))
	if err != nil {
		return Result{}, err
	}
	var res Result
	for ev := range s.Events { // closed once the error handler has run
		res.Events++
		res.DataLen += int64(len(ev.Data()))
	}
	return res, streamErr
}

func restyClient(ctx context.Context, sh *Shape, r io.ReadCloser) (Result, error) {
	return restyClientHTTP(ctx, sh, &memTransport{body: r}, memURL)
}

func restyClientHTTP(ctx context.Context, sh *Shape, rt http.RoundTripper, url string) (Result, error) {
	s := resty.NewSSESource().SetURL(url).SetTransport(rt).SetContext(ctx).
		SetSizeMaxBuffer(maxEvent).SetRetryCount(0)
	var res Result
	for _, typ := range sh.Types {
		s.AddEventListener(typ, func(e any) {
			res.Events++
			res.DataLen += int64(len(e.(*resty.SSE).Data))
		}, nil)
	}
	err := s.Get()
	if errors.Is(err, io.EOF) {
		err = nil // Get reports the end of the stream as io.EOF
	}
	return res, err
}

func floorIndexByte(_ context.Context, sh *Shape, _ io.ReadCloser) (Result, error) {
	b := sh.Data
	lines := 0
	for {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			break
		}
		lines++
		b = b[i+1:]
	}
	return Result{Events: lines, DataLen: int64(len(sh.Data))}, nil
}

func floorReadSlice(_ context.Context, _ *Shape, r io.ReadCloser) (Result, error) {
	br := bufio.NewReader(r)
	var res Result
	for {
		line, err := br.ReadSlice('\n')
		res.DataLen += int64(len(line))
		switch err {
		case nil:
			res.Events++
		case bufio.ErrBufferFull:
		case io.EOF:
			return res, nil
		default:
			return res, err
		}
	}
}

func floorCopy(_ context.Context, _ *Shape, r io.ReadCloser) (Result, error) {
	n, err := io.Copy(io.Discard, r)
	return Result{DataLen: n}, err
}

// floorCopyValid does the least any client must do with an event it hands
// out: copy the bytes once into memory of their own and check that they are
// UTF-8. The buffer is new on every run, as an event the caller keeps is,
// and sized for the whole stream up front, which no client can know, so
// that it is copied once and never grown.
func floorCopyValid(_ context.Context, sh *Shape, r io.ReadCloser) (Result, error) {
	buf := bytes.NewBuffer(make([]byte, 0, len(sh.Data)+bytes.MinRead))
	n, err := io.Copy(buf, r)
	if err != nil {
		return Result{}, err
	}
	if !utf8.Valid(buf.Bytes()) {
		return Result{}, errors.New("bench: the stream is not UTF-8")
	}
	return Result{DataLen: n}, nil
}
