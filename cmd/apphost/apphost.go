package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/zinc-edu/orchestrator/internal/devstack"
	"github.com/zinc-edu/orchestrator/internal/supervise"
)

// Process names: each is a binary name, a cmd/ directory and a log prefix.
const (
	apiName        = "api"
	submissionName = "submission-worker"
	pipelineName   = "pipeline-worker"
	// temporalServiceName runs one service of a --temporal-db cluster.
	temporalServiceName = "temporal-service"
)

// Files apphost keeps in the data directory.
const (
	// processesDir holds one status file per child, <name>.json, with its
	// current pid (see supervise.WithStatusDir).
	processesDir = "processes"
	// stackEnvFile holds the variables that point a process at this stack,
	// for starting another worker by hand.
	stackEnvFile = "stack.env"
	// clusterSpecFile is what each temporal-service process reads.
	clusterSpecFile = "temporal-cluster.json"
)

// namespace is the Temporal namespace the stack uses unless
// TEMPORAL_NAMESPACE says otherwise.
const namespace = "default"

// demoInput is the demo assignment.
type demoInput struct {
	configYAML string
	deliveries []delivery
}

// contentFunc supplies the demo assignment: the grading config's YAML and the
// deliveries to grade.
type contentFunc func() (configYAML string, deliveries []delivery, err error)

// run is main without the process: it parses args, runs the stack until ctx
// ends (or right after start-up and the demo with --exit) and stops it.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runWith(ctx, args, stdout, stderr, demoContent)
}

func runWith(ctx context.Context, args []string, stdout, stderr io.Writer, content contentFunc) error {
	// apphost's logs, the servers' and every child's share stderr line by line.
	stderr = &syncWriter{w: stderr}
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	h := &host{
		cfg:     cfg,
		log:     slog.New(slog.NewTextHandler(stderr, nil)),
		quiet:   slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		stdout:  stdout,
		stderr:  stderr,
		content: content,
	}
	err = h.run(ctx)
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		// Interrupted while starting: stopping was what the user asked for.
		return nil
	}
	return err
}

// host runs one stack.
type host struct {
	cfg     config
	log     *slog.Logger
	quiet   *slog.Logger // for the embedded servers: warnings and errors only
	stdout  io.Writer
	stderr  io.Writer
	content contentFunc

	temporal *devstack.Temporal
	nats     *devstack.NATS // nil with --nats-url
	natsURL  string
	// cluster runs the Temporal services with --temporal-db; group runs
	// ZINC's processes, which stop first.
	cluster *supervise.Group
	group   *supervise.Group
}

// plan is what apphost decided before starting anything.
type plan struct {
	dataDir  string
	binDir   string
	api      endpoint
	temporal endpoint
	ui       endpoint
	demo     demoInput
	// adminKey is the local admin API key, kept in the data directory.
	adminKey string
}

func (h *host) run(ctx context.Context) (err error) {
	p, err := h.prepare(ctx)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, h.stop(ctx)) }()
	if err := h.start(ctx, p); err != nil {
		return err
	}
	fmt.Fprintf(h.stdout, "API: http://%s\n", p.api)
	fmt.Fprintf(h.stdout, "Temporal: %s\n", h.temporal.Address())
	fmt.Fprintf(h.stdout, "Temporal UI: http://%s\n", h.temporal.UIAddress())
	fmt.Fprintf(h.stdout, "NATS: %s\n", h.natsURL)
	fmt.Fprintf(h.stdout, "Token: %s\n", p.adminKey)
	fmt.Fprintf(h.stdout, "Processes: %s\n", filepath.Join(p.dataDir, processesDir))

	if h.cfg.demo {
		err := h.runDemo(ctx, "http://"+p.api.String(), p.adminKey, p.demo)
		if h.cfg.exit {
			return err
		}
		if err != nil {
			// The stack is still useful without the demo; keep it running.
			h.log.ErrorContext(ctx, "demo failed", "err", err)
		}
	}
	if h.cfg.exit {
		return nil
	}
	select {
	case <-ctx.Done():
		h.log.InfoContext(ctx, "shutting down")
		return nil
	case <-h.group.Exited():
		return fmt.Errorf("run stack: %w", h.group.Cause())
	case <-h.clusterExited():
		return fmt.Errorf("run temporal cluster: %w", h.cluster.Cause())
	}
}

