package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// stateFile is the file of --state: it holds the last event ID, followed
// by a line feed, across runs. A nil *stateFile (no --state) does nothing.
type stateFile struct {
	path  string
	saved string // the ID the file holds
}

// loadState opens the state kept in path, which need not exist yet; ""
// means no --state and returns nil.
func loadState(path string) (*stateFile, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("--state: %v", err)
	}
	id, _ := strings.CutSuffix(string(b), "\n")
	// An SSE id never holds these: the parser splits lines there, and drops
	// an id with a NUL.
	if strings.ContainsAny(id, "\r\n\x00") {
		return nil, fmt.Errorf("--state %s: not an event ID (it holds a line break or NUL)", path)
	}
	return &stateFile{path: path, saved: id}, nil
}

// lastEventID returns the ID the file holds; "" for none.
func (s *stateFile) lastEventID() string {
	if s == nil {
		return ""
	}
	return s.saved
}

// save makes the file hold id, if it does not already. It writes a
// temporary file in the same directory, syncs it to disk and renames it
// over the file, so that a kill at any moment leaves the file holding the
// old ID or the new one. The temporary file has a fixed name: one a kill
// leaves behind is overwritten by the next save.
func (s *stateFile) save(id string) error {
	if s == nil || id == s.saved {
		return nil
	}
	tmp := s.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("saving --state: %v", err)
	}
	_, err = f.WriteString(id + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, s.path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("saving --state: %v", err)
	}
	s.saved = id
	return nil
}
