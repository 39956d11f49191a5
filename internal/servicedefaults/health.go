package servicedefaults

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Health paths served by every process.
const (
	LivenessPath  = "/livez"
	ReadinessPath = "/readyz"
)

// readinessTimeout bounds one readiness probe: a check that has not answered
// by then counts as failing, so a hung dependency cannot hang the probe.
const readinessTimeout = 2 * time.Second

// ErrHealthStarted reports a second Start of the same Health.
var ErrHealthStarted = errors.New("health server already started")

// Health serves liveness and readiness. Liveness answers 200 while the
// process runs; readiness answers 200 only when every registered check
// passes. It is safe for concurrent use.
type Health struct {
	addr string
	log  *slog.Logger

	mu     sync.Mutex
	checks map[string]func(context.Context) error
	ln     net.Listener
	srv    *http.Server
	served chan struct{} // closed when Serve has returned
}

// NewHealth returns a Health that will listen on addr ("host:port", port 0
// for a free one) once started.
func NewHealth(addr string, log *slog.Logger) *Health {
	return &Health{
		addr:   addr,
		log:    log,
		checks: make(map[string]func(context.Context) error),
	}
}

// AddReadiness registers check under name; a later registration under the
// same name replaces it. check must honour ctx's deadline.
func (h *Health) AddReadiness(name string, check func(ctx context.Context) error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.checks[name] = check
}

// Routes mounts GET /livez and GET /readyz on mux, for a process that wants
// them on its own server as well.
func (h *Health) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET "+LivenessPath, h.serveLiveness)
	mux.HandleFunc("GET "+ReadinessPath, h.serveReadiness)
}

// Traced reports whether a request should be traced: health probes are not,
// so they do not drown real traffic. It fits otelhttp.WithFilter.
func Traced(r *http.Request) bool {
	return r.URL.Path != LivenessPath && r.URL.Path != ReadinessPath
}

// Start listens on the configured address before returning, so a taken port
// is reported to the caller, then serves in the background until Stop.
func (h *Health) Start(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.srv != nil {
		return ErrHealthStarted
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", h.addr)
	if err != nil {
		return fmt.Errorf("listen health: %w", err)
	}
	mux := http.NewServeMux()
	h.Routes(mux)
	h.ln = ln
	h.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	h.served = make(chan struct{})
	go h.serve(h.srv, ln, h.served)
	h.log.InfoContext(ctx, "health server started", slog.String("addr", ln.Addr().String()))
	return nil
}

func (h *Health) serve(srv *http.Server, ln net.Listener, served chan<- struct{}) {
	defer close(served)
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		h.log.Error("health server stopped", slog.Any("err", err))
	}
}

// Stop shuts the server down, waiting for in-flight probes until ctx ends.
// Stopping a Health that was never started does nothing.
func (h *Health) Stop(ctx context.Context) error {
	h.mu.Lock()
	srv, served := h.srv, h.served
	h.mu.Unlock()
	if srv == nil {
		return nil
	}
	if err := srv.Shutdown(ctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("shut down health server: %w", err)
	}
	<-served
	h.log.InfoContext(ctx, "health server stopped")
	return nil
}

// Addr returns the address actually bound, or "" before Start.
func (h *Health) Addr() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ln == nil {
		return ""
	}
	return h.ln.Addr().String()
}

// Failure is one failing readiness check in a /readyz answer.
type Failure struct {
	Name  string `json:"name"`
	Error string `json:"error"`
}

// readiness is the body of a /readyz answer.
type readiness struct {
	Status  string    `json:"status"`
	Failing []Failure `json:"failing,omitempty"`
}

// Check runs every readiness check concurrently, each bounded by ctx and by
// two seconds, and returns the failures sorted by name (none when ready).
func (h *Health) Check(ctx context.Context) []Failure {
	h.mu.Lock()
	checks := make(map[string]func(context.Context) error, len(h.checks))
	for name, c := range h.checks {
		checks[name] = c
	}
	h.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, readinessTimeout)
	defer cancel()

	type outcome struct {
		name string
		err  error
	}
	// Buffered to the number of checks so a check still running when the
	// probe gives up can deliver its result later and exit.
	results := make(chan outcome, len(checks))
	for name, c := range checks {
		go func() { results <- outcome{name: name, err: c(ctx)} }()
	}

	pending := make(map[string]bool, len(checks))
	for name := range checks {
		pending[name] = true
	}
	var failing []Failure
	for len(pending) > 0 {
		select {
		case o := <-results:
			delete(pending, o.name)
			if o.err != nil {
				failing = append(failing, Failure{Name: o.name, Error: o.err.Error()})
			}
		case <-ctx.Done():
			for name := range pending {
				failing = append(failing, Failure{Name: name, Error: fmt.Sprintf("no answer: %v", ctx.Err())})
			}
			pending = nil
		}
	}
	slices.SortFunc(failing, func(a, b Failure) int { return strings.Compare(a.Name, b.Name) })
	return failing
}

func (h *Health) serveLiveness(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, readiness{Status: "alive"})
}

func (h *Health) serveReadiness(w http.ResponseWriter, r *http.Request) {
	failing := h.Check(r.Context())
	if len(failing) > 0 {
		writeJSON(w, http.StatusServiceUnavailable, readiness{Status: "unavailable", Failing: failing})
		return
	}
	writeJSON(w, http.StatusOK, readiness{Status: "ready"})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	// The status line is already sent; a failed write means the prober left.
	_ = json.NewEncoder(w).Encode(v)
}
