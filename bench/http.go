package bench

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/ssekit/sse"
)

// HTTPShapes names the shapes served over loopback HTTP: how a stream is
// split into reads is then up to the network.
var HTTPShapes = []string{"small-lf", "comments", "large", "line128k-1460"}

// Server serves every shape at /NAME as text/event-stream on loopback.
func Server(shapes []*Shape) *httptest.Server { return httptest.NewServer(Handler(shapes)) }

// Handler answers a GET of /NAME with the shape's stream, written whole in
// one Write, so that it goes out as fast as the connection takes it.
func Handler(shapes []*Shape) http.Handler {
	byName := make(map[string]*Shape, len(shapes))
	for _, sh := range shapes {
		byName[sh.Name] = sh
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sh, ok := byName[strings.TrimPrefix(r.URL.Path, "/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(sh.Data)
	})
}

// An HTTPAdapter reads one whole stream from url with hc.
type HTTPAdapter struct {
	Name  string
	Level Level
	Read  func(ctx context.Context, sh *Shape, hc *http.Client, url string) (Result, error)
}

// HTTPAdapters returns every implementation that reads over HTTP.
func HTTPAdapters() []*HTTPAdapter {
	return []*HTTPAdapter{
		{"ours-stream", Ours, oursStreamHTTP},
		{"ours-dispatch", Ours, oursDispatchHTTP},
		{"openai-decoder", Parser, overHTTP(openaiDecoder)},
		{"tmaxmax-client", Client, func(ctx context.Context, _ *Shape, hc *http.Client, url string) (Result, error) {
			return tmaxClientHTTP(ctx, hc, url)
		}},
		{"r3labs-client", Client, func(ctx context.Context, _ *Shape, hc *http.Client, url string) (Result, error) {
			return r3ClientHTTP(ctx, hc, url)
		}},
		{"launchdarkly-client", Client, func(ctx context.Context, _ *Shape, hc *http.Client, url string) (Result, error) {
			return ldClientHTTP(ctx, hc, url)
		}},
		{"resty-client", Client, func(ctx context.Context, sh *Shape, hc *http.Client, url string) (Result, error) {
			return restyClientHTTP(ctx, sh, hc.Transport, url)
		}},
		{"floor-copy", Floor, overHTTP(floorCopy)},
	}
}

func oursStreamHTTP(ctx context.Context, sh *Shape, hc *http.Client, url string) (Result, error) {
	s, err := sse.NewStream(url, sse.WithHTTPClient(hc), sse.WithErrorStrategy(sse.AlwaysFail()))
	if err != nil {
		return Result{}, err
	}
	return rangeStream(ctx, s)
}

func oursDispatchHTTP(ctx context.Context, sh *Shape, hc *http.Client, url string) (Result, error) {
	d, err := sse.New(url, sse.WithHTTPClient(hc), sse.WithErrorStrategy(sse.AlwaysFail()))
	if err != nil {
		return Result{}, err
	}
	return runDispatcher(ctx, d)
}

func get(ctx context.Context, hc *http.Client, url string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	return hc.Do(req)
}

// overHTTP runs an in-memory adapter on the body of a GET of the stream.
func overHTTP(read func(context.Context, *Shape, io.ReadCloser) (Result, error)) func(context.Context, *Shape, *http.Client, string) (Result, error) {
	return func(ctx context.Context, sh *Shape, hc *http.Client, url string) (Result, error) {
		resp, err := get(ctx, hc, url)
		if err != nil {
			return Result{}, err
		}
		defer resp.Body.Close()
		return read(ctx, sh, resp.Body)
	}
}
