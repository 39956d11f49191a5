package api

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.temporal.io/sdk/converter"
	"gocloud.dev/blob"

	"github.com/zinc-edu/orchestrator/internal/archive"
	"github.com/zinc-edu/orchestrator/internal/auth"
	"github.com/zinc-edu/orchestrator/internal/batches"
	"github.com/zinc-edu/orchestrator/internal/events"
	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/servicedefaults"
	"github.com/zinc-edu/orchestrator/internal/store"
	"github.com/zinc-edu/orchestrator/internal/temporal"
)

// Defaults applied to zero fields of Config.
const (
	DefaultAddr           = "127.0.0.1:8080"
	DefaultMaxJSONBytes   = 1 << 20
	DefaultMaxConfigBytes = 1 << 20
	DefaultMaxUploadBytes = 64 << 20
	// DefaultMaxEnvironmentBytes bounds an environment image's tar.
	DefaultMaxEnvironmentBytes = 1 << 30
	DefaultRateLimit           = 50
	DefaultRateBurst           = 100
	DefaultUploadsPerKey       = 4
	DefaultStreamsPerKey       = 16
	DefaultReadTimeout         = 2 * time.Minute
)

// Server timeouts: headers must arrive quickly, a whole request (an upload
// included) within Config.ReadTimeout, and idle keep-alive connections are
// dropped after a while. There is no write timeout: event streams are long.
const (
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 2 * time.Minute
)

// Config is the API's configuration, read from the environment by the
// caller (servicedefaults.LoadEnv[api.Config]). Zero sizes take the defaults.
type Config struct {
	// Addr is where the server listens, "host:port"; port 0 picks a free
	// one, reported by Server.Addr once started.
	Addr string `env:"ZINC_API_ADDR" envDefault:"127.0.0.1:8080"`
	// MaxJSONBytes bounds a JSON request body.
	MaxJSONBytes int64 `env:"ZINC_API_MAX_JSON_BYTES" envDefault:"1048576"`
	// MaxConfigBytes bounds a grading config's YAML definition.
	MaxConfigBytes int64 `env:"ZINC_API_MAX_CONFIG_BYTES" envDefault:"1048576"`
	// MaxUploadBytes bounds a multipart body: a delivery, or a grading
	// config sent with its assignment files.
	MaxUploadBytes int64 `env:"ZINC_API_MAX_UPLOAD_BYTES" envDefault:"67108864"`
	// MaxEnvironmentBytes bounds an environment image (the OCI layout tar
	// of POST /v1/environments); the whole upload must also arrive within
	// ReadTimeout.
	MaxEnvironmentBytes int64 `env:"ZINC_API_MAX_ENVIRONMENT_BYTES" envDefault:"1073741824"`
	// RateLimit is each caller's sustained requests per second, RateBurst
	// how many it may send at once; beyond them the API answers 429.
	RateLimit float64 `env:"ZINC_API_RATE_LIMIT" envDefault:"50"`
	RateBurst int     `env:"ZINC_API_RATE_BURST" envDefault:"100"`
	// UploadsPerKey bounds one caller's uploads in progress.
	UploadsPerKey int `env:"ZINC_API_UPLOADS_PER_KEY" envDefault:"4"`
	// StreamsPerKey bounds one caller's batch event streams open at once
	// (a batch page holds one).
	StreamsPerKey int `env:"ZINC_API_STREAMS_PER_KEY" envDefault:"16"`
	// CodecOrigins may call the codec endpoint from a browser (CORS): the
	// Temporal UI's origin.
	CodecOrigins []string `env:"ZINC_API_CODEC_ORIGINS" envSeparator:","`
	// ReadTimeout bounds reading one whole request, body included.
	ReadTimeout time.Duration `env:"ZINC_API_READ_TIMEOUT" envDefault:"2m"`
	// TemporalUIURL is the Temporal Web UI the instructor pages link
	// workflows to, such as "http://127.0.0.1:8233"; empty shows no link.
	TemporalUIURL string `env:"ZINC_TEMPORAL_UI_URL"`
}

