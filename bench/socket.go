package bench

import (
	"fmt"
	"net/http"
	"time"
)

// SocketShapes names the shapes read from a server in another process
// (cmd/sseserve), where the client's CPU time is measured alone.
var SocketShapes = []string{"small-lf", "large", "line128k-1460"}

// Protocols names the protocols the socket benchmark speaks: HTTP/1.1, and
// HTTP/2 without TLS (h2c, with prior knowledge), so that no encryption cost
// hides the client's.
var Protocols = []string{"h1", "h2c"}

// SocketClient returns a client that speaks only proto to the server; its
// transport keeps connections between requests, as a long-lived client's
// would.
func SocketClient(proto string) (*http.Client, error) {
	p := new(http.Protocols)
	switch proto {
	case "h1":
		p.SetHTTP1(true)
	case "h2c":
		p.SetUnencryptedHTTP2(true)
	default:
		return nil, fmt.Errorf("bench: unknown protocol %q", proto)
	}
	return &http.Client{Transport: &http.Transport{Protocols: p, DisableCompression: true}}, nil
}

// SocketAdapters returns every implementation timed over a real socket:
// those of HTTPAdapters, and the library's zero-copy Decoder on the body.
func SocketAdapters() []*HTTPAdapter {
	as := []*HTTPAdapter{{"ours-decoder", Ours, overHTTP(oursDecoder)}}
	return append(as, HTTPAdapters()...)
}

// SocketServer returns the server of cmd/sseserve: every shape at /NAME,
// over HTTP/1.1 and h2c on the same listener.
func SocketServer() *http.Server {
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	return &http.Server{Handler: Handler(Shapes()), Protocols: p, ReadHeaderTimeout: 10 * time.Second}
}
