package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ssekit/sse/ssetest"
)

// numbered returns n events with IDs and data 1 to n.
func numbered(n int) []ssetest.Event {
	events := make([]ssetest.Event, n)
	for i := range events {
		events[i] = ssetest.Event{ID: strconv.Itoa(i + 1), Data: strconv.Itoa(i + 1)}
	}
	return events
}

// replayServer serves the events after the client's Last-Event-ID and
// ends the stream; once none is left it answers 204.
func replayServer(events []ssetest.Event) *ssetest.Server {
	return ssetest.NewServer(ssetest.Responder(func(r *http.Request) ssetest.Response {
		rest := ssetest.After(events, r.Header.Get("Last-Event-ID"))
		if len(rest) == 0 {
			return ssetest.Response{Status: http.StatusNoContent}
		}
		return ssetest.Response{Steps: []ssetest.Step{ssetest.Write(ssetest.Encode(rest...))}}
	}))
}

func TestStateResumes(t *testing.T) {
	srv := replayServer(numbered(3))
	defer srv.Close()
	state := filepath.Join(t.TempDir(), "state")
	args := []string{"--json", "--max-retries", "0", "--state", state, srv.URL}

	r := runCommand(t, command(t, args...))
	if got, err := os.ReadFile(state); r.code != 0 || err != nil || string(got) != "3\n" {
		t.Fatalf("first run: exit %d (stderr %q); state file %q, %v; want exit 0 and \"3\\n\"", r.code, r.stderr, got, err)
	}
	r = runCommand(t, command(t, args...))
	if want := "ssecat: server asked the client to stop (204 No Content)\n"; r.code != 0 || r.stdout != "" || r.stderr != want {
		t.Errorf("second run: exit %d, stdout %q, stderr %q; want exit 0, no event, stderr %q", r.code, r.stdout, r.stderr, want)
	}
	reqs := srv.Requests()
	if got := reqs[len(reqs)-1].Header.Get("Last-Event-ID"); len(reqs) != 2 || got != "3" {
		t.Errorf("%d requests, the last with Last-Event-ID %q; want 2, the second with 3", len(reqs), got)
	}
	if _, err := os.Stat(state + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("the temporary file remains: %v", err)
	}
}

func TestStateErrors(t *testing.T) {
	dir := t.TempDir()
	bad := writeFile(t, dir, "bad", []byte("a\nb\n"))
	tests := []struct {
		name   string
		args   []string
		stderr string
	}{
		{"not an ID", []string{"--state", bad}, "ssecat: --state " + bad + ": not an event ID (it holds a line break or NUL)\n"},
		{"a directory", []string{"--state", dir}, "ssecat: --state: read " + dir + ": is a directory\n"},
		{"with --last-event-id", []string{"--state", bad, "--last-event-id", "1"},
			"ssecat: --state and --last-event-id exclude each other\nusage: ssecat [flags] URL (ssecat -h for help)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCmd(t, "", append(tt.args, "http://127.0.0.1:1/")...)
			if r.code != 2 || r.stderr != tt.stderr {
				t.Errorf("exit %d, stderr %q; want exit 2 and %q", r.code, r.stderr, tt.stderr)
			}
		})
	}
	t.Run("cannot save", func(t *testing.T) {
		srv := replayServer(numbered(1))
		defer srv.Close()
		state := filepath.Join(dir, "missing", "state")
		r := runCmd(t, "", "--max-retries", "0", "--state", state, srv.URL)
		want := "ssecat: saving --state: open " + state + ".tmp: no such file or directory\n"
		if r.code != 1 || r.stderr != want || strings.Count(r.stdout, "\n") != 1 {
			t.Errorf("exit %d, stdout %q, stderr %q; want exit 1, the event, and %q", r.code, r.stdout, r.stderr, want)
		}
	})
}

// eventIDs returns the IDs of the JSON lines run printed. A last line
// without its line feed, cut by the kill, counts as not printed.
func eventIDs(t *testing.T, run int, out string) []int {
	t.Helper()
	var ids []int
	for line := range strings.Lines(out) {
		if !strings.HasSuffix(line, "\n") {
			break
		}
		var ev eventLine
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("run %d: line %q: %v", run, line, err)
		}
		id, err := strconv.Atoi(ev.ID)
		if err != nil || ev.Data != ev.ID {
			t.Fatalf("run %d: line %q is not a numbered event", run, line)
		}
		ids = append(ids, id)
	}
	return ids
}

// summarizeRuns shows the first and last ID of each run.
func summarizeRuns(runs [][]int) string {
	var b strings.Builder
	for _, ids := range runs {
		if len(ids) == 0 {
			b.WriteString("[] ")
			continue
		}
		fmt.Fprintf(&b, "[%d-%d] ", ids[0], ids[len(ids)-1])
	}
	return b.String()
}