func (c Config) withDefaults() Config {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.MaxJSONBytes == 0 {
		c.MaxJSONBytes = DefaultMaxJSONBytes
	}
	if c.MaxConfigBytes == 0 {
		c.MaxConfigBytes = DefaultMaxConfigBytes
	}
	if c.MaxUploadBytes == 0 {
		c.MaxUploadBytes = DefaultMaxUploadBytes
	}
	if c.MaxEnvironmentBytes == 0 {
		c.MaxEnvironmentBytes = DefaultMaxEnvironmentBytes
	}
	if c.RateLimit == 0 {
		c.RateLimit = DefaultRateLimit
	}
	if c.RateBurst == 0 {
		c.RateBurst = DefaultRateBurst
	}
	if c.UploadsPerKey == 0 {
		c.UploadsPerKey = DefaultUploadsPerKey
	}
	if c.StreamsPerKey == 0 {
		c.StreamsPerKey = DefaultStreamsPerKey
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = DefaultReadTimeout
	}
	return c
}

// Validate reports every setting that cannot work.
func (c Config) Validate() error {
	var errs []error
	for _, l := range []struct {
		name string
		v    int64
	}{
		{"max JSON bytes", c.MaxJSONBytes},
		{"max config bytes", c.MaxConfigBytes},
		{"max upload bytes", c.MaxUploadBytes},
		{"max environment bytes", c.MaxEnvironmentBytes},
		{"rate burst", int64(c.RateBurst)},
		{"uploads per key", int64(c.UploadsPerKey)},
		{"streams per key", int64(c.StreamsPerKey)},
		{"read timeout", int64(c.ReadTimeout)},
	} {
		if l.v < 0 {
			errs = append(errs, fmt.Errorf("%s %d is negative", l.name, l.v))
		}
	}
	if !(c.RateLimit >= 0) { // NaN too
		errs = append(errs, fmt.Errorf("rate limit %g is negative or not a number", c.RateLimit))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("validate api config: %w", err)
	}
	return nil
}

// Store is the part of ZINC's store the API reads and writes directly.
type Store interface {
	CreateCollection(ctx context.Context, c grading.Collection) (grading.Collection, error)
	Collection(ctx context.Context, id string) (grading.Collection, error)
	CreateDeliveryAnnounced(ctx context.Context, d grading.Delivery, announce store.Announce[grading.Delivery]) (grading.Delivery, error)
	Delivery(ctx context.Context, id string) (grading.Delivery, error)
	CreateConfig(ctx context.Context, cfg grading.Config) (grading.Config, error)
	Config(ctx context.Context, id string) (grading.Config, error)
	Result(ctx context.Context, deliveryID, configID string) (grading.Result, error)
	Collections(ctx context.Context, courses []string, after string, limit int) ([]grading.Collection, string, error)
	CollectionDeliveries(ctx context.Context, collectionID, after string, limit int) ([]store.ListedDelivery, string, error)
	Batches(ctx context.Context, collectionID string, courses []string, after string, limit int) ([]grading.Batch, string, error)

	// Access: courses, API keys, the audit log and the course of a resource.
	CreateCourse(ctx context.Context, c grading.Course) (grading.Course, error)
	Course(ctx context.Context, id string) (grading.Course, error)
	CourseOf(ctx context.Context, kind, id string) (string, error)
	CreateAPIKey(ctx context.Context, k grading.APIKey) (grading.APIKey, error)
	EnsureAPIKey(ctx context.Context, k grading.APIKey) (grading.APIKey, error)
	APIKeyByHash(ctx context.Context, hash string) (grading.APIKey, error)
	RevokeAPIKey(ctx context.Context, id string) error
	AppendAudit(ctx context.Context, e grading.AuditEntry) error
	Audit(ctx context.Context, f grading.AuditFilter) (entries []grading.AuditEntry, next string, err error)
	LatestDeliveries(ctx context.Context, collectionID, afterUser string, limit int) ([]grading.Delivery, error)

	// Environments, global to every course.
	CreateEnvironment(ctx context.Context, env grading.Environment) (grading.Environment, error)
	Environment(ctx context.Context, name string) (grading.Environment, error)
	EnvironmentDigestInUse(ctx context.Context, digest string) (bool, error)
	Environments(ctx context.Context, after string, limit int) ([]grading.Environment, string, error)
	AllDeliveries(ctx context.Context, collectionID, afterUser, afterID string, limit int) ([]grading.Delivery, error)
}

