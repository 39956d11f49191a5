package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/zinc-edu/orchestrator/internal/archive"
	"github.com/zinc-edu/orchestrator/internal/batches"
	"github.com/zinc-edu/orchestrator/internal/definition"
	"github.com/zinc-edu/orchestrator/internal/engine"
	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/harness"
	"github.com/zinc-edu/orchestrator/internal/sandbox"
)

// The course assignment: the course's own build command, tests laid out as
// files and one regex rule, as an instructor writes it (issue 13).
const (
	courseCompile = "cc main.c -o main -lm"
	courseRule    = "^sum = {expected}$"
	// courseTimeout bounds one test on both sides; generous, so a loaded
	// machine slows a run down without changing its verdicts.
	courseTimeout = 10 * time.Second
)

// courseConfig is the whole grading config of the course assignment.
const courseConfig = `version: 2
name: bench-course
files: [{name: tests.tar.gz, source: upload}]
stages:
  - {name: build, kind: compile, command: [cc, main.c, -o, main, -lm], timeout: 60}
  - name: blackbox
    command: [./main]
    timeout: 10
    exit_status: ignore
    compare: {regex: "` + courseRule + `"}
    scenarios_from: {glob: "tests/blackbox/*.in", expected: "{dir}/{stem}.out", points: 1}
`

// CourseConfig says what the course comparison measures.
type CourseConfig struct {
	// Deliveries is how many student programs are graded (M).
	Deliveries int
	// Tests is how many stdio tests each is run against (N).
	Tests int
	// Concurrency is the direct pool's goroutines and the batch's window
	// (and the pipeline worker's activity slots).
	Concurrency int
	// DatabaseURL is the store; "" means a SQLite file in a temporary
	// directory.
	DatabaseURL string
	// StackLogger receives the stack's own logs; nil discards them.
	StackLogger *slog.Logger
}

// Validate reports every problem of the configuration at once.
func (c CourseConfig) Validate() error {
	var errs []error
	if c.Deliveries < 1 {
		errs = append(errs, fmt.Errorf("deliveries %d: want at least 1", c.Deliveries))
	}
	if c.Tests < 1 {
		errs = append(errs, fmt.Errorf("tests %d: want at least 1", c.Tests))
	}
	if c.Concurrency < 1 {
		errs = append(errs, fmt.Errorf("concurrency %d: want at least 1", c.Concurrency))
	}
	return errors.Join(errs...)
}

// CoursePhase is one side's grading of the whole course collection.
type CoursePhase struct {
	Wall time.Duration
	// CPU is this process's; ChildCPU its reaped children's (compilers,
	// student programs, crun); MachineCPU every CPU's busy time meanwhile.
	CPU, ChildCPU, MachineCPU time.Duration
	Graded                    int
	ScoreSum                  float64
}

// CourseReport is the outcome of a course comparison.
type CourseReport struct {
	Config  CourseConfig
	Started time.Time
	Machine Machine
	// Direct ran the same commands with os/exec; Orchestrated graded them
	// as a batch through Temporal, the workers and the sandbox.
	Direct, Orchestrated CoursePhase
	// Mismatches counts deliveries whose two scores differ.
	Mismatches int
}

// Ratio is the orchestrated wall time over the direct one.
func (r CourseReport) Ratio() float64 {
	if r.Direct.Wall <= 0 {
		return 0
	}
	return r.Orchestrated.Wall.Seconds() / r.Direct.Wall.Seconds()
}

// courseProgram is a student's main.c: variant 0 is right, 1 wrong, 2 right
// only for small inputs, 3 does not compile. Every program that runs
// returns 43, which the course's harness ignores (exit_status: ignore).
func courseProgram(variant int) string {
	switch variant % 4 {
	case 1:
		return "#include <stdio.h>\nint main(void) { long a, b; if (scanf(\"%ld %ld\", &a, &b) != 2) return 2;\n  printf(\"sum = %ld\\n\", a - b); return 43; }\n"
	case 2:
		return "#include <stdio.h>\nint main(void) { long a, b; if (scanf(\"%ld %ld\", &a, &b) != 2) return 2;\n  if (a > 50) a++;\n  printf(\"sum = %ld\\n\", a + b); return 43; }\n"
	case 3:
		return "int main(void) { return }\n"
	}
	return "#include <stdio.h>\nint main(void) { long a, b; if (scanf(\"%ld %ld\", &a, &b) != 2) return 2;\n  printf(\"sum = %ld\\n\", a + b); return 43; }\n"
}

// courseTests returns the test files tests/blackbox/1.in, 1.out, … n.out.
func courseTests(n int) []archive.File {
	files := make([]archive.File, 0, 2*n)
	for i := 1; i <= n; i++ {
		a, b := i*7, 100-i*3
		files = append(files,
			archive.File{Name: fmt.Sprintf("tests/blackbox/%d.in", i), Data: fmt.Appendf(nil, "%d %d\n", a, b)},
			archive.File{Name: fmt.Sprintf("tests/blackbox/%d.out", i), Data: fmt.Appendf(nil, "%d\n", a+b)})
	}
	return files
}

