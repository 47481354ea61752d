//go:build linux

package main

import (
	"bufio"
	"bytes"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/ssekit/sse/ssetest"
)

// As in `ssecat URL | head -1`: the reader of the output goes away while
// the stream is silent, and ssecat exits by SIGPIPE, as cat does, without
// waiting for an event to write.
func TestReaderGoneWhileQuiet(t *testing.T) {
	srv := ssetest.NewServer(ssetest.Sequence(
		ssetest.Response{Steps: []ssetest.Step{ssetest.Write("id: 1\ndata: a\n\n"), ssetest.Stall()}},
	))
	defer srv.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	cmd := command(t, "--json", srv.URL)
	cmd.Stdout = pw
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close() // the program holds the only writer now
	if _, err := bufio.NewReader(pr).ReadString('\n'); err != nil {
		t.Fatalf("reading the first event: %v", err)
	}
	pr.Close() // head has its line; the server stays silent
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second): // a liveness bound, not a speed claim
		cmd.Process.Kill()
		<-done
		t.Fatal("ssecat still runs 10s after its reader went away")
	}
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGPIPE || stderr.Len() != 0 {
		t.Errorf("ssecat ended with %v, stderr %q; want killed by SIGPIPE, nothing on stderr", cmd.ProcessState, stderr.String())
	}
}