// clusterExited is closed when the Temporal cluster gave up; nil (never
// ready) without one.
func (h *host) clusterExited() <-chan struct{} {
	if h.cluster == nil {
		return nil
	}
	return h.cluster.Exited()
}

// prepare does everything that needs no server: demo content, the data
// directory, the binaries and the addresses.
func (h *host) prepare(ctx context.Context) (plan, error) {
	var p plan
	var err error
	if h.cfg.demo {
		// Before anything starts: a build without demo content fails at once.
		if p.demo.configYAML, p.demo.deliveries, err = h.content(); err != nil {
			return plan{}, err
		}
	}
	if p.dataDir, err = filepath.Abs(h.cfg.dataDir); err != nil {
		return plan{}, fmt.Errorf("resolve data dir: %w", err)
	}
	if err := privateDir(p.dataDir); err != nil {
		return plan{}, fmt.Errorf("create data dir: %w", err)
	}
	if p.adminKey, err = localAdminKey(p.dataDir); err != nil {
		return plan{}, err
	}
	// Build first: it can take minutes, and ports are best picked just before use.
	if p.binDir, err = h.binaries(ctx, p.dataDir); err != nil {
		return plan{}, err
	}
	if p.api, err = h.resolve(ctx, "api-addr", h.cfg.apiAddr, false); err != nil {
		return plan{}, err
	}
	if p.temporal, err = h.resolve(ctx, "temporal-addr", h.cfg.temporalAddr, true); err != nil {
		return plan{}, err
	}
	if p.ui, err = h.resolve(ctx, "ui-addr", h.cfg.uiAddr, true); err != nil {
		return plan{}, err
	}
	return p, nil
}

// resolve is config.resolve, telling the user when a default port moved.
func (h *host) resolve(ctx context.Context, name, value string, needIP bool) (endpoint, error) {
	e, err := h.cfg.resolve(name, value, needIP)
	if err == nil && !h.cfg.set[name] && e.String() != value {
		h.log.InfoContext(ctx, "default port taken, using a free one", "flag", name, "addr", e.String())
	}
	return e, err
}

// start brings the servers up, then the processes, and returns once all of
// them are ready.
func (h *host) start(ctx context.Context, p plan) error {
	ctx, cancel := context.WithTimeout(ctx, h.cfg.readyTimeout)
	defer cancel()
	ns := envOr("TEMPORAL_NAMESPACE", namespace)
	var err error
	if h.cfg.temporalDB != "" {
		err = h.startCluster(ctx, p, ns)
	} else {
		h.log.InfoContext(ctx, "starting temporal", "address", p.temporal.String(), "ui", p.ui.String())
		h.temporal, err = devstack.StartTemporal(ctx, devstack.TemporalOptions{
			IP:           p.temporal.host,
			Port:         p.temporal.port,
			UIIP:         p.ui.host,
			UIPort:       p.ui.port,
			DatabaseFile: filepath.Join(p.dataDir, "temporal.db"),
			Namespaces:   []string{ns},
			Logger:       h.quiet.With("component", "temporal"),
			// Staff signed in to the API see decoded payloads in the UI.
			CodecEndpoint: "http://" + p.api.String() + "/v1/codec",
		})
	}
	if err != nil {
		return err
	}
	h.natsURL = h.cfg.natsURL
	if h.natsURL == "" {
		h.nats, err = devstack.StartNATS(ctx, devstack.NATSOptions{
			StoreDir: filepath.Join(p.dataDir, "nats"),
			Logger:   h.quiet.With("component", "nats"),
		})
		if err != nil {
			return err
		}
		h.natsURL = h.nats.URL()
	}
	stackEnv, err := h.stackEnv(p.dataDir, ns)
	if err != nil {
		return err
	}
	// The UI's origin may call the API's codec endpoint from the browser.
	stackEnv = append(stackEnv, "ZINC_API_CODEC_ORIGINS=http://"+h.temporal.UIAddress())
	if err := writeEnvFile(filepath.Join(p.dataDir, stackEnvFile), stackEnv); err != nil {
		return err
	}
	h.group = supervise.New(h.stderr, h.log, supervise.WithStatusDir(filepath.Join(p.dataDir, processesDir)))
	return h.launch(ctx, p.binDir, append(os.Environ(), stackEnv...), p.api, p.adminKey)
}

