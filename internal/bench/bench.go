package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/zinc-edu/orchestrator/extensions/pipeline"
	"github.com/zinc-edu/orchestrator/internal/batches"
	"github.com/zinc-edu/orchestrator/internal/engine"
	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/harness"
	"github.com/zinc-edu/orchestrator/internal/sandbox"
	"github.com/zinc-edu/orchestrator/workflows"
)

// Config says what to measure.
type Config struct {
	// Ns are the no-op batch sizes; each is measured on the pool and with
	// every chunk size.
	Ns []int
	// Chunks are the deliveries per activity of the Temporal batches.
	Chunks []int
	// Concurrency is the pool's goroutines, the workflow's window and the
	// pipeline worker's activity slots.
	Concurrency int
	// RealisticN is the size of the realistic batch; 0 skips it.
	RealisticN int
	// RealisticRounds is how many times the realistic batch runs on each
	// side, alternating which side goes first so a drifting machine load
	// favours neither; zero means 2.
	RealisticRounds int
	// ProfileDir receives a CPU profile per no-op phase; "" takes none.
	ProfileDir string
	// DatabaseURL is the store; "" means a SQLite file in a temporary
	// directory.
	DatabaseURL string
	// PhaseTimeout bounds one batch; zero means 30 minutes.
	PhaseTimeout time.Duration
	// StackLogger receives the stack's own logs (server, SDK, workers);
	// nil discards them.
	StackLogger *slog.Logger
}

// Quick shrinks c to a smoke run of a few seconds: N = 200 and at most 4
// realistic deliveries, with the same chunk sizes and concurrency.
func (c Config) Quick() Config {
	c.Ns = []int{200}
	c.RealisticN = min(c.RealisticN, 4)
	return c
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if len(c.Ns) == 0 && c.RealisticN == 0 {
		errs = append(errs, errors.New("nothing to measure: no N and no realistic N"))
	}
	for _, n := range c.Ns {
		if n < 1 {
			errs = append(errs, fmt.Errorf("n %d: want at least 1", n))
		}
	}
	if len(c.Ns) > 0 && len(c.Chunks) == 0 {
		errs = append(errs, errors.New("no chunk size"))
	}
	for _, ch := range c.Chunks {
		if ch < 1 || ch > workflows.MaxChunkSize {
			errs = append(errs, fmt.Errorf("chunk %d: want 1..%d", ch, workflows.MaxChunkSize))
		}
	}
	if err := workflows.CheckConcurrency(c.Concurrency); err != nil {
		errs = append(errs, err)
	}
	if c.RealisticN < 0 {
		errs = append(errs, fmt.Errorf("realistic n %d: want 0 or more", c.RealisticN))
	}
	if c.RealisticRounds < 0 {
		errs = append(errs, fmt.Errorf("realistic rounds %d: want 0 or more", c.RealisticRounds))
	}
	return errors.Join(errs...)
}

// Run starts a stack, measures every configured phase on it and stops it.
// Progress goes to log.
func Run(ctx context.Context, cfg Config, log *slog.Logger) (Report, error) {
	if err := cfg.Validate(); err != nil {
		return Report{}, fmt.Errorf("run benchmarks: %w", err)
	}
	if cfg.PhaseTimeout == 0 {
		cfg.PhaseTimeout = 30 * time.Minute
	}
	if cfg.RealisticRounds == 0 {
		cfg.RealisticRounds = 2
	}
	stackLog := cfg.StackLogger
	if stackLog == nil {
		stackLog = slog.New(slog.DiscardHandler)
	}
	rep := Report{
		Started:     time.Now(),
		Concurrency: cfg.Concurrency,
		Store:       "sqlite",
		Machine: Machine{
			CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), GoVersion: runtime.Version(),
			LoadBefore: loadAverage(),
		},
	}
	if strings.HasPrefix(cfg.DatabaseURL, "postgres") {
		rep.Store = "postgres"
	}

	r := &workloadEngine{}
	if cfg.RealisticN > 0 {
		sb, err := sandbox.New(sandbox.Config{}, stackLog)
		if err != nil {
			return Report{}, fmt.Errorf("run benchmarks: %w", err)
		}
		defer func() { _ = sb.Close() }()
		r.real = engine.New(sb, stackLog)
	}
	dir, cleanup, err := harness.TempDir("zinc-bench-")
	if err != nil {
		return Report{}, err
	}
	defer func() { _ = cleanup() }()
	log.InfoContext(ctx, "starting stack", "dir", dir)
	st, err := harness.Start(ctx, harness.Options{
		Dir: dir, DatabaseURL: cfg.DatabaseURL, Engine: r,
		PipelineConcurrency: cfg.Concurrency, Logger: stackLog,
	})
	if err != nil {
		return Report{}, fmt.Errorf("start stack: %w", err)
	}
	defer func() { _ = st.Stop() }()

	s := startSampler()
	defer s.stop()
	runtime.GC()
	rep.Idle = s.reset()
	b := &bencher{
		st: st, cfg: cfg, log: log, sampler: s,
		grader: pipeline.NewGrader(st.Store, st.Bucket, r, st.Encoder, stackLog),
	}
	if rep.Noop, err = b.noop(ctx); err != nil {
		return Report{}, err
	}
	if rep.Realistic, err = b.realistic(ctx); err != nil {
		return Report{}, err
	}
	rep.Machine.LoadAfter = loadAverage()
	rep.Took = time.Since(rep.Started)
	return rep, nil
}

