// Command ssecat reads a Server-Sent Events stream and prints its events,
// one per line as JSON, or laid out for a person when its output is a
// terminal.
//
// Usage:
//
//	ssecat [flags] URL
//	ssecat -demo [flags]
//
// Run ssecat -h for the flags. The exit code is 0 when the stream is over
// (the server answered 204 No Content, or ended the stream and the error
// strategy did not reconnect; --count was reached; or Ctrl-C), 1 when the
// server rejected the stream or the retries ran out, and 2 for a usage
// error. When the reader of its output goes away, it is killed by SIGPIPE,
// as cat is.
//
// ssecat -demo starts a small SSE server on a loopback port and reads it the
// same way: a feed of typed JSON events with heartbeat comments, a retry
// field, and dropped connections that resume from Last-Event-ID.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"golang.org/x/term"

	"github.com/ssekit/sse"
)

// Exit codes.
const (
	exitOK     = 0 // the stream is over, --count was reached, or Ctrl-C
	exitFailed = 1 // the server rejected the stream, or the retries ran out
	exitUsage  = 2 // bad flags or URL
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// config is what the command line asks for.
type config struct {
	url          string
	headers      headerList
	method       string
	body         string
	lastEventID  string
	events       stringList
	comments     bool
	readTimeout  time.Duration
	maxRetries   int
	retriesSet   bool // --max-retries was given
	maxDelay     time.Duration
	initialDelay time.Duration
	json         bool
	pretty       bool
	verbose      bool
	trace        bool
	raw          bool
	include      bool // -i, --include
	count        int
	demo         bool
	caCert       string // --cacert
	insecure     bool   // -k, --insecure
	cert, key    string // --cert, --key
	state        string // --state
}

// run is the whole program; main only adds the signals and the exit.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cfg, code, ok := parseArgs(args, stdout, stderr)
	if !ok {
		return code
	}
	var body []byte
	if cfg.body != "" {
		b, err := readBody(cfg.body, stdin)
		if err != nil {
			fmt.Fprintf(stderr, "ssecat: %v\n", err)
			return exitUsage
		}
		body = b
	}

	human := cfg.pretty || (!cfg.json && isTerminal(stdout))
	color := os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb"
	var out printer
	switch {
	case cfg.raw: // a view for people, even when piped; in colour only where the human layout is
		out = rawPrinter{newHumanPrinter(stdout, stderr, color && human)}
	case human:
		out = newHumanPrinter(stdout, stderr, color)
	default:
		out = newJSONPrinter(stdout, stderr)
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stopWatch := watchOutput(stdout, func() { cancel(errOutputGone) })
	defer stopWatch()
	if cfg.demo {
		code = runDemo(ctx, cfg, body, out, stderr)
	} else {
		code = consume(ctx, cfg, body, out, stderr)
	}
	if errors.Is(context.Cause(ctx), errOutputGone) {
		return outputGone(stdout, stderr)
	}
	return code
}

// errOutputGone stops the stream when nothing reads the output any more.
var errOutputGone = errors.New("output closed by its reader")

// outputGone ends the program as its next write would have, once the
// reader of its output went away during a quiet stream: like cat, ssecat is
// then killed by SIGPIPE (status 141 in a shell), which the Go runtime
// raises for a failed write to standard output. The byte it writes can
// reach no one. Where SIGPIPE is ignored, the write fails and the exit
// status is 1, as for any failed write.
func outputGone(stdout, stderr io.Writer) int {
	_, err := io.WriteString(stdout, "\n")
	if err == nil {
		err = errOutputGone
	}
	fmt.Fprintf(stderr, "ssecat: writing output: %v\n", err)
	return exitFailed
}

// consume reads cfg.url and prints what happens on it until the stream
// stops. The demo uses it too, against its own server.
func consume(ctx context.Context, cfg *config, body []byte, out printer, stderr io.Writer) int {
	if err := checkURL(cfg.url); err != nil {
		fmt.Fprintf(stderr, "ssecat: %v\n", err)
		return exitUsage
	}
	state, err := loadState(cfg.state)
	if err != nil {
		fmt.Fprintf(stderr, "ssecat: %v\n", err)
		return exitUsage
	}
	if id := state.lastEventID(); id != "" {
		cfg.lastEventID = id
	}
	tlsConf, err := tlsConfig(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "ssecat: %v\n", err)
		return exitUsage
	}
	if cfg.insecure {
		fmt.Fprintln(stderr, "ssecat: warning: -k: the server's certificate is not verified")
	}
	// A transport of our own, so that nothing stays connected once run returns.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	defer tr.CloseIdleConnections()
	if tlsConf != nil {
		tr.TLSClientConfig = tlsConf // HTTP/2 still applies: the clone forces the attempt
	}
	var rt http.RoundTripper = tr
	var heads *headRecorder
	if cfg.include {
		heads = &headRecorder{base: rt}
		rt = heads
	}
	var view *lineView
	if rp, ok := out.(rawPrinter); ok {
		view = &lineView{p: rp.humanPrinter}
		rt = &teeTransport{base: rt, view: view}
	}
	errStrategy, budget := strategy(cfg)
	opts := []sse.Option{
		sse.WithHTTPClient(&http.Client{Transport: rt}),
		sse.WithMethod(cfg.method),
		sse.WithInitialDelay(cfg.initialDelay),
		sse.WithReadTimeout(cfg.readTimeout),
		sse.WithMaxDelay(cfg.maxDelay),
		sse.WithErrorStrategy(errStrategy),
	}
	for _, h := range cfg.headers {
		opts = append(opts, sse.WithHeader(h.name, h.value))
	}
	if body != nil {
		opts = append(opts, sse.WithBody(body))
	}
	if cfg.lastEventID != "" {
		opts = append(opts, sse.WithLastEventID(cfg.lastEventID))
	}
	if cfg.verbose {
		log := logrus.New()
		log.SetOutput(stderr)
		log.SetLevel(logrus.DebugLevel)
		opts = append(opts, sse.WithLogger(log))
	}
	if cfg.trace {
		exp, err := stdouttrace.New(stdouttrace.WithWriter(stderr))
		if err != nil {
			fmt.Fprintf(stderr, "ssecat: trace exporter: %v\n", err)
			return exitFailed
		}
		res, _ := resource.Merge(resource.Default(),
			resource.NewSchemaless(attribute.String("service.name", "ssecat")))
		tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithResource(res))
		// Shutdown must outlive a cancelled ctx, or the last spans are lost.
		defer tp.Shutdown(context.WithoutCancel(ctx))
		opts = append(opts, sse.WithTracerProvider(tp))
	}

	s, err := sse.NewStream(cfg.url, opts...)
	if err != nil {
		fmt.Fprintf(stderr, "ssecat: %s\n", strings.TrimPrefix(err.Error(), "sse: "))
		return exitUsage
	}
	defer func() {
		s.Close()
		// A loop left early (--count) keeps its connection open until the stream
		// is ranged over again; this last range ends it, and its trace span.
		for range s.All(ctx) {
		}
	}()
	defer view.stop() // before that last range, which may still read

	d := newDisplay(cfg, out, stderr, budget, heads)
	for a := range s.All(ctx) {
		view.before(a)
		code, over := d.act(a, s.LastEventID())
		if out.err() != nil {
			break // the ID of an event that was not written is not saved
		}
		// Saved once the action is written: a kill before this line repeats
		// the event, one after it does not, and none is lost.
		if err := state.save(s.LastEventID()); err != nil {
			fmt.Fprintf(stderr, "ssecat: %v\n", err)
			return exitFailed
		}
		if over {
			return finish(out, stderr, code)
		}
	}
	return finish(out, stderr, exitOK) // ctx is done (Ctrl-C), or output failed
}