// Course grades M course deliveries with N file tests each, first with a
// direct pool of os/exec commands, then as a batch through the real stack
// (embedded Temporal, workers, sandbox), and compares time and scores.
func Course(ctx context.Context, cfg CourseConfig, log *slog.Logger) (CourseReport, error) {
	if err := cfg.Validate(); err != nil {
		return CourseReport{}, fmt.Errorf("course benchmark: %w", err)
	}
	stackLog := cfg.StackLogger
	if stackLog == nil {
		stackLog = slog.New(slog.DiscardHandler)
	}
	rep := CourseReport{Config: cfg, Started: time.Now(), Machine: Machine{
		CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), GoVersion: runtime.Version(), LoadBefore: loadAverage(),
	}}
	tests := courseTests(cfg.Tests)
	programs := make([]string, cfg.Deliveries)
	for i := range programs {
		programs[i] = courseProgram(i)
	}

	// Warm the compiler's files into the page cache for both sides.
	if _, err := directGrade(ctx, programs[0], tests); err != nil {
		return rep, fmt.Errorf("warm up: %w", err)
	}
	log.InfoContext(ctx, "direct pool", "deliveries", cfg.Deliveries, "tests", cfg.Tests, "concurrency", cfg.Concurrency)
	direct := make([]float64, len(programs))
	err := measureCourse(&rep.Direct, func() error {
		return directPool(ctx, programs, tests, cfg.Concurrency, direct)
	})
	if err != nil {
		return rep, err
	}
	for _, s := range direct {
		rep.Direct.ScoreSum += s
	}
	rep.Direct.Graded = len(programs)

	orchestrated, err := orchestrate(ctx, cfg, programs, tests, stackLog, log, &rep.Orchestrated)
	if err != nil {
		return rep, err
	}
	for i, s := range direct {
		if got, ok := orchestrated[i]; !ok || got != s {
			rep.Mismatches++
		}
	}
	rep.Machine.LoadAfter = loadAverage()
	return rep, nil
}

