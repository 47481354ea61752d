package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// quietLog is a logger for tests: the service's logs are not under test.
func quietLog() logrus.FieldLogger {
	l := logrus.New()
	l.Out = io.Discard
	return l
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		port      string
		wantAddr  string
		wantLevel logrus.Level
		wantErr   bool
	}{
		{name: "defaults", wantAddr: ":8000", wantLevel: logrus.InfoLevel},
		{name: "PORT", port: "9001", wantAddr: ":9001", wantLevel: logrus.InfoLevel},
		{name: "flag wins over PORT", args: []string{"-addr", "127.0.0.1:7000"}, port: "9001",
			wantAddr: "127.0.0.1:7000", wantLevel: logrus.InfoLevel},
		{name: "log level", args: []string{"-log-level", "debug"}, wantAddr: ":8000", wantLevel: logrus.DebugLevel},
		{name: "bad log level", args: []string{"-log-level", "loud"}, wantErr: true},
		{name: "stray argument", args: []string{"extra"}, wantErr: true},
		{name: "unknown flag", args: []string{"-nope"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string {
				if k == "PORT" {
					return tt.port
				}
				return ""
			}
			cfg, err := parseFlags(tt.args, getenv, io.Discard)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("parseFlags(%q): got %+v; want an error", tt.args, cfg)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseFlags(%q): %v", tt.args, err)
			}
			if cfg.addr != tt.wantAddr || cfg.level != tt.wantLevel {
				t.Errorf("parseFlags(%q) with PORT=%q: got addr %q level %v; want %q %v",
					tt.args, tt.port, cfg.addr, cfg.level, tt.wantAddr, tt.wantLevel)
			}
		})
	}
}

// TestServeStopsOnDeleteRoot runs the whole program loop: status, then an
// instance, then DELETE /, which must be answered before serve returns.
func TestServeStopsOnDeleteRoot(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- serve(context.Background(), ln, quietLog()) }()
	base := "http://" + ln.Addr().String()
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()

	resp, err := client.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	var status struct{ Capabilities []string }
	err = json.NewDecoder(resp.Body).Decode(&status)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /: status %d, decode error %v", resp.StatusCode, err)
	}
	if !slices.Contains(status.Capabilities, "restart") {
		t.Errorf("GET /: capabilities %q lack restart", status.Capabilities)
	}

	// An instance whose stream never answers must not hold up the exit.
	stuck, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stuck.Close()
	loc := mustCreate(t, client, base, map[string]any{
		"streamUrl": "http://" + stuck.Addr().String(), "callbackUrl": "http://127.0.0.1:1/cb",
	})
	if loc == "" {
		t.Fatal("POST /: no Location")
	}

	req, _ := http.NewRequest(http.MethodDelete, base+"/", nil)
	resp, err = client.Do(req)
	if err != nil {
		t.Fatalf("DELETE /: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Errorf("DELETE /: got status %d; want 2xx", resp.StatusCode)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("serve: got %v; want nil after DELETE /", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not return after DELETE /")
	}
}

// TestServeStopsOnContext checks the signal path: a done context stops serve.
func TestServeStopsOnContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- serve(ctx, ln, quietLog()) }()
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("serve: got %v; want nil after cancel", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not return after its context was cancelled")
	}
}

// mustCreate posts params to base and returns the Location of the new
// instance; it fails the test unless the reply is 201.
func mustCreate(t *testing.T, client *http.Client, base string, params map[string]any) string {
	t.Helper()
	status, loc := create(t, client, base, params)
	if status != http.StatusCreated {
		t.Fatalf("POST / %v: got status %d; want 201", params, status)
	}
	return loc
}

func create(t *testing.T, client *http.Client, base string, params map[string]any) (int, string) {
	t.Helper()
	body, err := json.Marshal(params)
	if err != nil {
		t.Fatal(err)
	}
	return createRaw(t, client, base, string(body))
}
