// Command bench measures batch grading through Temporal against a plain
// in-process worker pool, on one in-process stack (embedded Temporal and
// NATS, SQLite or PostgreSQL store, file bucket), and writes the figures
// into the generated section of a Markdown file:
//
//	go run ./cmd/bench -out BENCHMARKS.md
//	go run ./cmd/bench -quick
//
// With -course it instead grades a course-like assignment (compile + N
// stdio tests from files, a regex rule) over M deliveries, through the real
// stack and with a direct os/exec pool, and prints the ratio:
//
//	go run ./cmd/bench -course -course-n 32 -course-tests 16
//
// With -scale-out it instead runs the apphost binary (from -bin-dir) with the
// embedded dev server and with the Temporal cluster on PostgreSQL at each
// -workers count, grades a trivial and a realistic batch on each through the
// HTTP API, and prints the scale-out table:
//
//	go run ./cmd/bench -scale-out -bin-dir /tmp/zinc-bin -workers 1,2,4
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/zinc-edu/orchestrator/internal/bench"
	"github.com/zinc-edu/orchestrator/internal/servicedefaults"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		ns          = flag.String("n", "2000,10000", "no-op batch sizes, comma-separated")
		chunks      = flag.String("chunk", "1,50", "deliveries per activity of the Temporal batches, comma-separated")
		concurrency = flag.Int("concurrency", 100, "pool goroutines and workflow window")
		realisticN  = flag.Int("realistic-n", 40, "deliveries of the realistic batch; 0 skips it")
		rounds      = flag.Int("realistic-rounds", 2, "runs of the realistic batch on each side, alternating which goes first")
		out         = flag.String("out", "bench/report.md", "Markdown file whose bench section is (re)written")
		profileDir  = flag.String("profile-dir", "bench", "directory of the CPU profiles of the no-op phases; empty for none")
		dbURL       = flag.String("database-url", "", "store URL; empty means a temporary SQLite file")
		quick       = flag.Bool("quick", false, "smoke run: N=200, at most 4 realistic deliveries")
		verbose     = flag.Bool("v", false, "show the stack's own warnings (server, SDK, workers)")
		scaleOut    = flag.Bool("scale-out", false, "run the scale-out table instead (apphost binaries, dev server vs PostgreSQL cluster)")
		binDir      = flag.String("bin-dir", "", "with -scale-out: directory of apphost, api, submission-worker, pipeline-worker, temporal-service")
		workers     = flag.String("workers", "1,2,4", "with -scale-out: pipeline-worker counts on the cluster")
		trivialN    = flag.Int("trivial-n", 200, "with -scale-out: deliveries of the trivial batch")
		scaleChunk  = flag.Int("scale-out-chunk", 1, "with -scale-out: the batches' chunk_size (deliveries per activity)")
		course      = flag.Bool("course", false, "run the course comparison instead (orchestrator vs a direct os/exec pool)")
		courseN     = flag.Int("course-n", 32, "with -course: deliveries (M)")
		courseTests = flag.Int("course-tests", 16, "with -course: stdio tests per delivery (N)")
		courseConc  = flag.Int("course-concurrency", 4, "with -course: direct pool goroutines and batch window")
	)
	flag.Parse()
	if *scaleOut {
		return runScaleOut(*binDir, *dbURL, *workers, bench.ScaleOutConfig{
			TrivialN: *trivialN, RealisticN: *realisticN, Concurrency: *concurrency, ChunkSize: *scaleChunk,
		})
	}
	if *course {
		return runCourse(bench.CourseConfig{
			Deliveries: *courseN, Tests: *courseTests, Concurrency: *courseConc, DatabaseURL: *dbURL,
		}, *verbose)
	}

	cfg := bench.Config{
		Concurrency: *concurrency, RealisticN: *realisticN, RealisticRounds: *rounds,
		ProfileDir: *profileDir, DatabaseURL: *dbURL,
	}
	var err error
	if cfg.Ns, err = bench.ParseInts(*ns); err != nil {
		return fmt.Errorf("flag -n: %w", err)
	}
	if cfg.Chunks, err = bench.ParseInts(*chunks); err != nil {
		return fmt.Errorf("flag -chunk: %w", err)
	}
	if *quick {
		cfg = cfg.Quick()
	}
	log := servicedefaults.NewLogger(os.Stderr, slog.LevelInfo, servicedefaults.FormatText)
	if *verbose {
		cfg.StackLogger = servicedefaults.NewLogger(os.Stderr, slog.LevelWarn, servicedefaults.FormatText)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := bench.Run(ctx, cfg, log)
	if err != nil {
		return err
	}
	section := rep.Markdown()
	fmt.Print(section)
	return bench.WriteSection(*out, section)
}

func runScaleOut(binDir, dbURL, workers string, cfg bench.ScaleOutConfig) error {
	if dbURL == "" {
		dbURL = os.Getenv("DATABASE_URL")
	}
	cfg.BinDir, cfg.PostgresURL = binDir, dbURL
	var err error
	if cfg.Workers, err = bench.ParseInts(workers); err != nil {
		return fmt.Errorf("flag -workers: %w", err)
	}
	if binDir == "" || dbURL == "" {
		return fmt.Errorf("-scale-out needs -bin-dir and -database-url (or DATABASE_URL) naming a PostgreSQL server")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := servicedefaults.NewLogger(os.Stderr, slog.LevelInfo, servicedefaults.FormatText)
	rows, err := bench.ScaleOut(ctx, cfg, log)
	fmt.Print(bench.ScaleOutMarkdown(rows))
	return err
}

func runCourse(cfg bench.CourseConfig, verbose bool) error {
	log := servicedefaults.NewLogger(os.Stderr, slog.LevelInfo, servicedefaults.FormatText)
	if verbose {
		cfg.StackLogger = servicedefaults.NewLogger(os.Stderr, slog.LevelWarn, servicedefaults.FormatText)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := bench.Course(ctx, cfg, log)
	if err != nil {
		return err
	}
	fmt.Print(rep.Markdown())
	return nil
}
