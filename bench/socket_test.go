package bench

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// startServer builds cmd/sseserve, starts it in a process of its own and
// returns its base URL. The server stops when tb's cleanup closes its
// standard input.
func startServer(tb testing.TB) string {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), "sseserve")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/sseserve").CombinedOutput(); err != nil {
		tb.Fatalf("building cmd/sseserve: %v\n%s", err, out)
	}
	cmd := exec.Command(bin)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		stdin.Close()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		tb.Fatalf("cmd/sseserve printed no address: %v", err)
	}
	return "http://" + strings.TrimSpace(line)
}

func socketClient(tb testing.TB, proto string) *http.Client {
	hc, err := SocketClient(proto)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(hc.CloseIdleConnections)
	return hc
}

// TestSocket checks the plumbing of BenchmarkSocket: the server runs in
// another process, each client speaks the protocol it is named for, and
// every adapter finds exactly the events and bytes of every shape.
func TestSocket(t *testing.T) {
	base := startServer(t)
	for _, proto := range Protocols {
		hc := socketClient(t, proto)
		t.Run(proto+"/protocol", func(t *testing.T) {
			resp, err := get(context.Background(), hc, base+"/small-lf")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			n, err := io.Copy(io.Discard, resp.Body)
			if want := map[string]int{"h1": 1, "h2c": 2}[proto]; resp.ProtoMajor != want {
				t.Errorf("response is %s; want HTTP/%d", resp.Proto, want)
			}
			if sh := shape(t, "small-lf"); err != nil || n != int64(len(sh.Data)) {
				t.Errorf("read %d bytes, err %v; want %d", n, err, len(sh.Data))
			}
		})
		for _, name := range SocketShapes {
			sh := shape(t, name)
			for _, a := range SocketAdapters() {
				t.Run(proto+"/"+name+"/"+a.Name, func(t *testing.T) {
					got, err := a.Read(context.Background(), sh, hc, base+"/"+name)
					want := (&Adapter{Name: a.Name, Level: a.Level}).Want(sh)
					if err != nil || got != want {
						t.Fatalf("got %+v, err %v; want %+v", got, err, want)
					}
				})
			}
		}
	}
}

// BenchmarkSocket reads some shapes from cmd/sseserve, a server in another
// process, over HTTP/1.1 and h2c; cpu-ns/event is then the client's CPU
// time alone.
func BenchmarkSocket(b *testing.B) {
	base := startServer(b)
	for _, proto := range Protocols {
		hc := socketClient(b, proto)
		for _, name := range SocketShapes {
			sh := shape(b, name)
			for _, a := range SocketAdapters() {
				b.Run("proto="+proto+"/shape="+name+"/impl="+a.Name, func(b *testing.B) {
					ctx := context.Background()
					url := base + "/" + name
					want := (&Adapter{Name: a.Name, Level: a.Level}).Want(sh)
					measure(b, sh, want, func() (Result, error) { return a.Read(ctx, sh, hc, url) })
				})
			}
		}
	}
}
