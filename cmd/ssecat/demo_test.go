package main

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"
)

// setDemoPace sets the demo's pace for one test.
func setDemoPace(t *testing.T, pace demoTiming) {
	old := demoPace
	demoPace = pace
	t.Cleanup(func() { demoPace = old })
}

// instant is a demo pace with no waiting at all.
var instant = demoTiming{tick: 0, retry: time.Millisecond}

var demoURL = regexp.MustCompile(`http://127\.0\.0\.1:[0-9]+/feed`)

// normalize replaces what changes from run to run: the port and the
// jittered delays.
func normalize(s string) string {
	return delays.ReplaceAllString(demoURL.ReplaceAllString(s, "URL"), "reconnecting in D")
}

// summarize turns JSON output lines into short text, comments included,
// so that a whole feed compares at a glance.
func summarize(t *testing.T, out string) []string {
	t.Helper()
	var got []string
	for line := range strings.Lines(out) {
		var v map[string]any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if c, ok := v["comment"]; ok {
			got = append(got, ":"+c.(string))
			continue
		}
		got = append(got, v["type"].(string)+" #"+v["id"].(string)+" last="+v["last_event_id"].(string)+" "+v["data"].(string))
	}
	return got
}

func TestDemoJSON(t *testing.T) {
	setDemoPace(t, instant)
	r := runCmd(t, "", "-demo", "--json")
	if r.code != 0 {
		t.Fatalf("exit %d; want 0 (stderr %q)", r.code, r.stderr)
	}
	want := []string{
		`status #1 last=1 {"market":"open","session":"2026-11-23"}`,
		`price #2 last=2 {"symbol":"ACME","price":101.25}`,
		`: heartbeat`,
		`price #3 last=3 {"symbol":"GLOBEX","price":54.10}`,
		`trade #4 last=4 {"symbol":"ACME","qty":300,"price":101.30}`,
		`: resuming after id 4`,
		`price #5 last=5 {"symbol":"ACME","price":101.40}`,
		"notice #6 last=6 Trading in INITECH resumes at 14:05.\nOpen orders are kept.",
		`: heartbeat`,
		`trade #7 last=7 {"symbol":"INITECH","qty":1200,"price":12.05}`,
		`price #8 last=8 {"symbol":"GLOBEX","price":53.95}`,
		`: resuming after id 8`,
		`price #9 last=9 {"symbol":"INITECH","price":12.20}`,
		`message # last=9 ACME volume passed one million shares`,
		`: heartbeat`,
		`trade #10 last=10 {"symbol":"GLOBEX","qty":50,"price":54.00}`,
		`status #11 last=11 {"market":"closed"}`,
	}
	got := summarize(t, r.stdout)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("demo feed:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	wantErr := "ssecat: demo feed at URL\n" +
		"ssecat: connection lost (unexpected EOF); reconnecting in D, resuming after id 4\n" +
		"ssecat: connection lost (unexpected EOF); reconnecting in D, resuming after id 8\n" +
		"ssecat: stream ended by the server; reconnecting in D, resuming after id 11\n" +
		"ssecat: server asked the client to stop (204 No Content)\n"
	if got := normalize(r.stderr); got != wantErr {
		t.Errorf("stderr:\n%s\nwant:\n%s", got, wantErr)
	}
}

func TestDemoPretty(t *testing.T) {
	setDemoPace(t, instant)
	t.Setenv("NO_COLOR", "")
	t.Setenv("TERM", "xterm-256color")
	r := runCmd(t, "", "-demo", "--pretty")
	const (
		typ = "\x1b[1;36m"
		id  = "\x1b[33m"
		dim = "\x1b[2m"
		end = "\x1b[0m"
	)
	want := typ + "status" + end + " " + id + "#1" + end + ` {"market":"open","session":"2026-11-23"}` + "\n" +
		typ + "price" + end + " " + id + "#2" + end + ` {"symbol":"ACME","price":101.25}` + "\n" +
		dim + ": heartbeat" + end + "\n" +
		typ + "price" + end + " " + id + "#3" + end + ` {"symbol":"GLOBEX","price":54.10}` + "\n" +
		typ + "trade" + end + " " + id + "#4" + end + ` {"symbol":"ACME","qty":300,"price":101.30}` + "\n" +
		dim + ": resuming after id 4" + end + "\n" +
		typ + "price" + end + " " + id + "#5" + end + ` {"symbol":"ACME","price":101.40}` + "\n" +
		typ + "notice" + end + " " + id + "#6" + end + "\n" +
		"  Trading in INITECH resumes at 14:05.\n" +
		"  Open orders are kept.\n" +
		dim + ": heartbeat" + end + "\n" +
		typ + "trade" + end + " " + id + "#7" + end + ` {"symbol":"INITECH","qty":1200,"price":12.05}` + "\n" +
		typ + "price" + end + " " + id + "#8" + end + ` {"symbol":"GLOBEX","price":53.95}` + "\n" +
		dim + ": resuming after id 8" + end + "\n" +
		typ + "price" + end + " " + id + "#9" + end + ` {"symbol":"INITECH","price":12.20}` + "\n" +
		typ + "message" + end + " ACME volume passed one million shares\n" +
		dim + ": heartbeat" + end + "\n" +
		typ + "trade" + end + " " + id + "#10" + end + ` {"symbol":"GLOBEX","qty":50,"price":54.00}` + "\n" +
		typ + "status" + end + " " + id + "#11" + end + ` {"market":"closed"}` + "\n"
	// The notices go to standard error, in the same style.
	wantErr := dim + "-- demo feed at URL" + end + "\n" +
		dim + "-- connection lost (unexpected EOF); reconnecting in D, resuming after id 4" + end + "\n" +
		dim + "-- connection lost (unexpected EOF); reconnecting in D, resuming after id 8" + end + "\n" +
		dim + "-- stream ended by the server; reconnecting in D, resuming after id 11" + end + "\n" +
		dim + "-- server asked the client to stop (204 No Content)" + end + "\n"
	if got := normalize(r.stderr); r.code != 0 || r.stdout != want || got != wantErr {
		t.Errorf("exit %d, stdout:\n%q\nstderr:\n%q\nwant exit 0, stdout:\n%q\nstderr:\n%q", r.code, r.stdout, got, want, wantErr)
	}
}

func TestDemoCountAndFilter(t *testing.T) {
	setDemoPace(t, instant)
	r := runCmd(t, "", "-demo", "--json", "--event", "price", "--count", "3")
	want := []string{
		`price #2 last=2 {"symbol":"ACME","price":101.25}`,
		`price #3 last=3 {"symbol":"GLOBEX","price":54.10}`,
		`price #5 last=5 {"symbol":"ACME","price":101.40}`,
	}
	if got := summarize(t, r.stdout); r.code != 0 || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("exit %d, events:\n%s\nwant exit 0 and:\n%s", r.code, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestDemoStopsOnInterrupt(t *testing.T) {
	setDemoPace(t, demoTiming{tick: time.Hour, retry: time.Hour}) // it would never end by itself
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	stdout, stderr := newSignalWriter(), newSignalWriter()
	done := make(chan int)
	go func() { done <- run(ctx, []string{"-demo", "--json"}, strings.NewReader(""), stdout, stderr) }()
	<-stderr.wrote // the demo feed is up; now Ctrl-C
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit %d after cancel; want 0 (stderr %q)", code, stderr.String())
	}
	if got := normalize(stderr.String()); got != "ssecat: demo feed at URL\n" || stdout.String() != "" {
		t.Errorf("stderr %q, stdout %q; want only the demo line on stderr", got, stdout.String())
	}
}

// The demo is the README's first command: at its own pace it must be over
// in a few seconds.
func TestDemoIsShort(t *testing.T) {
	steps := time.Duration(len(demoScript)) * demoPace.tick
	reconnects := 3 * demoPace.retry // two drops and the final 204
	if total := steps + reconnects; total > 4*time.Second || total < time.Second {
		t.Errorf("the demo takes about %v; want from 1s to 4s, to be watched but not waited for", total)
	}
}