// display prints the actions of a stream as the flags ask, and says when
// the program is over.
type display struct {
	cfg     *config
	out     printer
	stderr  io.Writer
	want    map[string]bool // --event; empty for all types
	budget  *attemptBudget  // nil without --max-retries
	heads   *headRecorder   // nil without -i
	printed int
}

func newDisplay(cfg *config, out printer, stderr io.Writer, budget *attemptBudget, heads *headRecorder) *display {
	want := make(map[string]bool, len(cfg.events))
	for _, t := range cfg.events {
		want[t] = true
	}
	return &display{cfg: cfg, out: out, stderr: stderr, want: want, budget: budget, heads: heads}
}

// act prints a, given the stream's last event ID once a happened. over
// reports that the program ends, with code.
func (d *display) act(a sse.Action, lastEventID string) (code int, over bool) {
	if r, ok := d.heads.response(a); ok { // before the connection's events, or its failure
		d.out.response(r, time.Now())
	}
	switch a := a.(type) {
	case sse.Event:
		if len(d.want) > 0 && !d.want[a.Type] {
			return 0, false
		}
		d.out.event(a, time.Now())
		d.printed++
		return exitOK, d.cfg.count > 0 && d.printed >= d.cfg.count
	case sse.Comment:
		if d.cfg.comments {
			d.out.comment(a, time.Now())
		}
	case sse.Fault:
		if !a.Final {
			d.out.notice(reconnectNotice(a, lastEventID))
			return 0, false
		}
		if errors.Is(a.Err, sse.ErrServerStopped) { // no failure: the stream is over as the server wants
			d.out.notice(serverStopped)
			return exitOK, true
		}
		msg := describe(a.Err)
		if d.budget != nil {
			msg += d.budget.gaveUp()
		}
		if a.Err == nil {
			d.out.notice(msg)
			return exitOK, true
		}
		fmt.Fprintf(d.stderr, "ssecat: %s\n", msg)
		return exitFailed, true
	}
	return 0, false
}