// bencher runs the phases of one Run.
type bencher struct {
	st      *harness.Stack
	cfg     Config
	log     *slog.Logger
	sampler *sampler
	grader  *pipeline.Grader // the pool's own, like a separate process's
	configs int              // configs created, for unique names
}

// seeded is a collection ready to grade.
type seeded struct {
	collectionID string
	refs         []workflows.DeliveryRef
}

func (b *bencher) noop(ctx context.Context) ([]Phase, error) {
	if len(b.cfg.Ns) == 0 {
		return nil, nil
	}
	// Warm up connections, caches and the worker pollers with a small
	// batch on both sides; it is not reported.
	warm, err := b.seed(ctx, min(100, b.cfg.Ns[0]), noopDelivery)
	if err != nil {
		return nil, err
	}
	if _, err := b.pool(ctx, warm, noopConfig, ""); err != nil {
		return nil, fmt.Errorf("warm up: %w", err)
	}
	if _, _, err := b.temporal(ctx, warm, noopConfig, b.cfg.Chunks[0], ""); err != nil {
		return nil, fmt.Errorf("warm up: %w", err)
	}

	var phases []Phase
	for _, n := range b.cfg.Ns {
		col, err := b.seed(ctx, n, noopDelivery)
		if err != nil {
			return nil, err
		}
		p, err := b.pool(ctx, col, noopConfig, b.profile(n, "pool"))
		if err != nil {
			return nil, err
		}
		phases = append(phases, p.Phase)
		for _, chunk := range b.cfg.Chunks {
			p, _, err := b.temporal(ctx, col, noopConfig, chunk, b.profile(n, fmt.Sprintf("temporal-chunk%d", chunk)))
			if err != nil {
				return nil, err
			}
			phases = append(phases, p)
		}
	}
	for _, p := range phases {
		if p.Failed > 0 {
			return phases, fmt.Errorf("no-op %s with N=%d: %d deliveries failed", p.Mode(), p.N, p.Failed)
		}
	}
	return phases, nil
}

func (b *bencher) realistic(ctx context.Context) ([]Phase, error) {
	if b.cfg.RealisticN == 0 {
		return nil, nil
	}
	cfg := realisticConfig()
	// One delivery first, so the compiler's files are in the page cache for
	// both sides.
	warm, err := b.seed(ctx, 1, realisticDelivery)
	if err != nil {
		return nil, err
	}
	if _, err := b.pool(ctx, warm, cfg, ""); err != nil {
		return nil, fmt.Errorf("warm up: %w", err)
	}

	col, err := b.seed(ctx, b.cfg.RealisticN, realisticDelivery)
	if err != nil {
		return nil, err
	}
	var phases []Phase
	for round := 1; round <= b.cfg.RealisticRounds; round++ {
		ran, err := b.realisticRound(ctx, col, cfg, round%2 == 0)
		if err != nil {
			return nil, err
		}
		for i := range ran {
			ran[i].Round = round
		}
		phases = append(phases, ran...)
	}
	for _, p := range phases {
		if p.Failed > 0 {
			return phases, fmt.Errorf("realistic %s: %d deliveries not graded", p.Mode(), p.Failed)
		}
	}
	return phases, nil
}

// realisticRound grades the collection on the pool and through Temporal,
// Temporal first when temporalFirst, counts the deliveries whose Temporal
// score differs from the pool's, and returns both phases in the order they
// ran.
func (b *bencher) realisticRound(ctx context.Context, col seeded, cfg string, temporalFirst bool) ([]Phase, error) {
	var (
		pp   poolPhase
		tp   Phase
		rows []grading.Result
		err  error
	)
	for _, temporal := range []bool{temporalFirst, !temporalFirst} {
		if temporal {
			tp, rows, err = b.temporal(ctx, col, cfg, 1, "")
		} else {
			pp, err = b.pool(ctx, col, cfg, "")
		}
		if err != nil {
			return nil, err
		}
	}
	want := map[string]float64{}
	for _, o := range pp.outcomes {
		want[o.DeliveryID] = o.Score
	}
	for _, r := range rows {
		if s, ok := want[r.DeliveryID]; !ok || s != r.Score {
			tp.Mismatches++
		}
	}
	if temporalFirst {
		return []Phase{tp, pp.Phase}, nil
	}
	return []Phase{pp.Phase, tp}, nil
}

