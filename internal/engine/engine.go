package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/zinc-edu/orchestrator/internal/definition"
	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/sandbox"
)

// MaxStepOutput bounds the stdout and stderr copies kept in a step; the full
// text is in the report's artifacts.
const MaxStepOutput = 4 << 10

// ErrMissingAsset reports that the definition names an uploaded assignment
// file the input does not carry. It is a configuration fault: retrying does
// not help.
var ErrMissingAsset = errors.New("missing assignment file")

// Sandbox runs one command in isolation. *sandbox.Runner implements it.
type Sandbox interface {
	Run(ctx context.Context, spec sandbox.Spec) (sandbox.Result, error)
}

// Input is one delivery to grade.
type Input struct {
	// ScratchDir already holds the student's files. Stages run in it;
	// assignment files a stage needs are mounted into it, read-only, for
	// that stage only. The caller removes it afterwards.
	ScratchDir string
	// Assets holds the bytes of the definition's files with source: upload,
	// by file name.
	Assets map[string][]byte
	// PrivateDir is where hidden files and checker inputs are prepared, out
	// of the student's reach; empty means the system temporary directory.
	PrivateDir string
	// RootFS, when set, is the sealed file system of the definition's
	// environment (sandbox.SealRootFS): every command, checkers included,
	// runs with it as its root, and programs are looked up in it instead of
	// on the worker.
	RootFS string
	// Progress, when set, is told how many steps are done out of how many,
	// after each step; calls never overlap.
	Progress func(done, total int)
	// Output, when set, receives each step's full output as soon as the
	// step is judged, possibly from several scenarios at once, and the
	// report then carries no Artifacts: a delivery's outputs (up to the
	// output limit per stream, per scenario) are never all in memory
	// together. An error from it fails Run.
	Output func(Artifact) error
}

// Report is the outcome of running a definition against one delivery: the
// grade itself, as the grading.Result the caller stores once it has set the
// identifiers the engine does not know (delivery, config, batch, object
// key), plus the full outputs, which go to blob storage and never into the
// result row. The result is embedded on purpose: the engine fills the very
// value that is stored, so no field is copied from one shape to another.
type Report struct {
	// Result holds Status, Score, MaxScore, Components, Diagnostic and
	// Steps (in execution order, outputs clipped to MaxStepOutput).
	grading.Result
	// Artifacts hold the full captured output of every step that ran.
	Artifacts []Artifact
	// Unsandboxed is set when a command ran without a container
	// (ZINC_SANDBOX=unsafe-local): the grade is not to be trusted.
	Unsandboxed bool
}

// Artifact is the full output of one step, for blob storage.
type Artifact struct {
	Stage    string
	Scenario string
	Stdout   []byte
	Stderr   []byte
}

// Engine runs grading pipelines. It is safe for concurrent use.
type Engine struct {
	sb     Sandbox
	log    *slog.Logger
	tracer trace.Tracer
}

// Option adjusts an Engine.
type Option func(*Engine)

// WithTracerProvider records a span per stage and, under it, a span per
// scenario of every Run, children of the span in Run's context. Without it
// the engine records none.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(e *Engine) { e.tracer = tp.Tracer(instrumentation) }
}

// New returns an Engine that runs every command through sb.
func New(sb Sandbox, log *slog.Logger, opts ...Option) *Engine {
	e := &Engine{sb: sb, log: log, tracer: noop.NewTracerProvider().Tracer(instrumentation)}
	for _, o := range opts {
		o(e)
	}
	return e
}

