// Command idle measures what idle streams cost: it opens many streams (10,000
// by default) against a local server that sends one event and then stays
// silent, and reports the client's heap and goroutines per stream, for plain
// net/http and for the library's two levels. The server and each
// measurement run in processes of their own, so that no figure includes the
// other side, and everything stops by itself after -timeout.
//
//	go run ./cmd/idle [-n 10000] [-memprofile dir]
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/ssekit/sse"
)

var (
	n          = flag.Int("n", 10000, "streams to open")
	mode       = flag.String("mode", "", "internal: serve, http, stream or dispatch")
	addr       = flag.String("addr", "", "internal: the server address for a measuring process")
	timeout    = flag.Duration("timeout", 3*time.Minute, "stop after this long, whatever happens")
	memprofile = flag.String("memprofile", "", "write each mode's heap profile (with the streams open) to this directory")
	parallel   = flag.Int("parallel", 64, "connections opened at once")
)

// modes are measured in this order; the server listens on one loopback
// address per mode, so that the ports one mode leaves in TIME_WAIT do not
// hold up the next.
var modes = []string{"http", "stream", "dispatch"}

// result is what one measuring process reports, as one JSON line.
type result struct {
	Mode       string
	Streams    int
	Failed     int
	HeapBytes  int64 // live heap after the streams opened, less before
	Goroutines int
	Elapsed    time.Duration
	FirstErr   string
}

func main() {
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	var err error
	switch *mode {
	case "":
		err = parent(ctx)
	case "serve":
		err = serve(ctx)
	default:
		err = measure(ctx)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "idle:", err)
		os.Exit(1)
	}
}

// fdLimit returns the soft limit on open files, which the Go runtime has
// already raised to the hard limit.
func fdLimit() int {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 1024
	}
	return int(l.Cur)
}

func parent(ctx context.Context) error {
	if limit := fdLimit(); *n+200 > limit {
		fmt.Printf("open-file limit is %d: measuring %d streams instead of %d\n", limit, limit-200, *n)
		*n = limit - 200
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	srv := exec.CommandContext(ctx, self, "-mode=serve", fmt.Sprint("-timeout=", *timeout))
	srv.Stderr = os.Stderr
	stdin, err := srv.StdinPipe() // the server stops when this closes
	if err != nil {
		return err
	}
	out, err := srv.StdoutPipe()
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	defer func() {
		stdin.Close()
		srv.Wait()
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		return fmt.Errorf("server did not start: %w", err)
	}
	addrs := strings.Fields(line)
	if len(addrs) != len(modes) {
		return fmt.Errorf("server gave %q; want %d addresses", line, len(modes))
	}

	results := map[string]result{}
	for i, m := range modes {
		args := []string{"-mode=" + m, "-addr=" + addrs[i], fmt.Sprint("-n=", *n),
			fmt.Sprint("-timeout=", *timeout), fmt.Sprint("-parallel=", *parallel)}
		if *memprofile != "" {
			args = append(args, "-memprofile="+*memprofile)
		}
		cmd := exec.CommandContext(ctx, self, args...)
		cmd.Stderr = os.Stderr
		b, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("mode %s: %w", m, err)
		}
		var r result
		if err := json.Unmarshal(bytes.TrimSpace(b), &r); err != nil {
			return fmt.Errorf("mode %s printed %q: %w", m, b, err)
		}
		results[m] = r
	}
	report(os.Stdout, results)
	return nil
}

func report(w io.Writer, results map[string]result) {
	base := results["http"]
	per := func(r result) (float64, float64) {
		if r.Streams == 0 {
			return 0, 0
		}
		return float64(r.HeapBytes) / float64(r.Streams), float64(r.Goroutines) / float64(r.Streams)
	}
	bh, bg := per(base)
	fmt.Fprintf(w, "%d idle streams per mode, GOMAXPROCS %d, %s\n", base.Streams+base.Failed, runtime.GOMAXPROCS(0), runtime.Version())
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "mode\topen\tfailed\theap/stream\tgoroutines/stream\tlibrary heap/stream\tlibrary goroutines/stream\topen time\t")
	for _, m := range modes {
		r := results[m]
		h, g := per(r)
		lib, libG := "-", "-"
		if m != "http" {
			lib, libG = fmt.Sprintf("%.0f B", h-bh), fmt.Sprintf("%.2f", g-bg)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f B\t%.2f\t%s\t%s\t%s\t\n", m, r.Streams, r.Failed, h, g, lib, libG, r.Elapsed.Round(time.Millisecond))
	}
	tw.Flush()
	fmt.Fprintln(w, "http: net/http alone, body open after the first event; stream: sse.NewStream, ranged until the first")
	fmt.Fprintln(w, "event and left (no goroutine of the caller's); dispatch: sse.New + OnEvent + Start. library = mode - http.")
	for _, m := range modes {
		if r := results[m]; r.FirstErr != "" {
			fmt.Fprintf(w, "%s: first failure: %s\n", m, r.FirstErr)
		}
	}
}

