// Command uploadapi is the API process TestParallelUploadsStayWithinMemoryBound
// measures: ZINC's API over a SQLite store and a file bucket in the
// directory given as its argument, with nothing else linked in, so its
// resident memory is the API's. It prints "<addr> <admin key>" and serves
// until its stdin closes.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"go.opentelemetry.io/otel/propagation"
	"gocloud.dev/blob/fileblob"

	"github.com/zinc-edu/orchestrator/internal/api"
	"github.com/zinc-edu/orchestrator/internal/archive"
	"github.com/zinc-edu/orchestrator/internal/auth"
	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/outbox"
	"github.com/zinc-edu/orchestrator/internal/store"
	"github.com/zinc-edu/orchestrator/internal/temporal"
)

// The delivery the test sends: four 16 MiB files.
const (
	files     = 4
	fileBytes = 16 << 20
	uploads   = 8
)

// noBatches stands in for the batch service, which uploads never use.
type noBatches struct{ api.Batches }

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: uploadapi <dir>")
		os.Exit(2)
	}
	if err := run(context.Background(), os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "uploadapi:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, dir string) error {
	log := slog.New(slog.DiscardHandler)
	s, err := store.Open(ctx, "sqlite://"+filepath.ToSlash(filepath.Join(dir, "zinc.db")), log)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		return err
	}
	key, hash, err := auth.NewKey()
	if err != nil {
		return err
	}
	if _, err := s.CreateAPIKey(ctx, grading.APIKey{Name: "admin", Hash: hash, Role: grading.RoleAdmin}); err != nil {
		return err
	}
	bucket, err := fileblob.OpenBucket(filepath.Join(dir, "blobs"), &fileblob.Options{CreateDir: true})
	if err != nil {
		return err
	}
	defer bucket.Close()
	srv, err := api.NewServer(api.Params{
		Config: api.Config{
			Addr: "127.0.0.1:0",
			// A 64 MiB delivery plus its multipart framing.
			MaxUploadBytes: files*fileBytes + 1<<20,
			UploadsPerKey:  uploads,
		},
		Store:    s,
		Batches:  noBatches{},
		Bucket:   bucket,
		Events:   outbox.NewEncoder(propagation.TraceContext{}),
		Temporal: temporal.Config{HostPort: "127.0.0.1:7233", Namespace: "zinc-test", TaskQueuePrefix: "zinc"}.Configuration(),
		Log:      log,
		Archive:  archive.Limits{MaxTotalBytes: files * fileBytes, MaxFileBytes: fileBytes},
	})
	if err != nil {
		return err
	}
	if err := srv.Start(ctx); err != nil {
		return err
	}
	fmt.Printf("%s %s\n", srv.Addr(), key)
	_, _ = io.Copy(io.Discard, os.Stdin)
	return srv.Stop(ctx)
}
