// Command histories records the event histories of BatchGradingWorkflow
// that the replay test in package workflows replays, so a change that
// breaks determinism fails CI. It runs a few batches on an embedded server
// with a no-op pipeline and writes one JSON file per run:
//
//	go run ./cmd/histories -tag v1
//
// Histories of older workflow versions are kept as they were recorded;
// record the current version under a new tag after each versioned change.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/zinc-edu/orchestrator/internal/harness"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "histories:", err)
		os.Exit(1)
	}
}

func run() error {
	out := flag.String("out", "workflows/testdata/histories", "directory to write histories to")
	tag := flag.String("tag", "", "workflow version tag in the file names, such as v1 (required)")
	flag.Parse()
	if *tag == "" {
		return fmt.Errorf("-tag is required")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	dir, cleanup, err := harness.TempDir("zinc-histories-")
	if err != nil {
		return err
	}
	defer func() { _ = cleanup() }()
	st, err := harness.Start(ctx, harness.Options{
		Dir:    dir,
		Engine: &harness.NoopEngine{},
		// An early suggestion gives the continue-as-new scenario several runs.
		DynamicConfig: map[string]any{"limit.historyCount.suggestContinueAsNew": 100},
	})
	if err != nil {
		return err
	}
	defer func() { _ = st.Stop() }()

	files, err := harness.RecordHistories(ctx, st, *out, *tag)
	if err != nil {
		return err
	}
	for _, f := range files {
		fmt.Println(f)
	}
	return nil
}