// serverStopped is the notice of a 204 No Content, by which a server tells
// its clients to stop reconnecting.
const serverStopped = "server asked the client to stop (204 No Content)"

// finish reports a failed write to the output, which turns code into a
// failure; otherwise it returns code.
func finish(out printer, stderr io.Writer, code int) int {
	if err := out.err(); err != nil {
		fmt.Fprintf(stderr, "ssecat: writing output: %v\n", err)
		return exitFailed
	}
	return code
}

// reconnectNotice is the one line shown for a connection that will be
// retried.
func reconnectNotice(f sse.Fault, lastEventID string) string {
	msg := fmt.Sprintf("%s; reconnecting in %s", describe(f.Err), formatDelay(f.RetryDelay))
	if lastEventID != "" {
		msg += ", resuming after id " + sanitize(lastEventID)
	}
	return msg
}

// formatDelay rounds a delay for people: milliseconds below a second,
// hundredths of a second above.
func formatDelay(d time.Duration) string {
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(10 * time.Millisecond).String()
}

// checkURL catches the URL mistakes the library would report later, or
// less clearly: a missing scheme or host.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil { // the URL is not quoted: it may hold a secret
		return fmt.Errorf("bad URL: %v", errors.Unwrap(err))
	}
	shown := u.Redacted() // a password in the URL is not shown
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("bad URL %q: want an http:// or https:// URL", shown)
	}
	if u.Host == "" {
		return fmt.Errorf("bad URL %q: no host", shown)
	}
	return nil
}

// readBody returns the request body for -d: the text itself, the contents
// of a file for @file, or standard input for @-.
func readBody(arg string, stdin io.Reader) ([]byte, error) {
	name, ok := strings.CutPrefix(arg, "@")
	switch {
	case !ok:
		return []byte(arg), nil
	case name == "-":
		b, err := io.ReadAll(stdin)
		if err != nil {
			return nil, fmt.Errorf("reading the body from standard input: %v", err)
		}
		return b, nil
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("reading the body: %v", err)
	}
	return b, nil
}

