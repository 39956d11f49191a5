// Command temporal-service runs one service (frontend, history, matching or
// worker) of a Temporal cluster on PostgreSQL, from a cluster spec written by
// apphost (<data-dir>/temporal-cluster.json), until SIGINT or SIGTERM:
//
//	temporal-service --spec .zinc/temporal-cluster.json --service history
//
// apphost --temporal-db starts one per service and restarts them when they
// exit; the schema must already be set up (apphost does it).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/zinc-edu/orchestrator/internal/devstack"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(os.Stderr, "temporal-service: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("temporal-service", flag.ContinueOnError)
	fs.SetOutput(stderr)
	spec := fs.String("spec", "", "cluster spec file written by apphost --temporal-db")
	service := fs.String("service", "", fmt.Sprintf("service to run, one of %v", devstack.ClusterServices))
	var level slog.Level
	fs.TextVar(&level, "log-level", slog.LevelWarn, "least severe server log record written to stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *spec == "" || *service == "" {
		return errors.New("parse flags: --spec and --service are required")
	}
	s, err := devstack.ReadClusterSpec(*spec)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: min(level, slog.LevelInfo)}))
	return devstack.RunClusterService(ctx, s, *service, logger, level)
}