// restartPolicy is how apphost restarts a process that exits on its own.
func (h *host) restartPolicy() supervise.RestartPolicy {
	return supervise.RestartPolicy{InitialBackoff: h.cfg.restartBackoff, MaxRestarts: h.cfg.restartLimit, Window: time.Minute}
}

// child is a started process and its health server's address.
type child struct {
	proc   *supervise.Child
	health string
}

// launch starts the API and waits until it is ready, so its migrations have
// run before anything else opens the store, then starts both workers and
// waits for them.
func (h *host) launch(ctx context.Context, binDir string, env []string, apiAddr endpoint, adminKey string) error {
	// The API creates the admin key in its store at start, if missing.
	api, err := h.startProcess(ctx, binDir, apiName, env, apiName, "ZINC_API_ADDR="+apiAddr.String(), "ZINC_ADMIN_KEY="+adminKey,
		"ZINC_TEMPORAL_UI_URL=http://"+h.temporal.UIAddress())
	if err != nil {
		return err
	}
	if err := api.ready(ctx, "http://"+apiAddr.String()+"/readyz"); err != nil {
		return err
	}
	var workers []child
	for _, kind := range []struct {
		name string
		n    int
	}{{submissionName, h.cfg.submissionWorkers}, {pipelineName, h.cfg.pipelineWorkers}} {
		for i := range kind.n {
			w, err := h.startProcess(ctx, binDir, kind.name, env, instanceName(kind.name, i))
			if err != nil {
				return err
			}
			workers = append(workers, w)
		}
	}
	for _, w := range workers {
		if err := w.ready(ctx); err != nil {
			return err
		}
	}
	return nil
}

// instanceName labels the i-th (from 0) process of a kind: the kind itself
// for the first, kind-2, kind-3… for the others.
func instanceName(kind string, i int) string {
	if i == 0 {
		return kind
	}
	return fmt.Sprintf("%s-%d", kind, i+1)
}

// startProcess launches binary kind, labelled name, under supervision with
// env plus its own service name and health address.
func (h *host) startProcess(ctx context.Context, binDir, kind string, env []string, name string, extra ...string) (child, error) {
	port, err := devstack.FreePort("127.0.0.1")
	if err != nil {
		return child{}, fmt.Errorf("start %s: %w", name, err)
	}
	health := endpoint{host: "127.0.0.1", port: port}.String()
	env = append(slices.Clone(env), "OTEL_SERVICE_NAME=zinc-"+kind, "ZINC_HEALTH_ADDR="+health)
	p, err := h.group.Supervise(ctx, supervise.Command{
		Name: name,
		Path: filepath.Join(binDir, kind+exeSuffix()),
		Env:  append(env, extra...),
	}, h.restartPolicy())
	if err != nil {
		return child{}, err
	}
	return child{proc: p, health: health}, nil
}

// ready waits for the child's health server, then for every extra URL.
func (c child) ready(ctx context.Context, urls ...string) error {
	for _, u := range append([]string{"http://" + c.health + "/readyz"}, urls...) {
		if err := c.proc.WaitHTTP(ctx, u); err != nil {
			return err
		}
	}
	return nil
}

// stackEnv is what every child gets on top of our environment (so OTEL_*
// and the like pass through): the stack's addresses. It is also what
// <data-dir>/stack.env holds for a worker started by hand.
func (h *host) stackEnv(dataDir, ns string) ([]string, error) {
	codecKeys, err := localCodecKeys(dataDir)
	if err != nil {
		return nil, err
	}
	blobURL := os.Getenv("BLOB_URL")
	if blobURL == "" {
		dir := filepath.Join(dataDir, "blobs")
		if err := privateDir(dir); err != nil {
			return nil, fmt.Errorf("create blob dir: %w", err)
		}
		blobURL = (&url.URL{Scheme: "file", Path: filepath.ToSlash(dir)}).String()
	}
	databaseURL := os.Getenv("DATABASE_URL")
	if databaseURL == "" {
		databaseURL = (&url.URL{Scheme: "sqlite", Path: filepath.ToSlash(filepath.Join(dataDir, "zinc.db"))}).String()
	}
	return append([]string(nil),
		"TEMPORAL_ADDRESS="+h.temporal.Address(),
		"TEMPORAL_NAMESPACE="+ns,
		// Set but empty is meaningful (bare queue names), so only unset defaults.
		"ZINC_TASK_QUEUE_PREFIX="+lookupEnvOr("ZINC_TASK_QUEUE_PREFIX", "zinc"),
		"NATS_URL="+h.natsURL,
		// Every client and worker encrypts payloads with the same keys.
		"ZINC_CODEC_KEY_FILE="+codecKeys,
		"DATABASE_URL="+databaseURL,
		"BLOB_URL="+blobURL,
		// The merged output is read by a person; JSON stays one variable away.
		"LOG_FORMAT="+envOr("LOG_FORMAT", "text"),
	), nil
}