// isTerminal reports whether w is a terminal. Any character device is not
// enough: /dev/null is one too.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// usage is the help text; TestHelpListsEveryFlag keeps it in step with the
// flags.
const usage = `usage: ssecat [flags] URL
       ssecat -demo [flags]

Reads a Server-Sent Events stream and prints its events: laid out for a
person on a terminal, as JSON lines otherwise.

Request:
  -H 'Name: value'     add a request header (repeatable)
  -X METHOD            HTTP method (default GET, or POST with -d)
  -d BODY              request body; @file reads a file, @- standard input
  --last-event-id ID   resume after this event ID (sent as Last-Event-ID)
  --state FILE         keep the last event ID in FILE, and resume after the
                       one it holds at start. The ID is saved (atomically:
                       a temporary file, fsync, rename) right after each event
                       is written to standard output. So a run killed at any
                       moment, even by SIGKILL, and started again with FILE
                       misses no event of a server that resumes after
                       Last-Event-ID, and repeats at most one: the last it
                       printed, if the kill came before its ID was saved.
                       This holds for events that carry an id; those without
                       one, after the last id, are replayed by the server and
                       printed again. It covers a killed process, not a
                       machine that loses power: the output is not synced.

TLS:
  --cacert FILE        trust only the CA certificates in FILE (PEM), instead
                       of the system's
  -k, --insecure       do not verify the server's certificate (a warning is
                       printed on standard error)
  --cert FILE          client certificate (PEM); FILE may hold its key too
  --key FILE           the client certificate's private key (PEM)

Reconnection: by default, as a browser does, ssecat reconnects for ever
after a dropped connection, a network error or the end of the stream, and
stops when the server answers an HTTP error status, 204 No Content, or a
content type other than text/event-stream.
  --max-retries N      reconnect after any failure, HTTP errors included, but
                       give up once N reconnections in a row have delivered
                       no event (a connection that delivers one starts the
                       count again); 0 stops at the first failure or end,
                       -1 never gives up
  --initial-delay D    delay before the first reconnection, doubled on each
                       failure; the server's retry field replaces it (default 1s)
  --max-delay D        cap on the doubled delay; 0 for none (default 30s)
  --read-timeout D     fail a connection that is silent for D (default: none)

Output:
  --event TYPE         print only events of this type (repeatable)
  --comments           print comment lines too (often heartbeats)
  --count N            exit after N events
  --json               print JSON lines even on a terminal: one object per
                       event with type, data, id, last_event_id and time
  --pretty             print for a person even when not on a terminal
                       (colours unless NO_COLOR is set)
  --raw                a view for debugging servers: each line of the stream
                       as received ("< "), with what the parser makes of it
                       in parentheses (retry fields, ignored fields, blocks
                       that dispatch nothing), and each event dispatched,
                       marked "= ", after the blank line that ended it
  -i, --include        print each connection's response (after redirects)
                       before its events: the status line, the headers and,
                       for a response that refuses the stream, the start of
                       its body (at most 4 KiB). They go to standard output,
                       as with curl -i, so that they keep their place among
                       the events; in the JSON layout each is one line,
                       {"response":{"proto":...,"status":...,"header":{...},
                       "body":...},"time":...}. Header values are shown as
                       received, Set-Cookie and other credentials included:
                       the server sent them to you.
  -v                   debug logs on standard error
  --trace              connection spans on standard error (OpenTelemetry)

Demo:
  -demo                read a feed from an embedded server on 127.0.0.1

Exit status: 0 when the server ended the stream for good (it answered 204
No Content, which asks the client to stop, or ended the stream and
--max-retries did not retry), --count was reached or on Ctrl-C;
1 when the server rejected the stream or the retries ran out; 2 for a
usage error. When the reader of its output goes away (ssecat URL | head),
ssecat is killed by SIGPIPE, as cat is, even while the stream is quiet.
`

