package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/zinc-edu/orchestrator/internal/devstack"
)

// Documented default addresses; each moves to a free port when taken, unless
// its flag was given.
const (
	defaultAPIAddr      = "127.0.0.1:8080"
	defaultTemporalAddr = "127.0.0.1:7233"
	defaultUIAddr       = "127.0.0.1:8233"
)

// config is apphost's command line.
type config struct {
	apiAddr      string
	temporalAddr string
	uiAddr       string
	dataDir      string
	binDir       string
	natsURL      string
	demo         bool
	exit         bool
	readyTimeout time.Duration
	stopTimeout  time.Duration
	demoTimeout  time.Duration
	// temporalDB switches from the embedded dev server to a Temporal
	// cluster on PostgreSQL, one process per service.
	temporalDB        string
	historyShards     int
	pipelineWorkers   int
	submissionWorkers int
	restartLimit      int
	restartBackoff    time.Duration
	// set holds the names of flags given on the command line.
	set map[string]bool
}

func parseFlags(args []string, output io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("apphost", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.StringVar(&c.apiAddr, "api-addr", defaultAPIAddr, "API listen address; port 0 picks a free one (default falls back to a free port when taken)")
	fs.StringVar(&c.temporalAddr, "temporal-addr", defaultTemporalAddr, "Temporal frontend gRPC address, IP:PORT (default falls back to a free port when taken)")
	fs.StringVar(&c.uiAddr, "ui-addr", defaultUIAddr, "Temporal Web UI address, IP:PORT (default falls back to a free port when taken)")
	fs.StringVar(&c.dataDir, "data-dir", ".zinc", "directory for Temporal's and ZINC's SQLite files, blobs, NATS data and built binaries")
	fs.StringVar(&c.natsURL, "nats-url", "", "use this NATS server (with JetStream), nats://HOST:PORT, instead of starting an embedded one")
	fs.StringVar(&c.binDir, "bin-dir", "", "directory with prebuilt api, submission-worker and pipeline-worker binaries; empty builds them into <data-dir>/bin")
	fs.BoolVar(&c.demo, "demo", false, "seed a demo collection and grading config through the API, grade a batch and print the results")
	fs.BoolVar(&c.exit, "exit", false, "stop after start-up (and the demo): exit status 0 only if everything, the demo batch included, completed")
	fs.DurationVar(&c.readyTimeout, "ready-timeout", 2*time.Minute, "how long servers and processes may take to become ready")
	fs.DurationVar(&c.stopTimeout, "stop-timeout", 10*time.Second, "how long processes may take to exit after SIGTERM before SIGKILL")
	fs.DurationVar(&c.demoTimeout, "demo-timeout", 5*time.Minute, "how long the demo batch may take")
	fs.StringVar(&c.temporalDB, "temporal-db", "", "postgres://… URL: run Temporal as a cluster on PostgreSQL (persistence in that database, visibility in <name>_visibility, created and migrated when needed), one process per service, instead of the embedded SQLite dev server")
	fs.IntVar(&c.historyShards, "history-shards", 4, "history shards of the --temporal-db cluster; fixed when its database is first used")
	fs.IntVar(&c.pipelineWorkers, "pipeline-workers", 1, "pipeline-worker processes to run, each with its own health endpoint")
	fs.IntVar(&c.submissionWorkers, "submission-workers", 1, "submission-worker processes to run, each with its own health endpoint")
	fs.IntVar(&c.restartLimit, "restart-limit", 5, "restarts a crashing process may have per minute before apphost stops everything")
	fs.DurationVar(&c.restartBackoff, "restart-backoff", 250*time.Millisecond, "wait before restarting a process that exited; doubles per restart within a minute, up to 15s")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("parse flags: unexpected arguments %q", fs.Args())
	}
	if c.natsURL != "" {
		if err := checkNATSURL(c.natsURL); err != nil {
			return config{}, err
		}
	}
	if err := c.validate(); err != nil {
		return config{}, err
	}
	c.set = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { c.set[f.Name] = true })
	return c, nil
}

func (c config) validate() error {
	var errs []error
	for name, n := range map[string]int{
		"history-shards": c.historyShards, "pipeline-workers": c.pipelineWorkers,
		"submission-workers": c.submissionWorkers, "restart-limit": c.restartLimit,
	} {
		if n < 1 {
			errs = append(errs, fmt.Errorf("--%s %d: want at least 1", name, n))
		}
	}
	if c.restartBackoff <= 0 {
		errs = append(errs, fmt.Errorf("--restart-backoff %s: want more than 0", c.restartBackoff))
	}
	if c.temporalDB != "" {
		if _, err := devstack.ParsePostgresURL(c.temporalDB); err != nil {
			errs = append(errs, fmt.Errorf("--temporal-db: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("parse flags: %w", err)
	}
	return nil
}

// endpoint is a resolved listen address.
type endpoint struct {
	host string
	port int
}

func (e endpoint) String() string { return net.JoinHostPort(e.host, strconv.Itoa(e.port)) }

// resolve turns the value of flag name into an endpoint: exactly the given
// address when the flag was set (port 0 meaning a free port), otherwise the
// default, moved to a free port when something already listens there.
// needIP is for servers that bind an IP, not a host name.
func (c config) resolve(name, value string, needIP bool) (endpoint, error) {
	host, p, err := net.SplitHostPort(value)
	if err != nil {
		return endpoint{}, fmt.Errorf("parse --%s: %w", name, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return endpoint{}, fmt.Errorf("parse --%s: invalid port %q", name, p)
	}
	if host == "" || (needIP && net.ParseIP(host) == nil) {
		return endpoint{}, fmt.Errorf("parse --%s: want IP:PORT, got %q", name, value)
	}
	free, err := devstack.PreferPort(host, port)
	if err != nil {
		return endpoint{}, fmt.Errorf("resolve --%s: %w", name, err)
	}
	if c.set[name] && port != 0 && free != port {
		return endpoint{}, portTakenError(name, host, port)
	}
	return endpoint{host: host, port: free}, nil
}

// portTakenError says that an explicitly given port is taken, by whom when
// /proc tells, and how to get a free one instead.
func portTakenError(flag, host string, port int) error {
	holder := ""
	if h := devstack.PortHolder(port); h != "" {
		holder = " by " + h
	}
	return fmt.Errorf("--%s: port %d on %s is already in use%s; omit --%s to let the apphost pick a free port",
		flag, port, host, holder, flag)
}

// checkNATSURL accepts nats:// and tls:// URLs with a host and a port.
func checkNATSURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("parse --nats-url: %w", err)
	}
	if u.Scheme != "nats" && u.Scheme != "tls" {
		return fmt.Errorf("parse --nats-url: scheme %q: want nats:// or tls://", u.Scheme)
	}
	if u.Hostname() == "" || u.Port() == "" {
		return fmt.Errorf("parse --nats-url %q: want nats://HOST:PORT", u.Redacted())
	}
	return nil
}
