// Command apphost runs the whole ZINC stack on one machine with one command:
// an embedded Temporal server (state in a SQLite file under --data-dir) with
// its Web UI, an embedded NATS server with JetStream, and the api,
// submission-worker and pipeline-worker processes, configured through their
// environment. It merges their logs under a "[name] " prefix, prints one line
// per endpoint once everything is ready, and stops it all on Ctrl-C or
// SIGTERM. With --demo it grades a demo batch through the API and prints the
// results; --exit makes it stop right after.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// Everything the stack writes under the data directory (databases,
	// blobs, scratch) is its owner's alone: files 0600, directories 0700.
	// Child processes inherit the mask.
	syscall.Umask(0o077)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(os.Stderr, "apphost: %v\n", err)
		os.Exit(1)
	}
}