// Batches starts, reads and steers grading batches.
type Batches interface {
	Start(ctx context.Context, req batches.StartRequest) (grading.Batch, error)
	Get(ctx context.Context, id string) (batches.View, error)
	Results(ctx context.Context, id string) ([]grading.Result, error)
	Cancel(ctx context.Context, id string) error
	Pause(ctx context.Context, id string) error
	Resume(ctx context.Context, id string) error
	SetConcurrency(ctx context.Context, id string, n int) error
	RegradeFailed(ctx context.Context, id string) (grading.Batch, error)
}

// Announcer turns an event into the outbox entry stored with its row.
// *outbox.Encoder implements it.
type Announcer interface {
	Encode(ctx context.Context, ev events.Event) (store.Event, error)
}

// Params are the Server's dependencies. Health, the telemetry providers and
// the propagator are optional: without Health no /livez and /readyz are
// mounted, and nil providers mean OpenTelemetry's globals.
type Params struct {
	Config  Config
	Store   Store
	Batches Batches
	Bucket  *blob.Bucket
	Events  Announcer
	// Feed serves GET /v1/batches/{id}/events; without it that route
	// answers 503.
	Feed     Feed
	Temporal temporal.Configuration
	Health   *servicedefaults.Health
	Log      *slog.Logger
	// Archive caps what one delivery may hold once unpacked; zero fields
	// take archive.DefaultLimits.
	Archive archive.Limits
	// Auth configures OIDC and the bootstrap admin key; API keys always work.
	Auth auth.Config
	// Codec, when set, is served at /v1/codec/{encode,decode} for staff.
	Codec converter.PayloadCodec

	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider
	Propagator     propagation.TextMapPropagator
}

// Server is ZINC's HTTP API. Handler serves it in-process; Start and Stop
// run it on its own listener.
type Server struct {
	cfg      Config
	store    Store
	batches  Batches
	bucket   *blob.Bucket
	events   Announcer
	feed     Feed
	temporal temporal.Configuration
	archive  archive.Limits
	log      *slog.Logger
	mux      *http.ServeMux
	auth     *auth.Authenticator
	adminKey string
	limits   *limits
	// formMemory is how much of an upload's files is kept in memory before
	// spooling to disk; a field only so tests can reach the disk path.
	formMemory int64
	handler    http.Handler
	uiPages    uiPages

	// streams ends with Stop, so open event streams let shutdown finish.
	streams     context.Context
	stopStreams context.CancelFunc

	mu     sync.Mutex
	ln     net.Listener
	srv    *http.Server
	served chan struct{} // closed when Serve has returned
}

