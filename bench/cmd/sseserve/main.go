// Command sseserve serves the bench module's shapes on loopback, over
// HTTP/1.1 and unencrypted HTTP/2 (h2c) on one port, from a process of its
// own: a benchmark that measures the client's CPU time then leaves the
// server's out. Each GET of /NAME gets the shape's stream, pre-built and
// written in one Write, as fast as the socket takes it.
//
// It prints its address on one line and serves until its standard input
// closes (the benchmark that started it ended) or -timeout passes.
//
//	go run ./cmd/sseserve [-addr 127.0.0.1:0] [-timeout 1h]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/ssekit/sse/bench"
)

var (
	addr    = flag.String("addr", "127.0.0.1:0", "address to listen on")
	timeout = flag.Duration("timeout", time.Hour, "stop after this long, whatever happens")
)

func main() {
	flag.Parse()
	if err := serve(); err != nil {
		fmt.Fprintln(os.Stderr, "sseserve:", err)
		os.Exit(1)
	}
}

func serve() error {
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	srv := bench.SocketServer() // builds the streams before the address is printed
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	fmt.Println(ln.Addr())
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}
