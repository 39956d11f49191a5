// Command zinc is the command line for ZINC course staff: it imports
// deliveries, starts, watches and steers grading batches, prints results
// and checks grading configs offline. See `zinc --help` and internal/cli.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/zinc-edu/orchestrator/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Execute(ctx, os.Args[1:], cli.Env{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv})
	stop()
	os.Exit(code)
}