func measureCourse(p *CoursePhase, fn func() error) error {
	before, err := readUsage()
	if err != nil {
		return err
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
	p.CPU, p.ChildCPU, p.MachineCPU = after.self-before.self, after.children-before.children, after.machine-before.machine
	return nil
}

// directPool grades every program with concurrency goroutines, scores
// indexed like programs.
func directPool(ctx context.Context, programs []string, tests []archive.File, concurrency int, scores []float64) error {
	errs := make([]error, len(programs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(concurrency, len(programs)) {
		wg.Go(func() {
			for i := range next {
				scores[i], errs[i] = directGrade(ctx, programs[i], tests)
			}
		})
	}
	for i := range programs {
		next <- i
	}
	close(next)
	wg.Wait()
	return errors.Join(errs...)
}

// directGrade does what the config says with plain os/exec in a scratch
// directory: compile with the course's command, run each test with its
// input on stdin, ignore the exit status, apply the regex rule in Go.
func directGrade(ctx context.Context, program string, tests []archive.File) (float64, error) {
	dir, err := os.MkdirTemp("", "zinc-course-")
	if err != nil {
		return 0, fmt.Errorf("create scratch: %w", err)
	}
	defer func() { _ = os.RemoveAll(dir) }()
	if err := os.WriteFile(filepath.Join(dir, "main.c"), []byte(program), 0o644); err != nil {
		return 0, fmt.Errorf("write main.c: %w", err)
	}
	args := strings.Fields(courseCompile)
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	build := exec.CommandContext(cctx, args[0], args[1:]...)
	build.Dir = dir
	err = build.Run()
	cancel()
	if err != nil {
		return 0, nil // a compile error scores nothing, as in the config
	}
	rule := definition.Compare{Pattern: courseRule}
	score := 0.0
	for i := 0; i+1 < len(tests); i += 2 {
		in, want := tests[i].Data, tests[i+1].Data
		tctx, cancel := context.WithTimeout(ctx, courseTimeout)
		run := exec.CommandContext(tctx, filepath.Join(dir, "main"))
		run.Dir, run.Stdin = dir, bytes.NewReader(in)
		var out bytes.Buffer
		run.Stdout = &out
		err := run.Run()
		timedOut := tctx.Err() != nil
		cancel()
		var exit *exec.ExitError
		if timedOut || (err != nil && !errors.As(err, &exit)) {
			continue
		}
		ok, _, err := rule.Match(want, out.Bytes())
		if err != nil {
			return 0, fmt.Errorf("apply rule: %w", err)
		}
		if ok {
			score++
		}
	}
	return score, nil
}

// orchestrate grades the programs as one batch on a fresh stack with the
// real engine and sandbox; scores are indexed like programs.
func orchestrate(ctx context.Context, cfg CourseConfig, programs []string, tests []archive.File,
	stackLog, log *slog.Logger, p *CoursePhase) (map[int]float64, error) {
	sb, err := sandbox.New(sandbox.Config{}, stackLog)
	if err != nil {
		return nil, fmt.Errorf("course benchmark: %w", err)
	}
	defer func() { _ = sb.Close() }()
	dir, cleanup, err := harness.TempDir("zinc-bench-course-")
	if err != nil {
		return nil, err
	}
	defer func() { _ = cleanup() }()
	log.InfoContext(ctx, "starting stack", "dir", dir)
	st, err := harness.Start(ctx, harness.Options{
		Dir: dir, DatabaseURL: cfg.DatabaseURL, Engine: engine.New(sb, stackLog),
		PipelineConcurrency: cfg.Concurrency, Logger: stackLog,
	})
	if err != nil {
		return nil, fmt.Errorf("start stack: %w", err)
	}
	defer func() { _ = st.Stop() }()

	var packed bytes.Buffer
	if _, err := archive.Pack(&packed, tests, archive.Limits{}); err != nil {
		return nil, fmt.Errorf("pack tests: %w", err)
	}
	ds := make([]harness.Delivery, len(programs))
	index := map[string]int{}
	for i, src := range programs {
		ds[i] = harness.Delivery{User: fmt.Sprintf("student-%04d", i), Files: map[string][]byte{"main.c": []byte(src)}}
		index[ds[i].User] = i
	}
	seeded, err := st.SeedWithAssets(ctx, courseConfig, map[string][]byte{"tests.tar.gz": packed.Bytes()}, ds)
	if err != nil {
		return nil, err
	}
	log.InfoContext(ctx, "orchestrated batch", "deliveries", len(programs), "concurrency", cfg.Concurrency)
	var b grading.Batch
	err = measureCourse(p, func() error {
		var err error
		b, err = st.Batches.Start(ctx, batches.StartRequest{
			CollectionID: seeded.CollectionID, ConfigID: seeded.ConfigID, Concurrency: cfg.Concurrency,
		})
		if err != nil {
			return err
		}
		_, err = st.Wait(ctx, b)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("orchestrated batch: %w", err)
	}
	rows, err := st.Store.BatchResults(ctx, b.ID)
	if err != nil {
		return nil, err
	}
	scores := map[int]float64{}
	for _, r := range rows {
		if r.Status == grading.StatusGraded {
			p.Graded++
		}
		p.ScoreSum += r.Score
		scores[index[r.User]] = r.Score
	}
	return scores, nil
}

// Markdown renders the report as a section of BENCHMARKS.md.
func (r CourseReport) Markdown() string {
	var b strings.Builder
	c := r.Config
	fmt.Fprintf(&b, "Measured %s UTC. Machine: %d CPUs (GOMAXPROCS %d), %s; load average %s before, %s after.\n",
		r.Started.UTC().Format("2006-01-02 15:04"), r.Machine.CPUs, r.Machine.GOMAXPROCS, r.Machine.GoVersion,
		r.Machine.LoadBefore, r.Machine.LoadAfter)
	fmt.Fprintf(&b, "M = %d deliveries × (1 compile + N = %d tests), concurrency %d on both sides.\n\n", c.Deliveries, c.Tests, c.Concurrency)
	b.WriteString("| side | wall | CPU (process + children) | other load (cores) | graded | score sum |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|\n")
	for _, row := range []struct {
		name string
		p    CoursePhase
	}{{"direct pool (os/exec, rule in Go)", r.Direct}, {"orchestrator (Temporal + workers + sandbox)", r.Orchestrated}} {
		own := row.p.CPU + row.p.ChildCPU
		other := 0.0
		if row.p.Wall > 0 && row.p.MachineCPU > own {
			other = (row.p.MachineCPU - own).Seconds() / row.p.Wall.Seconds()
		}
		fmt.Fprintf(&b, "| %s | %.1f s | %.1f s | %.2f | %d | %g |\n",
			row.name, row.p.Wall.Seconds(), own.Seconds(), other, row.p.Graded, row.p.ScoreSum)
	}
	verdict := "met"
	if r.Ratio() > 2 {
		verdict = "not met"
	}
	fmt.Fprintf(&b, "\nWall time, orchestrator over direct: %.1f s / %.1f s = **%.2f** (target ≤ 2: %s). "+
		"Deliveries whose scores differ: %d of %d.\n",
		r.Orchestrated.Wall.Seconds(), r.Direct.Wall.Seconds(), r.Ratio(), verdict, r.Mismatches, c.Deliveries)
	return b.String()
}