// NewServer checks p and builds the routes. It does not listen: see Start.
func NewServer(p Params) (*Server, error) {
	cfg := p.Config.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var missing []error
	if p.Store == nil {
		missing = append(missing, errors.New("store is nil"))
	}
	if p.Batches == nil {
		missing = append(missing, errors.New("batches is nil"))
	}
	if p.Bucket == nil {
		missing = append(missing, errors.New("bucket is nil"))
	}
	if p.Events == nil {
		missing = append(missing, errors.New("events announcer is nil"))
	}
	if p.Log == nil {
		missing = append(missing, errors.New("logger is nil"))
	}
	if p.Temporal.Name == "" {
		missing = append(missing, errors.New("temporal configuration is empty"))
	}
	if err := errors.Join(missing...); err != nil {
		return nil, fmt.Errorf("new api server: %w", err)
	}
	if p.Auth.AdminKey != "" && !auth.IsKey(p.Auth.AdminKey) {
		return nil, fmt.Errorf("new api server: the admin key must start with %q", auth.KeyPrefix)
	}
	oidc, err := auth.NewOIDC(p.Auth)
	if err != nil {
		return nil, fmt.Errorf("new api server: %w", err)
	}
	pages, err := parseUIPages()
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:      cfg,
		store:    p.Store,
		batches:  p.Batches,
		bucket:   p.Bucket,
		events:   p.Events,
		feed:     p.Feed,
		temporal: p.Temporal,
		archive:  p.Archive,
		log:      p.Log,
		mux:      http.NewServeMux(),
		auth:     auth.NewAuthenticator(p.Store, oidc),
		adminKey: p.Auth.AdminKey,
		limits:   newLimits(cfg.RateLimit, cfg.RateBurst, cfg.UploadsPerKey, cfg.StreamsPerKey),

		formMemory: multipartMemory,
		uiPages:    pages,
	}
	s.streams, s.stopStreams = context.WithCancel(context.Background())
	s.routes(p.Health)
	s.codecRoutes(p.Codec)

	opts := []otelhttp.Option{
		otelhttp.WithFilter(servicedefaults.Traced),
		// The mux has set r.Pattern by the time the span is named, so
		// spans group by route ("GET /v1/batches/{id}"), not by raw path.
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			if r.Pattern != "" {
				return r.Pattern
			}
			return r.Method
		}),
	}
	if p.TracerProvider != nil {
		opts = append(opts, otelhttp.WithTracerProvider(p.TracerProvider))
	}
	if p.MeterProvider != nil {
		opts = append(opts, otelhttp.WithMeterProvider(p.MeterProvider))
	}
	if p.Propagator != nil {
		opts = append(opts, otelhttp.WithPropagators(p.Propagator))
	}
	s.handler = otelhttp.NewHandler(s.withSession(http.HandlerFunc(s.dispatch)), "zinc-api", opts...)
	return s, nil
}

// Handler returns the API with its middleware, for tests and for callers
// that run their own http.Server.
func (s *Server) Handler() http.Handler { return s.handler }

