package main

import (
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestTerminalInTmux runs the built program in a real terminal, a tmux
// pane, and checks that it notices the terminal by itself: the human layout,
// in colour. It is skipped when tmux is missing.
func TestTerminalInTmux(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a tmux server; skipped with -short")
	}
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		t.Skip("tmux is not installed")
	}
	bin := binary(t)
	srv := endlessServer(t, "event: greeting\nid: 1\ndata: hello\n\ndata: two\ndata: lines\n\n")

	// A private tmux server, started with our environment minus NO_COLOR.
	socket := "ssecat-test-" + strconv.Itoa(os.Getpid())
	tm := func(args ...string) *exec.Cmd {
		cmd := exec.Command(tmux, append([]string{"-L", socket, "-f", "/dev/null"}, args...)...)
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "NO_COLOR=") && !strings.HasPrefix(kv, "TMUX=") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		return cmd
	}
	// The pane waits on read after the program, so that its screen stays.
	script := bin + " --count 2 " + srv.URL + "; echo EXIT=$?; read x"
	if out, err := tm("new-session", "-d", "-x", "100", "-y", "20", script).CombinedOutput(); err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	t.Cleanup(func() { tm("kill-server").Run() })

	var screen string
	for deadline := time.Now().Add(20 * time.Second); ; {
		out, err := tm("capture-pane", "-p", "-e").Output()
		if err != nil {
			t.Fatalf("tmux capture-pane: %v", err)
		}
		screen = string(out)
		if strings.Contains(screen, "EXIT=") || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond) // polling the pane for liveness only
	}
	plain := regexp.MustCompile(`\x1b\[[0-9;]*m`).ReplaceAllString(screen, "")
	want := "greeting #1 hello\nmessage\n  two\n  lines\nEXIT=0\n"
	if !strings.HasPrefix(plain, want) {
		t.Errorf("screen:\n%s\nwant it to start with:\n%s", plain, want)
	}
	// tmux redraws the styles its own way; cyan (36) and yellow (33) remain.
	for _, re := range []string{`36m(\x1b\[[0-9;]*m)*greeting`, `33m#1`} {
		if !regexp.MustCompile(re).MatchString(screen) {
			t.Errorf("screen %q: no match for %s", screen, re)
		}
	}
}
