package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/zinc-edu/orchestrator/internal/devstack"
	"github.com/zinc-edu/orchestrator/internal/supervise"
)

// startCluster sets up the --temporal-db schema, starts one temporal-service
// process per Temporal service, each named temporal-<service> and restarted
// when it exits, then registers the namespace and serves the Web UI against
// the frontend.
func (h *host) startCluster(ctx context.Context, p plan, ns string) error {
	h.log.InfoContext(ctx, "setting up temporal schema on postgresql")
	if err := devstack.SetupPostgres(ctx, h.cfg.temporalDB); err != nil {
		return err
	}
	spec, err := devstack.NewClusterSpec(h.cfg.temporalDB, p.temporal.host, p.temporal.port, int32(h.cfg.historyShards))
	if err != nil {
		return err
	}
	specFile := filepath.Join(p.dataDir, clusterSpecFile)
	if err := devstack.WriteClusterSpec(specFile, spec); err != nil {
		return err
	}
	h.log.InfoContext(ctx, "starting temporal cluster", "address", spec.FrontendAddress(), "history_shards", h.cfg.historyShards, "spec", specFile)
	h.cluster = supervise.New(h.stderr, h.log, supervise.WithStatusDir(filepath.Join(p.dataDir, processesDir)))
	start := func(service string) (*supervise.Child, error) {
		return h.cluster.Supervise(ctx, supervise.Command{
			Name: "temporal-" + service,
			Path: filepath.Join(p.binDir, temporalServiceName+exeSuffix()),
			Args: []string{"--spec", specFile, "--service", service},
		}, h.restartPolicy())
	}
	// The frontend first: every service writes the cluster's metadata on
	// start-up unless it exists, and concurrent first writers would collide.
	frontend, err := start(devstack.ClusterServices[0])
	if err != nil {
		return err
	}
	if err := waitListening(ctx, frontend, spec.FrontendAddress()); err != nil {
		return err
	}
	for _, service := range devstack.ClusterServices[1:] {
		if _, err := start(service); err != nil {
			return err
		}
	}
	h.temporal, err = devstack.ConnectTemporal(ctx, devstack.ConnectOptions{
		Address: spec.FrontendAddress(), Namespaces: []string{ns}, UIIP: p.ui.host, UIPort: p.ui.port,
		CodecEndpoint: "http://" + p.api.String() + "/v1/codec",
	})
	return err
}

// waitListening returns once addr accepts TCP connections, or fails when c
// will not run again or ctx ends.
func waitListening(ctx context.Context, c *supervise.Child, addr string) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var d net.Dialer
	for {
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			_ = conn.Close()
			return nil
		}
		select {
		case <-c.Gone():
			return fmt.Errorf("wait for %s: %w", c.Name(), supervise.ErrExited)
		case <-ctx.Done():
			return fmt.Errorf("wait for %s on %s: %w (last attempt: %w)", c.Name(), addr, context.Cause(ctx), err)
		case <-tick.C:
		}
	}
}

// writeEnvFile writes env (KEY=value entries) as a file that both a POSIX
// shell (set -a; . file) and systemd's EnvironmentFile read: one
// single-quoted assignment per line. It may hold passwords, so only its
// owner can read it.
func writeEnvFile(path string, env []string) error {
	var b strings.Builder
	b.WriteString("# The variables that point a ZINC process at this apphost stack.\n")
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		fmt.Fprintf(&b, "%s='%s'\n", k, strings.ReplaceAll(v, "'", `'\''`))
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return nil
}
