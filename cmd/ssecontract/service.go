package main

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"

	"github.com/sirupsen/logrus"
)

// capabilities are the optional harness features this service declares.
// Not "event-type-listeners": every event reaches the all-events handler.
// "server-directed-shutdown-request" is the test of a 204 stopping
// reconnection, under that name in every released harness version.
var capabilities = []string{
	"bom",
	"comments",
	"headers",
	"last-event-id",
	"post",
	"report",
	"read-timeout",
	"restart",
	"server-directed-shutdown-request",
}

// maxRequestBody bounds the JSON the harness may send in one request.
const maxRequestBody = 1 << 20

// service is the test service's HTTP API: it creates, commands and closes
// client instances.
type service struct {
	log    logrus.FieldLogger
	client *http.Client // for streams and callbacks alike
	mux    *http.ServeMux

	quit     chan struct{} // closed by DELETE /
	quitOnce sync.Once

	mu        sync.Mutex // guards the fields below
	instances map[string]*instance
	lastID    int
	closed    bool
}

func newService(log logrus.FieldLogger) *service {
	s := &service{
		log:       log,
		client:    &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()},
		mux:       http.NewServeMux(),
		quit:      make(chan struct{}),
		instances: make(map[string]*instance),
	}
	s.mux.HandleFunc("GET /{$}", s.status)
	s.mux.HandleFunc("DELETE /{$}", s.stop)
	s.mux.HandleFunc("POST /{$}", s.create)
	s.mux.HandleFunc("POST /streams/{id}", s.command)
	s.mux.HandleFunc("DELETE /streams/{id}", s.delete)
	return s
}

func (s *service) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Close closes every instance and refuses new ones. It is safe to call more
// than once.
func (s *service) Close() {
	s.mu.Lock()
	s.closed = true
	all := s.instances
	s.instances = make(map[string]*instance)
	s.mu.Unlock()
	for _, in := range all {
		in.close()
	}
	s.client.CloseIdleConnections()
}

// status answers GET /: the service is up, with these capabilities.
func (s *service) status(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(struct {
		Name         string   `json:"name"`
		Capabilities []string `json:"capabilities"`
	}{"ssekit/sse", capabilities})
}

// stop answers DELETE /: it replies, then tells serve to shut down, which
// lets this reply go out before the process exits.
func (s *service) stop(w http.ResponseWriter, _ *http.Request) {
	w.WriteHeader(http.StatusNoContent)
	s.quitOnce.Do(func() { close(s.quit) })
}

// create answers POST /: it starts a client instance described by the body
// and replies 201 with the instance's URL in Location.
func (s *service) create(w http.ResponseWriter, r *http.Request) {
	var p createParams
	if err := readJSON(w, r, &p); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	// Under mu from the check to the start, so that Close cannot miss the
	// instance; building one does no I/O.
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		http.Error(w, "ssecontract: shutting down", http.StatusServiceUnavailable)
		return
	}
	s.lastID++
	id := strconv.Itoa(s.lastID)
	log := s.log.WithFields(logrus.Fields{"instance": id, "tag": p.Tag})
	in, err := newInstance(p, s.client, log)
	if err == nil {
		s.instances[id] = in
		in.start()
	}
	s.mu.Unlock()
	if err != nil {
		log.WithError(err).Warn("ssecontract: rejected instance")
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	log.WithField("stream_url", p.StreamURL).Info("ssecontract: instance created")
	w.Header().Set("Location", "http://"+r.Host+"/streams/"+id)
	w.WriteHeader(http.StatusCreated)
}

// commandParams is the body of POST <instance URL>.
type commandParams struct {
	Command string `json:"command"`
}

// command answers POST <instance URL>.
func (s *service) command(w http.ResponseWriter, r *http.Request) {
	in := s.instance(r.PathValue("id"))
	if in == nil {
		http.NotFound(w, r)
		return
	}
	var c commandParams
	if err := readJSON(w, r, &c); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	switch c.Command {
	case "restart":
		in.log.Info("ssecontract: restart")
		in.d.Interrupt()
	case "listen":
		// Only for clients that subscribe per type (capability
		// event-type-listeners, not declared): every event reaches us already.
	default:
		http.Error(w, "ssecontract: unknown command "+strconv.Quote(c.Command), http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// delete answers DELETE <instance URL>: the instance stops for good.
func (s *service) delete(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.mu.Lock()
	in := s.instances[id]
	delete(s.instances, id)
	s.mu.Unlock()
	if in == nil {
		http.NotFound(w, r)
		return
	}
	in.close()
	in.log.Info("ssecontract: instance closed")
	w.WriteHeader(http.StatusNoContent)
}

func (s *service) instance(id string) *instance {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.instances[id]
}

// readJSON decodes the request body, which must be one JSON value, into v.
func readJSON(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
	if err != nil {
		return errors.New("ssecontract: cannot read the request body: " + err.Error())
	}
	if err := json.Unmarshal(body, v); err != nil {
		return errors.New("ssecontract: bad JSON: " + err.Error())
	}
	return nil
}