// newFlagSet defines the flags, which fill cfg. Their help is in usage.
func newFlagSet(cfg *config) *flag.FlagSet {
	fs := flag.NewFlagSet("ssecat", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors and help are printed by parseArgs, our way
	fs.Var(&cfg.headers, "H", "")
	fs.StringVar(&cfg.method, "X", "", "")
	fs.StringVar(&cfg.body, "d", "", "")
	fs.StringVar(&cfg.lastEventID, "last-event-id", "", "")
	fs.Var(&cfg.events, "event", "")
	fs.BoolVar(&cfg.comments, "comments", false, "")
	fs.DurationVar(&cfg.readTimeout, "read-timeout", 0, "")
	fs.IntVar(&cfg.maxRetries, "max-retries", 0, "")
	fs.DurationVar(&cfg.initialDelay, "initial-delay", time.Second, "")
	fs.DurationVar(&cfg.maxDelay, "max-delay", 30*time.Second, "")
	fs.BoolVar(&cfg.json, "json", false, "")
	fs.BoolVar(&cfg.pretty, "pretty", false, "")
	fs.BoolVar(&cfg.verbose, "v", false, "")
	fs.BoolVar(&cfg.trace, "trace", false, "")
	fs.BoolVar(&cfg.raw, "raw", false, "")
	fs.BoolVar(&cfg.include, "i", false, "")
	fs.BoolVar(&cfg.include, "include", false, "")
	fs.IntVar(&cfg.count, "count", 0, "")
	fs.BoolVar(&cfg.demo, "demo", false, "")
	fs.StringVar(&cfg.caCert, "cacert", "", "")
	fs.BoolVar(&cfg.insecure, "k", false, "")
	fs.BoolVar(&cfg.insecure, "insecure", false, "")
	fs.StringVar(&cfg.cert, "cert", "", "")
	fs.StringVar(&cfg.key, "key", "", "")
	fs.StringVar(&cfg.state, "state", "", "")
	return fs
}

// parseArgs reads the command line. When ok is false, the program exits
// with code at once; a message has already been printed.
func parseArgs(args []string, stdout, stderr io.Writer) (cfg *config, code int, ok bool) {
	cfg = &config{}
	fs := newFlagSet(cfg)
	usageError := func(format string, a ...any) (*config, int, bool) {
		fmt.Fprintf(stderr, "ssecat: "+format+"\n", a...)
		fmt.Fprintln(stderr, "usage: ssecat [flags] URL (ssecat -h for help)")
		return nil, exitUsage, false
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			io.WriteString(stdout, usage)
			return nil, exitOK, false
		}
		return usageError("%v", err)
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "max-retries" {
			cfg.retriesSet = true
		}
	})

	rest := fs.Args()
	switch {
	case cfg.demo && len(rest) > 0:
		return usageError("-demo takes no URL")
	case cfg.demo:
	case len(rest) == 0:
		return usageError("no URL given")
	case len(rest) > 1 && strings.HasPrefix(rest[1], "-"):
		return usageError("flags go before the URL (%q comes after it)", rest[1])
	case len(rest) > 1:
		return usageError("one URL only (got %d arguments)", len(rest))
	default:
		cfg.url = rest[0]
	}
	switch {
	case cfg.json && cfg.pretty:
		return usageError("--json and --pretty exclude each other")
	case cfg.json && cfg.raw:
		return usageError("--json and --raw exclude each other")
	case cfg.count < 0:
		return usageError("--count must not be negative")
	case cfg.readTimeout < 0 || cfg.initialDelay < 0 || cfg.maxDelay < 0:
		return usageError("durations must not be negative")
	case cfg.key != "" && cfg.cert == "":
		return usageError("--key needs --cert")
	case cfg.state != "" && cfg.lastEventID != "":
		return usageError("--state and --last-event-id exclude each other")
	}
	if cfg.method == "" {
		cfg.method = http.MethodGet
		if cfg.body != "" {
			cfg.method = http.MethodPost
		}
	}
	return cfg, exitOK, true
}

// header is one -H flag.
type header struct{ name, value string }

// headerList collects the repeatable -H 'Name: value' flag.
type headerList []header

func (l *headerList) String() string { return fmt.Sprint(len(*l), " headers") }

// Set parses one 'Name: value'.
func (l *headerList) Set(s string) error {
	name, value, ok := strings.Cut(s, ":")
	name = strings.TrimSpace(name)
	switch {
	case !ok:
		return errors.New("want 'Name: value'")
	case !validToken(name):
		return fmt.Errorf("bad header name %q", name)
	case strings.ContainsAny(value, "\r\n\x00"):
		return fmt.Errorf("header %s: value has a line break or NUL", name)
	}
	*l = append(*l, header{name, strings.TrimSpace(value)})
	return nil
}

// validToken reports whether s is a valid HTTP header name (an RFC 9110
// token).
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
		if !ok {
			return false
		}
	}
	return true
}

// stringList collects a repeatable string flag.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

// Set adds one value.
func (l *stringList) Set(s string) error {
	*l = append(*l, s)
	return nil
}