// routes mounts every endpoint. Health probes are mounted on the same mux
// but excluded from tracing by servicedefaults.Traced.
func (s *Server) routes(h *servicedefaults.Health) {
	s.mux.HandleFunc("POST /v1/courses", s.handle(s.createCourse))
	s.mux.HandleFunc("GET /v1/courses/{id}", s.handle(s.getCourse))
	s.mux.HandleFunc("POST /v1/api-keys", s.handle(s.createAPIKey))
	s.mux.HandleFunc("DELETE /v1/api-keys/{id}", s.handle(s.revokeAPIKey))
	s.mux.HandleFunc("GET /v1/audit", s.handle(s.listAudit))

	s.mux.HandleFunc("POST /v1/collections", s.handle(s.createCollection))
	s.mux.HandleFunc("GET /v1/collections", s.handle(s.listCollections))
	s.mux.HandleFunc("GET /v1/collections/{id}", s.handle(s.getCollection))
	s.mux.HandleFunc("GET /v1/collections/{id}/deliveries", s.handle(s.listDeliveries))
	s.mux.HandleFunc("POST /v1/collections/{id}/deliveries", s.handle(s.createDelivery))

	s.mux.HandleFunc("POST /v1/grading-configs", s.handle(s.createConfig))
	s.mux.HandleFunc("GET /v1/grading-configs/{id}", s.handle(s.getConfig))

	s.mux.HandleFunc("POST /v1/environments", s.handle(s.createEnvironment))
	s.mux.HandleFunc("GET /v1/environments", s.handle(s.listEnvironments))
	s.mux.HandleFunc("GET /v1/environments/{name}", s.handle(s.getEnvironment))

	s.mux.HandleFunc("POST /v1/batches", s.handle(s.startBatch))
	s.mux.HandleFunc("GET /v1/batches", s.handle(s.listBatches))
	s.mux.HandleFunc("GET /v1/batches/{id}", s.handle(s.getBatch))
	s.mux.HandleFunc("PATCH /v1/batches/{id}", s.handle(s.patchBatch))
	s.mux.HandleFunc("POST /v1/batches/{id}/cancel", s.handle(s.cancelBatch))
	s.mux.HandleFunc("POST /v1/batches/{id}/pause", s.handle(s.pauseBatch))
	s.mux.HandleFunc("POST /v1/batches/{id}/resume", s.handle(s.resumeBatch))
	s.mux.HandleFunc("POST /v1/batches/{id}/regrade-failed", s.handle(s.regradeFailed))
	s.mux.HandleFunc("GET /v1/batches/{id}/results", s.handle(s.batchResults))
	s.mux.HandleFunc("GET /v1/batches/{id}/results.csv", s.handle(s.batchResultsCSV))
	s.mux.HandleFunc("GET /v1/batches/{id}/events", s.handle(s.batchEvents))

	s.mux.HandleFunc("GET /v1/deliveries/{id}/results/{config_id}", s.handle(s.deliveryResult))
	s.mux.HandleFunc("GET /v1/deliveries/{id}/results/{config_id}/gradescope", s.handle(s.gradescope))
	s.mux.HandleFunc("GET /v1/deliveries/{id}/results/{config_id}/prairielearn", s.handle(s.prairieLearn))

	s.mux.HandleFunc("GET /v1/extensions/{name}/configuration", s.handle(s.extensionConfiguration))

	s.mux.HandleFunc("GET /ui/{$}", s.uiHandle(s.uiHome))
	s.mux.HandleFunc("GET /ui/batches/{id}", s.uiHandle(s.uiBatch))
	s.mux.HandleFunc("GET /ui/batches/{id}/progress", s.uiHandle(s.uiBatchProgress))
	s.mux.HandleFunc("GET /ui/batches/{id}/deliveries", s.uiHandle(s.uiBatchDeliveries))
	s.mux.HandleFunc("GET /ui/deliveries/{id}/results/{config_id}", s.uiHandle(s.uiDelivery))
	s.mux.Handle("GET /ui/static/", uiStatic())

	if h != nil {
		h.Routes(s.mux)
	}
}

// dispatch applies the route's authorization rule (see rules), serves
// matched routes through the mux, auditing the mutating ones, and answers
// everything else in JSON: the mux alone would reply 404 and 405 in plain
// text.
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request) {
	_, pattern := s.mux.Handler(r)
	// The span is named after the route before the request is copied
	// with its principal (the mux sets it only on its own copy).
	r.Pattern = pattern
	rl, known := rules[pattern]
	if known && rl.public {
		s.mux.ServeHTTP(w, r)
		return
	}
	reqID := requestID(r)
	w.Header().Set("X-Request-ID", reqID)
	if pattern == "" && !strings.HasPrefix(r.URL.Path, "/v1/") {
		s.unmatched(w, r)
		return
	}
	asked := r
	r, err := s.authorize(r, pattern, rl, known)
	if err != nil {
		if r == nil {
			// Not authenticated: answer the request as it came.
			s.writeError(w, asked, err)
			return
		}
		if mutating(r.Method) && pattern != "" {
			g := grantOf(r.Context())
			status, _ := classify(err)
			s.audit(r.Context(), grading.AuditEntry{
				Actor: g.principal.Actor, Role: g.role, Action: cmp.Or(rl.action, pattern),
				Target: pathValue(pattern, r.URL.EscapedPath(), "id"), RequestID: reqID,
			}, status)
		}
		s.writeError(w, r, err)
		return
	}
	switch {
	case pattern == "":
		s.unmatched(w, r)
	case mutating(r.Method):
		s.serveAudited(w, r, rl, pattern, reqID)
	default:
		s.mux.ServeHTTP(w, r)
	}
}