// serve listens on one loopback address per mode and answers every request
// with one event, then holds the stream open until the client leaves or
// stdin closes.
func serve(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "id: 1\nevent: hello\ndata: {\"idle\":true}\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-ctx.Done():
		}
	})
	var addrs []string
	var servers []*http.Server
	for i := range modes {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.%d:0", i+1))
		if err != nil {
			return err
		}
		s := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		servers = append(servers, s)
		addrs = append(addrs, ln.Addr().String())
		go s.Serve(ln)
	}
	fmt.Println(strings.Join(addrs, " "))
	<-ctx.Done()
	for _, s := range servers {
		s.Close()
	}
	return nil
}

// measure opens the streams of one mode and prints its result.
func measure(ctx context.Context) error {
	url := "http://" + *addr + "/events"
	tr := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: -1, DisableCompression: true}
	hc := &http.Client{Transport: tr}
	runtime.GC()
	runtime.GC()
	var m0 runtime.MemStats
	runtime.ReadMemStats(&m0)
	g0 := runtime.NumGoroutine()

	var (
		mu     sync.Mutex
		closer []func()
		failed int
		first  error
	)
	start := time.Now()
	sem := make(chan struct{}, *parallel)
	var wg sync.WaitGroup
	for range *n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			c, err := open(ctx, hc, url)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed++
				if first == nil {
					first = err
				}
				return
			}
			closer = append(closer, c)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	runtime.GC()
	runtime.GC()
	var m1 runtime.MemStats
	runtime.ReadMemStats(&m1)
	r := result{Mode: *mode, Streams: len(closer), Failed: failed, Elapsed: elapsed,
		HeapBytes:  int64(m1.HeapAlloc) - int64(m0.HeapAlloc),
		Goroutines: runtime.NumGoroutine() - g0}
	if first != nil {
		r.FirstErr = first.Error()
	}
	if *memprofile != "" {
		if err := writeProfile(filepath.Join(*memprofile, *mode+".heap")); err != nil {
			return err
		}
	}
	for _, c := range closer {
		c()
	}
	tr.CloseIdleConnections()
	return json.NewEncoder(os.Stdout).Encode(r)
}

func writeProfile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return pprof.WriteHeapProfile(f)
}

// open opens one stream in the current mode, waits for its first event, and
// returns what closes it.
func open(ctx context.Context, hc *http.Client, url string) (func(), error) {
	// What open returns outlives it, so it hangs off WithoutCancel(ctx);
	// the timeout bounds the waits that need not (a Dispatcher's first
	// event).
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	switch *mode {
	case "http":
		req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodGet, url, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "text/event-stream")
		resp, err := hc.Do(req)
		if err != nil {
			return nil, err
		}
		var buf [128]byte
		got := 0
		for !bytes.Contains(buf[:got], []byte("\n\n")) {
			k, err := resp.Body.Read(buf[got:])
			got += k
			if err != nil || got == len(buf) {
				resp.Body.Close()
				return nil, fmt.Errorf("first event: %v", err)
			}
		}
		return func() { resp.Body.Close() }, nil
	case "stream":
		s, err := sse.NewStream(url, sse.WithHTTPClient(hc))
		if err != nil {
			return nil, err
		}
		// The stream keeps its connection between ranges, as long as the
		// context of the iteration lives: so it must outlive open.
		keep, stop := context.WithCancel(context.WithoutCancel(ctx))
		for _, err := range s.Events(keep) {
			if err != nil {
				stop()
				s.Close()
				return nil, err
			}
			break
		}
		return func() { s.Close(); stop() }, nil
	case "dispatch":
		d, err := sse.New(url, sse.WithHTTPClient(hc))
		if err != nil {
			return nil, err
		}
		got := make(chan struct{})
		var once sync.Once
		d.OnEvent(func(context.Context, sse.Event) { once.Do(func() { close(got) }) })
		if err := d.Start(context.WithoutCancel(ctx)); err != nil {
			d.Close()
			return nil, err
		}
		select {
		case <-got:
			return func() { d.Close() }, nil
		case <-ctx.Done():
			d.Close()
			return nil, errors.New("no first event in time")
		}
	}
	return nil, fmt.Errorf("unknown mode %q", *mode)
}
