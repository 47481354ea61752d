package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// The built program, shared by every test that runs it: built once, on
// first use, into a directory TestMain removes.
var (
	buildOnce sync.Once
	buildDir  string
	buildBin  string
	buildErr  error
)

// binary returns the path of the built program. Under the race detector
// it is built with -race too, so that its races fail the tests that run it.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		goCmd, err := exec.LookPath("go") // go test puts its own go first in PATH
		if err != nil {
			buildErr = err
			return
		}
		if buildDir, buildErr = os.MkdirTemp("", "ssecat-test-"); buildErr != nil {
			return
		}
		buildBin = filepath.Join(buildDir, "ssecat")
		args := []string{"build", "-o", buildBin}
		if raceEnabled {
			args = append(args, "-race")
		}
		if out, err := exec.Command(goCmd, append(args, ".")...).CombinedOutput(); err != nil {
			buildErr = &buildError{err: err, out: out}
		}
	})
	if buildErr != nil {
		t.Fatalf("building ssecat: %v", buildErr)
	}
	return buildBin
}

type buildError struct {
	err error
	out []byte
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + string(e.out) }

// removeBuild removes the built program, if any; TestMain calls it.
func removeBuild() {
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
}

// command returns a command that runs the built program with args, its
// environment free of NO_COLOR so that tests decide colours themselves.
func command(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "NO_COLOR=") && !strings.HasPrefix(kv, "GORACE=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	// A race-enabled program otherwise sleeps a second at exit.
	cmd.Env = append(cmd.Env, "GORACE=atexit_sleep_ms=0")
	return cmd
}

// runCommand runs cmd to its end, capturing what it printed unless its
// Stdout or Stderr is already set.
func runCommand(t *testing.T, cmd *exec.Cmd) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if cmd.Stdout == nil {
		cmd.Stdout = &stdout
	}
	if cmd.Stderr == nil {
		cmd.Stderr = &stderr
	}
	err := cmd.Run()
	code := cmd.ProcessState.ExitCode()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("running %q: %v", cmd.Args, err)
	}
	return result{code, stdout.String(), stderr.String()}
}