// seed creates a collection of n deliveries, a few at a time.
func (b *bencher) seed(ctx context.Context, n int, delivery func(i int) harness.Delivery) (seeded, error) {
	col, err := b.st.Store.CreateCollection(ctx, grading.Collection{Name: fmt.Sprintf("bench-%d", n)})
	if err != nil {
		return seeded{}, fmt.Errorf("seed collection: %w", err)
	}
	b.log.InfoContext(ctx, "seeding", "collection_id", col.ID, "deliveries", n)
	refs := make([]workflows.DeliveryRef, n)
	errs := make([]error, n)
	next := make(chan int)
	var wg sync.WaitGroup
	// A few writers keep the bucket busy while SQLite serialises the rows.
	for range 4 {
		wg.Go(func() {
			for i := range next {
				d := delivery(i)
				id, err := b.st.AddDelivery(ctx, col.ID, d)
				refs[i], errs[i] = workflows.DeliveryRef{ID: id, User: d.User}, err
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return seeded{}, fmt.Errorf("seed collection: %w", err)
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].User < refs[j].User })
	return seeded{collectionID: col.ID, refs: refs}, nil
}

// newConfig stores the definition under a fresh config: every phase writes
// its own result rows, as a first grading does, instead of overwriting the
// previous phase's.
func (b *bencher) newConfig(ctx context.Context, source string) (string, error) {
	b.configs++
	cfg, err := b.st.Store.CreateConfig(ctx, grading.Config{Name: fmt.Sprintf("bench-%d", b.configs), Source: source})
	if err != nil {
		return "", fmt.Errorf("create bench config: %w", err)
	}
	return cfg.ID, nil
}

// poolPhase is a pool phase with its outcomes, for comparing scores.
type poolPhase struct {
	Phase
	outcomes []grading.Outcome
}

// pool grades the collection with Concurrency goroutines calling
// Grader.Grade, under a batch row of its own like a Temporal batch.
func (b *bencher) pool(ctx context.Context, col seeded, source, profile string) (poolPhase, error) {
	configID, err := b.newConfig(ctx, source)
	if err != nil {
		return poolPhase{}, err
	}
	batch, err := b.st.Store.CreateBatch(ctx, grading.Batch{
		WorkflowID: "bench-pool:" + configID, CollectionID: col.collectionID, ConfigID: configID,
	})
	if err != nil {
		return poolPhase{}, fmt.Errorf("create pool batch: %w", err)
	}
	p := poolPhase{Phase: Phase{N: len(col.refs), Concurrency: b.cfg.Concurrency}}
	ctx, cancel := context.WithTimeout(ctx, b.cfg.PhaseTimeout)
	defer cancel()
	var firstErr error
	err = b.measure(ctx, &p.Phase, profile, func() error {
		var errs []error
		p.outcomes, errs = gradeAll(ctx, b.grader, batch.ID, configID, col.refs, b.cfg.Concurrency)
		for _, err := range errs {
			if err != nil && firstErr == nil {
				firstErr = err
			}
		}
		return ctx.Err()
	})
	if err == nil {
		err = attachBreakdown(&p.Phase)
	}
	if err != nil {
		return poolPhase{}, err
	}
	for _, o := range p.outcomes {
		if o.Status == grading.StatusGraded {
			p.Graded++
		} else {
			p.Failed++
		}
	}
	if firstErr != nil {
		b.log.WarnContext(ctx, "deliveries failed", "mode", p.Mode(), "n", p.N, "failed", p.Failed, "err", firstErr)
	}
	b.log.InfoContext(ctx, "phase done", "mode", p.Mode(), "n", p.N, "wall", p.Wall.Round(time.Millisecond),
		"per_second", int(p.Rate()))
	return p, nil
}

// gradeAll grades refs with concurrency goroutines; outcomes and errors are
// indexed like refs.
func gradeAll(ctx context.Context, g *pipeline.Grader, batchID, configID string, refs []workflows.DeliveryRef, concurrency int) ([]grading.Outcome, []error) {
	outs := make([]grading.Outcome, len(refs))
	errs := make([]error, len(refs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(concurrency, len(refs)) {
		wg.Go(func() {
			for i := range next {
				outs[i], errs[i] = g.Grade(ctx, batchID, configID, refs[i])
			}
		})
	}
feed:
	for i := range refs {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	return outs, errs
}

// temporal runs the collection as a batch through Temporal and checks that
// every delivery got exactly one result row, which it returns.
func (b *bencher) temporal(ctx context.Context, col seeded, source string, chunk int, profile string) (Phase, []grading.Result, error) {
	configID, err := b.newConfig(ctx, source)
	if err != nil {
		return Phase{}, nil, err
	}
	p := Phase{N: len(col.refs), Chunk: chunk, Concurrency: b.cfg.Concurrency}
	ctx, cancel := context.WithTimeout(ctx, b.cfg.PhaseTimeout)
	defer cancel()
	var (
		batch grading.Batch
		res   workflows.BatchGradingResult
	)
	err = b.measure(ctx, &p, profile, func() error {
		var err error
		batch, err = b.st.Batches.Start(ctx, batches.StartRequest{
			CollectionID: col.collectionID, ConfigID: configID, Concurrency: b.cfg.Concurrency, ChunkSize: chunk,
		})
		if err != nil {
			return err
		}
		res, err = b.st.Wait(ctx, batch)
		return err
	})
	if err == nil {
		err = attachBreakdown(&p)
	}
	if err != nil {
		return Phase{}, nil, fmt.Errorf("%s with N=%d: %w", p.Mode(), p.N, err)
	}
	p.Graded, p.Failed = res.Summary.Counts.Graded, res.Summary.Failed()
	if res.Status != grading.BatchCompleted || res.Summary.Total != p.N {
		return Phase{}, nil, fmt.Errorf("%s with N=%d: batch %s ended %s with %d of %d deliveries",
			p.Mode(), p.N, batch.ID, res.Status, res.Summary.Total, p.N)
	}
	rows, err := b.st.Store.BatchResults(ctx, batch.ID)
	if err != nil {
		return Phase{}, nil, err
	}
	seen := map[string]bool{}
	for _, r := range rows {
		seen[r.DeliveryID] = true
	}
	if len(rows) != p.N || len(seen) != p.N {
		return Phase{}, nil, fmt.Errorf("%s with N=%d: %d result rows for %d deliveries, want one each",
			p.Mode(), p.N, len(rows), len(seen))
	}
	h, err := historyOf(ctx, b.st.Client, batch.WorkflowID, batch.RunID)
	if err != nil {
		return Phase{}, nil, err
	}
	p.History = &h
	b.log.InfoContext(ctx, "phase done", "mode", p.Mode(), "n", p.N, "wall", p.Wall.Round(time.Millisecond),
		"per_second", int(p.Rate()), "runs", h.Runs, "max_events", h.MaxEvents)
	return p, rows, nil
}

// measure times fn and fills p's wall time, CPU time and memory, with a CPU
// profile to the file named profile when it is not empty.
func (b *bencher) measure(ctx context.Context, p *Phase, profile string, fn func() error) (err error) {
	// Leave the previous phase's garbage out of this one's peaks.
	runtime.GC()
	b.sampler.reset()
	before, err := readUsage()
	if err != nil {
		return err
	}
	if profile != "" {
		stop, err := startProfile(profile)
		if err != nil {
			return err
		}
		defer func() { err = errors.Join(err, stop()) }()
		p.Profile = profile
	}
	start := time.Now()
	if err := fn(); err != nil {
		return err
	}
	p.Wall = time.Since(start)
	after, err := readUsage()
	if err != nil {
		return err
	}
	p.CPU, p.ChildCPU = after.self-before.self, after.children-before.children
	p.MachineCPU = after.machine - before.machine
	p.Memory = b.sampler.reset()
	p.Memory.MaxRSS = after.maxRSS
	return ctx.Err()
}

// attachBreakdown reads the phase's CPU profile, if it has one.
func attachBreakdown(p *Phase) error {
	if p.Profile == "" {
		return nil
	}
	by, err := BreakdownOf(p.Profile)
	if err != nil {
		return err
	}
	p.CPUBy = &by
	return nil
}

// profile names the CPU profile file of a no-op phase, or "" without a
// profile directory.
func (b *bencher) profile(n int, mode string) string {
	if b.cfg.ProfileDir == "" {
		return ""
	}
	return filepath.Join(b.cfg.ProfileDir, fmt.Sprintf("cpu-noop-n%d-%s.prof", n, mode))
}

func startProfile(path string) (stop func() error, err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create profile directory: %w", err)
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("start cpu profile: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return fmt.Errorf("close profile: %w", err)
		}
		return nil
	}, nil
}