// binaries returns the directory holding the three service binaries: --bin-dir
// when given, otherwise <dataDir>/bin after building them there from the
// module that contains the working directory.
func (h *host) binaries(ctx context.Context, dataDir string) (string, error) {
	names := []string{apiName, submissionName, pipelineName}
	if h.cfg.temporalDB != "" {
		names = append(names, temporalServiceName)
	}
	if h.cfg.binDir != "" {
		dir, err := filepath.Abs(h.cfg.binDir)
		if err != nil {
			return "", fmt.Errorf("resolve bin dir: %w", err)
		}
		for _, name := range names {
			if _, err := os.Stat(filepath.Join(dir, name+exeSuffix())); err != nil {
				return "", fmt.Errorf("check binaries: %w", err)
			}
		}
		return dir, nil
	}
	root, err := moduleRoot(ctx)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(dataDir, "bin")
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	for _, name := range names {
		args = append(args, "./cmd/"+name)
	}
	h.log.InfoContext(ctx, "building services", "module", root, "out", dir)
	build := exec.CommandContext(ctx, "go", args...)
	build.Dir = root
	build.Stdout, build.Stderr = h.stderr, h.stderr
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("build services: %w", err)
	}
	return dir, nil
}

// moduleRoot asks the go command for the directory of the enclosing module.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("locate module: go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("locate module: not inside the ZINC module; run from the repository or pass --bin-dir")
	}
	return filepath.Dir(gomod), nil
}

// stop stops the processes, then NATS, then Temporal: the reverse of start.
func (h *host) stop(ctx context.Context) error {
	// ctx may be cancelled already (that is usually why we stop); the grace
	// period still applies.
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.cfg.stopTimeout)
	defer cancel()
	var errs []error
	if h.group != nil {
		errs = append(errs, h.group.Stop(stopCtx))
	}
	if h.nats != nil {
		errs = append(errs, h.nats.Stop())
	}
	if h.temporal != nil {
		errs = append(errs, h.temporal.Stop())
	}
	if h.cluster != nil {
		errs = append(errs, h.cluster.Stop(stopCtx))
	}
	h.log.InfoContext(stopCtx, "stopped")
	return errors.Join(errs...)
}

// runDemo grades the demo assignment through the API, giving up early when
// a process of the stack dies.
func (h *host) runDemo(ctx context.Context, apiURL, token string, in demoInput) error {
	ctx, cancel := context.WithCancelCause(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		select {
		case <-h.group.Exited():
			cancel(h.group.Cause())
		case <-h.clusterExited():
			cancel(h.cluster.Cause())
		case <-ctx.Done():
		}
	}()
	defer func() {
		cancel(nil)
		<-watched
	}()
	tctx, stop := context.WithTimeout(ctx, h.cfg.demoTimeout)
	defer stop()
	d := &demoClient{base: apiURL, token: token, http: newHTTPClient(), out: h.stdout}
	if err := d.run(tctx, in.configYAML, in.deliveries); err != nil {
		if tctx.Err() != nil {
			return fmt.Errorf("run demo: %w", context.Cause(tctx))
		}
		return err
	}
	return nil
}

func envOr(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}

func lookupEnvOr(key, fallback string) string {
	if v, ok := os.LookupEnv(key); ok {
		return v
	}
	return fallback
}

func exeSuffix() string {
	if runtime.GOOS == "windows" {
		return ".exe"
	}
	return ""
}

// syncWriter serialises writes from apphost's logger, the servers' loggers
// and the children's output, which all share stderr.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// privateDir creates dir readable by its owner only (0700), tightening it if
// it exists: the data directory holds deliveries, hidden tests and the
// database.
func privateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return os.Chmod(dir, 0o700)
}
