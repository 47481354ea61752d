//go:build linux

package main

import (
	"bytes"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ssekit/sse/ssetest"
)

// Runs killed by SIGKILL at random moments, and restarted with the same
// state file, print every event, in order, repeating at most the last one
// each killed run printed. Their output is a pipe read slowly, so that
// runs spend much of their time writing, and many kills land there.
func TestStateSurvivesKill(t *testing.T) {
	const (
		kills   = 40
		maxRun  = 150 * time.Millisecond // a killed run lives up to this long
		perConn = 5000                   // events per connection while paced
		tail    = 20                     // events the last run gets before the end
	)
	const seed = 1 // of the moments of the kills; the scheduler adds its own chance
	rng := rand.New(rand.NewPCG(seed, 0))
	// The server numbers events from 1 and replays after Last-Event-ID: at
	// a pace, without end, until final is set; then it sends the tail at
	// once, ends the stream, and answers 204 to the reconnection.
	var (
		final atomic.Bool
		end   atomic.Int64
	)
	event := func(id int) ssetest.Step {
		return ssetest.Write(ssetest.Encode(ssetest.Event{ID: strconv.Itoa(id), Data: strconv.Itoa(id)}))
	}
	srv := ssetest.NewServer(ssetest.Responder(func(r *http.Request) ssetest.Response {
		last, _ := strconv.Atoi(r.Header.Get("Last-Event-ID"))
		var steps []ssetest.Step
		if !final.Load() {
			for id := last + 1; id <= last+perConn; id++ {
				steps = append(steps, event(id), ssetest.Sleep(200*time.Microsecond))
			}
			return ssetest.Response{Steps: steps}
		}
		end.CompareAndSwap(0, int64(last+tail))
		if last >= int(end.Load()) {
			return ssetest.Response{Status: http.StatusNoContent}
		}
		for id := last + 1; id <= int(end.Load()); id++ {
			steps = append(steps, event(id))
		}
		return ssetest.Response{Steps: steps}
	}))
	defer srv.Close()
	state := filepath.Join(t.TempDir(), "state")
	args := []string{"--json", "--initial-delay", "1ms", "--state", state, srv.URL}

	var runs [][]int
	for i := 0; i <= kills; i++ {
		stdout := newSlowPipe(t)
		var stderr bytes.Buffer
		cmd := command(t, args...)
		cmd.Stdout, cmd.Stderr = stdout.w, &stderr
		if i == kills {
			final.Store(true)
			stdout.drain()
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		stdout.w.Close() // the program holds the only writer now
		if i == kills {
			if err := cmd.Wait(); err != nil {
				t.Fatalf("last run: %v (stderr %q)", err, stderr.String())
			}
		} else {
			time.Sleep(time.Duration(rng.Int64N(int64(maxRun)))) // the moment of the kill
			cmd.Process.Kill()
			cmd.Wait()
			stdout.drain()
		}
		runs = append(runs, eventIDs(t, i, stdout.output()))
	}

	// Each run goes on from the last event printed before it, or repeats
	// that event, once, if it was printed by the run just killed.
	last, repeats := 0, 0
	for i, ids := range runs {
		for j, id := range ids {
			switch {
			case id == last+1:
			case j == 0 && id == last:
				repeats++
			default:
				t.Fatalf("run %d, event %d: id %d after %d; runs: %s", i, j, id, last, summarizeRuns(runs))
			}
			last = id
		}
	}
	if want := int(end.Load()); last != want || want == 0 {
		t.Errorf("the last event printed is %d; want %d", last, want)
	}
	t.Logf("%d kills, %d events repeated, %d events; runs: %s", kills, repeats, last, summarizeRuns(runs))
}

// slowPipe is an output for the program: a pipe with a one-page buffer,
// read slowly until drain is called.
type slowPipe struct {
	w    *os.File
	fast atomic.Bool
	done chan struct{}
	mu   sync.Mutex
	out  bytes.Buffer
}

func newSlowPipe(t *testing.T) *slowPipe {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := unix.FcntlInt(w.Fd(), unix.F_SETPIPE_SZ, os.Getpagesize()); err != nil {
		t.Fatalf("F_SETPIPE_SZ: %v", err)
	}
	p := &slowPipe{w: w, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		defer r.Close()
		buf := make([]byte, 64)
		for {
			if !p.fast.Load() {
				time.Sleep(2 * time.Millisecond) // about one JSON line in 3ms
			}
			n, err := r.Read(buf)
			p.mu.Lock()
			p.out.Write(buf[:n])
			p.mu.Unlock()
			if err != nil {
				return // io.EOF: the writers are gone
			}
		}
	}()
	t.Cleanup(func() {
		p.w.Close()
		p.drain()
		<-p.done
	})
	return p
}

// drain makes the pipe read at full speed from now on.
func (p *slowPipe) drain() { p.fast.Store(true) }

// output waits for the writers' end and returns all that was written.
func (p *slowPipe) output() string {
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}