// Run executes def against the delivery in in.ScratchDir and scores it.
// Stages run in dependency order; a stage runs only when all its
// dependencies succeeded and is skipped otherwise. Problems of one step
// (a timeout, a missing program, a sandbox fault) are recorded in that step;
// Run returns an error only when nothing can be graded: an invalid
// definition, a missing assignment file (ErrMissingAsset), an unusable
// scratch directory, or ctx ending, in which case running commands are
// killed and ctx.Err() is returned.
func (e *Engine) Run(ctx context.Context, def *definition.Definition, in Input) (Report, error) {
	if err := def.Validate(); err != nil {
		return Report{}, fmt.Errorf("validate definition: %w", err)
	}
	// Validate lets scenarios_from wait for its archive to be unpacked; run
	// as it is, the stage would run once with no input and nothing to judge.
	for _, s := range def.Stages {
		if s.ScenariosFrom != nil {
			return Report{}, fmt.Errorf("stage %s: scenarios_from is not expanded (an archive of the config was not unpacked)", s.Name)
		}
	}
	if err := checkAssets(def, in.Assets); err != nil {
		return Report{}, err
	}
	root, err := os.OpenRoot(in.ScratchDir)
	if err != nil {
		return Report{}, fmt.Errorf("open scratch directory: %w", err)
	}
	defer func() { _ = root.Close() }()

	r := &run{e: e, def: def, in: in, root: root}
	for _, s := range def.Stages {
		r.total += len(s.Runs())
	}
	succeeded := map[string]bool{}
	var steps []grading.Step
	var artifacts []Artifact
	for _, i := range def.Order() {
		if err := ctx.Err(); err != nil {
			return Report{}, err
		}
		s := &def.Stages[i]
		sctx, span := r.startStage(ctx, s)
		var results []result
		if dep, ok := failedDependency(s, succeeded); ok {
			results = r.skip(sctx, s, dep)
		} else if results, err = r.stage(sctx, s); err != nil {
			endSpan(span, nil, err)
			return Report{}, err
		}
		endStage(span, results)
		succeeded[s.Name] = true
		for _, res := range results {
			succeeded[s.Name] = succeeded[s.Name] && res.step.State == grading.StepSuccess
			steps = append(steps, res.step)
			if res.artifact != nil {
				artifacts = append(artifacts, *res.artifact)
			}
		}
		e.log.DebugContext(ctx, "stage finished", "stage", s.Name, "succeeded", succeeded[s.Name])
	}
	if r.outErr != nil {
		return Report{}, fmt.Errorf("store step output: %w", r.outErr)
	}
	sc := definition.Score(def, steps)
	if r.unsandboxed.Load() {
		sc.Diagnostic = strings.TrimSpace("graded unsandboxed (ZINC_SANDBOX=unsafe-local). " + sc.Diagnostic)
	}
	return Report{
		Result: grading.Result{
			Status:     sc.Status,
			Score:      sc.Score,
			MaxScore:   sc.MaxScore,
			Components: sc.Components,
			Steps:      sc.Steps,
			Diagnostic: sc.Diagnostic,
		},
		Artifacts:   artifacts,
		Unsandboxed: r.unsandboxed.Load(),
	}, nil
}

// checkAssets makes sure every uploaded file the definition names is there
// before anything runs.
func checkAssets(def *definition.Definition, assets map[string][]byte) error {
	var missing []string
	for _, f := range def.Files {
		if _, ok := assets[f.Name]; f.Upload && !ok {
			missing = append(missing, f.Name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s", ErrMissingAsset, strings.Join(missing, ", "))
	}
	return nil
}

// failedDependency returns the first dependency of s that did not succeed.
func failedDependency(s *definition.Stage, succeeded map[string]bool) (string, bool) {
	for _, dep := range s.DependsOn {
		if !succeeded[dep] {
			return dep, true
		}
	}
	return "", false
}

// run is the state of one Engine.Run call.
type run struct {
	e     *Engine
	def   *definition.Definition
	in    Input
	root  *os.Root
	total int

	mu   sync.Mutex
	done int
	// outErr is the first error of in.Output.
	outErr error
	// unsandboxed records that a command ran without a container.
	unsandboxed atomic.Bool
}

// result is one finished step with what the judging phase still needs.
type result struct {
	step     grading.Step
	artifact *Artifact
	stdin    []byte
	stdout   []byte
}

// handOver gives a judged step's full output to in.Output, if set, and
// drops it from res.
func (r *run) handOver(res *result) {
	if r.in.Output == nil || res.artifact == nil {
		return
	}
	err := r.in.Output(*res.artifact)
	res.artifact, res.stdout = nil, nil
	if err != nil {
		r.mu.Lock()
		r.outErr = cmp.Or(r.outErr, err)
		r.mu.Unlock()
	}
}

// progress counts one finished step and tells the caller.
func (r *run) progress() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done++
	if r.in.Progress != nil {
		r.in.Progress(r.done, r.total)
	}
}

func (r *run) skip(ctx context.Context, s *definition.Stage, dep string) []result {
	var out []result
	for _, sc := range s.Runs() {
		step := grading.Step{
			Stage:      s.Name,
			Scenario:   sc.Name,
			State:      grading.StepSkipped,
			Message:    fmt.Sprintf("skipped: dependency %q did not succeed", dep),
			Visibility: string(sc.Visibility),
		}
		_, span := r.startScenario(ctx, s, sc)
		endScenario(span, step)
		out = append(out, result{step: step})
		r.progress()
	}
	return out
}

// fileBytes returns the content of an assignment file.
func (r *run) fileBytes(name string) ([]byte, error) {
	f, ok := r.def.File(name)
	switch {
	case !ok:
		return nil, fmt.Errorf("%w: %s", ErrMissingAsset, name)
	case f.Upload:
		b, ok := r.in.Assets[name]
		if !ok {
			return nil, fmt.Errorf("%w: %s", ErrMissingAsset, name)
		}
		return b, nil
	}
	return []byte(f.Content), nil
}