// unmatched answers a request no route matched, in JSON (an HTML page
// under /ui/).
func (s *Server) unmatched(w http.ResponseWriter, r *http.Request) {
	// Let the mux decide between 404 and 405 (and compute Allow), then
	// rewrite its answer.
	rec := &unmatched{header: http.Header{}}
	s.mux.ServeHTTP(rec, r)
	if rec.status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", rec.header.Get("Allow"))
		msg := fmt.Sprintf("method %s is not allowed on %s (allowed: %s)", r.Method, r.URL.Path, rec.header.Get("Allow"))
		if isUIPage(r) {
			s.writeUIError(w, http.StatusMethodNotAllowed, msg)
			return
		}
		_ = writeJSON(w, http.StatusMethodNotAllowed, errorBody{Error: msg})
		return
	}
	msg := fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path)
	if isUIPage(r) {
		s.writeUIError(w, http.StatusNotFound, "no page at "+r.URL.Path)
		return
	}
	_ = writeJSON(w, http.StatusNotFound, errorBody{Error: msg})
}

// unmatched records the mux's own answer to a request no route matched.
type unmatched struct {
	header http.Header
	status int
}

func (u *unmatched) Header() http.Header         { return u.header }
func (u *unmatched) Write(b []byte) (int, error) { return len(b), nil }
func (u *unmatched) WriteHeader(status int)      { u.status = status }

// handle adapts an error-returning handler: a returned error is answered
// by writeError, the one place that maps errors to status codes.
func (s *Server) handle(fn func(http.ResponseWriter, *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			s.writeError(w, r, err)
		}
	}
}

// Start listens on Config.Addr before returning, so a taken port fails the
// caller's start-up, then serves in the background until Stop.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return errors.New("start api server: already started")
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen api: %w", err)
	}
	if s.adminKey != "" {
		k, err := s.store.EnsureAPIKey(ctx, grading.APIKey{
			Name: "local admin", Hash: auth.HashKey(s.adminKey), Role: grading.RoleAdmin, CreatedBy: "ZINC_ADMIN_KEY",
		})
		if err != nil {
			_ = ln.Close()
			return fmt.Errorf("create admin key: %w", err)
		}
		// A revocation stands across restarts; say so rather than leave the
		// operator with a key that answers 401.
		if !k.Usable(time.Now()) {
			s.log.WarnContext(ctx, "ZINC_ADMIN_KEY is revoked or expired and authenticates nothing; set a new one (apphost: remove admin.key from its data directory)",
				slog.String("key_id", k.ID))
		}
	}
	s.ln = ln
	s.srv = &http.Server{
		Handler:           s.handler,
		ReadTimeout:       s.cfg.ReadTimeout,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.srv.RegisterOnShutdown(s.stopStreams)
	s.served = make(chan struct{})
	go s.serve(s.srv, ln, s.served)
	s.log.InfoContext(ctx, "api server started", slog.String("addr", ln.Addr().String()))
	return nil
}

func (s *Server) serve(srv *http.Server, ln net.Listener, served chan<- struct{}) {
	defer close(served)
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		s.log.Error("api server stopped", slog.Any("err", err))
	}
}

// Stop shuts the server down, letting requests in progress finish until ctx
// ends, then closes what is left. Stopping a server that was never started
// does nothing.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	srv, served := s.srv, s.served
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	if err := srv.Shutdown(ctx); err != nil {
		_ = srv.Close()
		<-served
		return fmt.Errorf("shut down api server: %w", err)
	}
	<-served
	s.log.InfoContext(ctx, "api server stopped")
	return nil
}

// Addr returns the address actually bound, or "" before Start.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}
