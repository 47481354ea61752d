package main

import (
	"os"
	"testing"
)

// Output to /dev/null, a character device but no terminal, gets the JSON
// layout, whose notices go to standard error: nothing vanishes with it.
func TestDevNullIsNoTerminal(t *testing.T) {
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	if isTerminal(devNull) {
		t.Errorf("isTerminal(%s) = true; want false", os.DevNull)
	}

	srv := serve(t, "id: 1\ndata: a\n\n")
	cmd := command(t, "--max-retries", "0", srv.URL)
	cmd.Stdout = devNull
	r := runCommand(t, cmd)
	if want := "ssecat: stream ended by the server\n"; r.code != 0 || r.stderr != want {
		t.Errorf("stdout to %s: exit %d, stderr %q; want exit 0 and stderr %q", os.DevNull, r.code, r.stderr, want)
	}
}
