package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"go.opentelemetry.io/otel/trace"

	"github.com/zinc-edu/orchestrator/internal/definition"
	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/sandbox"
)

// stage runs every scenario of s and judges the outputs. It returns an
// error only when ctx ended.
func (r *run) stage(ctx context.Context, s *definition.Stage) ([]result, error) {
	runs := s.Runs()
	results := make([]result, len(runs))
	// One span per scenario, from its command's start until it is judged
	// (for a checker stage that includes waiting for the other scenarios);
	// each ends with its step's outcome. A scenario that never started gets
	// an instant span, so every scenario has one.
	spans := make([]trace.Span, len(runs))
	judged := func(k int) {
		if spans[k] == nil {
			_, spans[k] = r.startScenario(ctx, s, runs[k])
		}
		endScenario(spans[k], results[k].step)
		r.handOver(&results[k])
	}
	defer func() {
		for k := range spans {
			if spans[k] != nil {
				endSpan(spans[k], nil, ctx.Err()) // no-op once ended
			}
		}
	}()
	fail := func(state grading.StepState, format string, args ...any) []result {
		for k, sc := range runs {
			results[k] = result{step: newStep(s, sc)}
			results[k].step.State = state
			results[k].step.Message = fmt.Sprintf(format, args...)
			judged(k)
			r.progress()
		}
		return results
	}
	for _, prog := range s.Requires {
		if !r.lookPath(prog, envPath(stepEnv("", s.Env))) {
			return fail(grading.StepError, "%s is not installed %s", prog, r.where()), nil
		}
	}
	st, err := r.prepare(ctx, s)
	defer st.cleanup()
	var obstacle *obstacleError
	switch {
	case errors.As(err, &obstacle):
		// Whatever the student left in the engine's way is the student's.
		return fail(grading.StepFailed, "%v", err), nil
	case err != nil:
		results = fail(grading.StepError, "prepare stage: %v", err)
		markInfrastructure(results)
		return results, nil
	}
	// Student commands first. A checker runs only once they have all ended,
	// so expected outputs exist on disk only while no student process does.
	forEach(ctx, len(runs), s.Parallelism, func(k int) {
		var kctx context.Context
		kctx, spans[k] = r.startScenario(ctx, s, runs[k])
		results[k] = r.execute(kctx, s, runs[k], st, len(runs) == 1)
		if s.Checker == nil {
			r.compare(&results[k], runs[k])
			judged(k)
			r.progress()
		}
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.Checker != nil && s.Checker.Protocol == definition.ProtocolBatch {
		r.checkBatch(ctx, s, runs, results)
		for k := range runs {
			judged(k)
			r.progress()
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	} else if s.Checker != nil {
		forEach(ctx, len(runs), s.Parallelism, func(k int) {
			r.check(withSpan(ctx, spans[k]), s, runs[k], &results[k])
			judged(k)
			r.progress()
		})
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	return results, nil
}

func newStep(s *definition.Stage, sc definition.Scenario) grading.Step {
	return grading.Step{Stage: s.Name, Scenario: sc.Name, Visibility: string(sc.Visibility)}
}

// execute runs the stage's command for one scenario. Only the single run of
// a student-visible stage keeps what it wrote; every other scenario runs on
// a throw-away copy of the tree, so nothing a hidden test saw or wrote
// reaches a later stage. A run shown only after the due date or the stop
// date is not visible while it is graded, so it counts as hidden here: a
// later visible stage would otherwise print what it saw before that date.
func (r *run) execute(ctx context.Context, s *definition.Stage, sc definition.Scenario, stg staged, single bool) result {
	dir := stg.dir
	res := result{step: newStep(s, sc)}
	env := stepEnv(r.in.ScratchDir, s.Env, sc.Env)
	if msg, missing := r.missingProgram(s.Command[0], dir, envPath(env), stg.mounts); missing != "" {
		res.step.State, res.step.Message = missing, msg
		return res
	}
	stdin := []byte(sc.Stdin)
	if sc.StdinFile != "" {
		b, err := r.fileBytes(sc.StdinFile)
		if err != nil {
			res.step.State, res.step.Message = grading.StepError, fmt.Sprintf("read stdin file: %v", err)
			return res
		}
		stdin = b
	}
	res.stdin = stdin
	argv := append(slices.Clone(s.Command), sc.Args...)
	recordCommand(&res.step, s, argv)
	out, err := r.e.sb.Run(ctx, sandbox.Spec{
		Argv:      argv,
		Dir:       dir,
		Scratch:   r.in.ScratchDir,
		Ephemeral: !single || sc.Visibility != definition.Visible,
		Mounts:    stg.mounts,
		Stdin:     stdin,
		Env:       env,
		Timeout:   sc.Timeout,
		Limits:    sandboxLimits(s.Limits),
		RootFS:    r.in.RootFS,
	})
	if errors.Is(err, sandbox.ErrCommit) {
		res.step.State, res.step.Message = grading.StepFailed, fmt.Sprintf("keep the files the command wrote: %v", err)
		return res
	}
	if err != nil {
		if ctx.Err() == nil {
			r.e.log.WarnContext(ctx, "sandbox run failed", "stage", s.Name, "scenario", sc.Name, "err", err)
		}
		res.step.State, res.step.Message = grading.StepError, fmt.Sprintf("run command: %v", err)
		res.step.Infrastructure = ctx.Err() == nil
		return res
	}
	if out.Unsandboxed {
		r.unsandboxed.Store(true)
	}
	res.stdout = out.Stdout
	res.artifact = &Artifact{Stage: s.Name, Scenario: sc.Name, Stdout: out.Stdout, Stderr: out.Stderr}
	st := &res.step
	if out.Signal == "" {
		code := out.ExitCode
		st.ExitCode = &code
	}
	st.Signal = out.Signal
	st.TimedOut = out.TimedOut
	st.LimitHit = out.LimitHit
	st.DurationMS = out.Duration.Milliseconds()
	var cut bool
	st.Stdout, cut = clip(out.Stdout)
	st.Truncated = cut || out.StdoutTruncated || out.StderrTruncated
	st.Stderr, cut = clip(out.Stderr)
	st.Truncated = st.Truncated || cut

	switch {
	case out.TimedOut:
		st.State, st.Message = grading.StepError, fmt.Sprintf("timed out after %s", sc.Timeout)
	case out.LimitHit != "":
		st.State, st.Message = grading.StepError, limitMessage(out.LimitHit)
	case out.StdoutTruncated && (sc.Expected != nil || s.Checker != nil):
		// A clipped output cannot be judged; the flood is the student's.
		st.State, st.Message, st.LimitHit = grading.StepError, limitMessage(sandbox.LimitOutput), sandbox.LimitOutput
	case out.Signal != "" && !sc.ExitStatus.Ignore:
		// Under ignore the comparison or the checker alone judges a run,
		// however it ended (a batch checker gets exit_code null).
		st.State, st.Message = grading.StepFailed, "terminated by "+out.Signal
	case out.Signal != "":
		st.State = grading.StepSuccess
	case out.ExitCode == definition.ValgrindErrorExitCode && s.Kind == definition.KindValgrind:
		st.State, st.Message = grading.StepFailed, "valgrind reported memory errors"
	case !sc.ExitStatus.Accepts(out.ExitCode):
		st.State, st.Message = grading.StepFailed, exitMessage(out.ExitCode, sc.ExitStatus)
	default:
		st.State = grading.StepSuccess
	}
	return res
}

// markInfrastructure flags steps that failed because of the worker.
func markInfrastructure(results []result) {
	for k := range results {
		results[k].step.Infrastructure = true
	}
}

// exitMessage says why an exit status failed its rule.
func exitMessage(code int, rule definition.ExitStatus) string {
	if rule.Code == 0 {
		return fmt.Sprintf("exit status %d", code)
	}
	return fmt.Sprintf("exit status %d, expected %d", code, rule.Code)
}

// recordCommand keeps the command a compile stage ran in its step, so the
// result shows which build produced the program.
func recordCommand(st *grading.Step, s *definition.Stage, argv []string) {
	if s.Kind == definition.KindCompile {
		st.Command = argv
	}
}

// expectedOf returns the expected output of a run: its text, or the bytes
// of its expected file; nil when it has none.
func (r *run) expectedOf(sc definition.Scenario) ([]byte, error) {
	e := sc.Expected
	if e == nil {
		return nil, nil
	}
	if e.File != "" {
		return r.fileBytes(e.File)
	}
	return []byte(e.Text), nil
}

// missingProgram checks argv[0] before running it. A program given by path
// is the student's to provide, so its absence fails the step, unless it is
// one of the stage's hidden files (mounts), which exist only inside the
// command's container; a program looked up in PATH is the worker's, so its
// absence is an error.
func (r *run) missingProgram(prog, dir, path string, mounts []sandbox.Mount) (string, grading.StepState) {
	if !strings.Contains(prog, "/") {
		if r.lookPath(prog, path) {
			return "", ""
		}
		return fmt.Sprintf("program %q is not installed %s", prog, r.where()), grading.StepError
	}
	if !mounted(mounts, prog, dir) && !r.programExists(prog, dir) {
		return fmt.Sprintf("program %q not found", prog), grading.StepFailed
	}
	return "", ""
}

// mounted reports whether a program given by path is the target of one of
// mounts: whatever the student has, or has not, at that path does not
// matter.
func mounted(mounts []sandbox.Mount, prog, dir string) bool {
	if !filepath.IsAbs(prog) {
		prog = filepath.Join(dir, prog)
	}
	prog = filepath.Clean(prog)
	return slices.ContainsFunc(mounts, func(m sandbox.Mount) bool { return m.Target == prog })
}

// compare judges a run that exited 0 against its expected output, in Go,
// so the expected output never reaches the student's directory.
func (r *run) compare(res *result, sc definition.Scenario) {
	if res.step.State != grading.StepSuccess || sc.Expected == nil {
		return
	}
	want, err := r.expectedOf(sc)
	if err != nil {
		res.step.State, res.step.Message = grading.StepError, fmt.Sprintf("read expected output: %v", err)
		return
	}
	ok, reason, err := sc.Expected.Compare.Match(want, res.stdout)
	switch {
	case err != nil:
		res.step.State, res.step.Message = grading.StepError, err.Error()
	case !ok:
		res.step.State, res.step.Message = grading.StepFailed, reason
		res.step.Diff = sc.Expected.Compare.ShortDiff(want, res.stdout)
	}
}

// check runs the stage's checker on a run that exited 0. Only the checker's
// exit status 0 or 1 judges the student; anything else is the checker's
// fault and leaves the step in error.
func (r *run) check(ctx context.Context, s *definition.Stage, sc definition.Scenario, res *result) {
	if res.step.State != grading.StepSuccess {
		return
	}
	st := &res.step
	fail := func(format string, args ...any) {
		st.State, st.Message = grading.StepError, fmt.Sprintf(format, args...)
	}
	want, err := r.expectedOf(sc)
	if err != nil {
		fail("read expected output: %v", err)
		return
	}
	dir, cleanup, err := r.checkerDir(ctx, s.Checker, res.stdin, want, res.stdout)
	defer cleanup()
	if err != nil {
		fail("prepare checker: %v", err)
		return
	}
	verdictFile := filepath.Join(dir, checkerVerdict)
	env := append(stepEnv(dir), "ZINC_VERDICT="+verdictFile)
	if msg, state := r.missingProgram(s.Checker.Command[0], dir, envPath(env), nil); state != "" {
		fail("checker: %s", msg)
		return
	}
	argv := append(slices.Clone(s.Checker.Command), checkerInput, checkerExpected, checkerActual)
	out, err := r.e.sb.Run(ctx, sandbox.Spec{
		Argv:    argv,
		Dir:     dir,
		Env:     env,
		Timeout: s.Checker.Timeout,
		Limits:  sandboxLimits(s.Limits),
		RootFS:  r.in.RootFS,
	})
	switch {
	case err != nil:
		fail("run checker: %v", err)
		st.Infrastructure = ctx.Err() == nil
		return
	case out.TimedOut:
		fail("checker timed out after %s", s.Checker.Timeout)
		return
	case out.LimitHit != "" && !outputClipped(out):
		fail("checker: %s", limitMessage(out.LimitHit))
		return
	case out.Signal != "":
		fail("checker terminated by %s", out.Signal)
		return
	case out.ExitCode != 0 && out.ExitCode != 1:
		fail("checker exited with status %d: %s", out.ExitCode, firstLine(out.Stderr))
		return
	}
	// Credit comes only from the verdict file, which the checker alone
	// writes; its stdout, which may quote the student's output, is
	// feedback and nothing else.
	verdict, err := readVerdict(dir)
	if err != nil {
		fail("checker: %v", err)
		return
	}
	credit, hasCredit, err := parseVerdict(verdict)
	if err != nil {
		fail("checker: %v", err)
		return
	}
	feedback, _ := clipTo(strings.TrimSpace(string(out.Stdout)), maxFeedback)
	switch {
	case out.ExitCode == 1:
		st.State = grading.StepFailed
		if feedback == "" {
			feedback = "rejected by the checker"
		}
		// A rejection earns nothing, whatever the verdict file says.
		credit, hasCredit = 0, true
	case hasCredit && credit < 1:
		// Accepted in part: a failed step that keeps its partial credit.
		st.State = grading.StepFailed
	}
	st.Message = feedback
	if hasCredit {
		// Score reads partial credit as Points/MaxPoints.
		st.Points, st.MaxPoints = credit, 1
	}
}

// outputClipped reports that the only limit a command hit is the output
// cap, and that it exited on its own: its output was clipped, not flooded.
// A checker's stdout is feedback, kept to maxFeedback, and its stderr is
// read for its first line, so a clipped output judges nothing; and a
// checker that quotes the student's output (diff, "you printed ...") goes
// past the cap whenever the student's output nearly reaches it.
func outputClipped(out sandbox.Result) bool {
	return out.LimitHit == sandbox.LimitOutput && out.Signal == "" && !out.TimedOut
}

// readVerdict reads the checker's verdict file from its private directory;
// a checker that writes none gives full credit on exit 0.
func readVerdict(dir string) ([]byte, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open checker directory: %w", err)
	}
	defer func() { _ = root.Close() }()
	b, err := root.ReadFile(checkerVerdict)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read verdict: %w", err)
	}
	return b, nil
}

// File names the checker receives, in its private directory.
const (
	checkerInput    = "input"
	checkerExpected = "expected"
	checkerActual   = "actual"
	// checkerVerdict is the file the checker writes its credit to
	// ("points: X"), named to it by $ZINC_VERDICT.
	checkerVerdict = "verdict"
)

// maxFeedback bounds the checker feedback kept as a step message.
const maxFeedback = 1 << 10

// parseVerdict reads a checker's verdict file: an optional "points: X"
// line with X in [0, 1] (clamped); other lines are ignored.
func parseVerdict(verdict []byte) (credit float64, ok bool, err error) {
	for _, line := range strings.Split(string(verdict), "\n") {
		line = strings.TrimRight(line, " \t\r")
		v, isPoints := strings.CutPrefix(line, "points:")
		if !isPoints {
			continue
		}
		x, perr := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if perr != nil || x != x {
			return 0, false, fmt.Errorf("invalid points line %q", line)
		}
		credit, ok = min(max(x, 0), 1), true
	}
	return credit, ok, nil
}

func sandboxLimits(l definition.Limits) sandbox.Limits {
	return sandbox.Limits{
		CPUSeconds:       l.CPUSeconds,
		MemoryMB:         l.MemoryMB,
		MaxProcesses:     l.MaxProcesses,
		MaxFileMB:        l.MaxFileMB,
		OpenFiles:        l.OpenFiles,
		OutputLimitBytes: l.OutputLimitBytes,
		Network:          l.Network,
	}
}

func limitMessage(limit string) string {
	switch limit {
	case sandbox.LimitMemory:
		return "memory limit exceeded"
	case sandbox.LimitCPU:
		return "CPU time limit exceeded"
	case sandbox.LimitProcesses:
		return "process limit exceeded"
	case sandbox.LimitFileSize:
		return "file size limit exceeded"
	case sandbox.LimitOutput:
		return "output limit exceeded"
	case sandbox.LimitDisk:
		return "disk limit exceeded"
	}
	return limit + " limit exceeded"
}

// clip turns output into valid UTF-8 of at most MaxStepOutput bytes.
func clip(b []byte) (string, bool) {
	return clipTo(string(b), MaxStepOutput)
}

func clipTo(s string, n int) (string, bool) {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s, false
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	// A copy: the slice would keep the whole output alive in the step.
	return strings.Clone(s), true
}

func firstLine(b []byte) string {
	line, _, _ := strings.Cut(string(b), "\n")
	s, _ := clipTo(line, 200)
	return s
}

// programPath is argv[0] relative to the scratch directory, or "" when it
// points elsewhere.
func programPath(scratch, dir, prog string) string {
	if !filepath.IsAbs(prog) {
		prog = filepath.Join(dir, prog)
	}
	rel, err := filepath.Rel(scratch, prog)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return ""
	}
	return rel
}

// forEach calls fn for 0..n-1 with at most limit calls at once, and starts
// no new call once ctx has ended.
func forEach(ctx context.Context, n, limit int, fn func(i int)) {
	// The buffer is the bound on concurrent scenarios.
	sem := make(chan struct{}, max(limit, 1))
	var wg sync.WaitGroup
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return
		}
		wg.Go(func() {
			defer func() { <-sem }()
			fn(i)
		})
	}
	wg.Wait()
}

// stepEnv is the complete environment of a command: a fixed minimal base
// and the definition's variables, later layers winning. Nothing comes from
// the worker's own environment.
func stepEnv(home string, layers ...map[string]string) []string {
	env := map[string]string{
		"PATH": defaultPath,
		"HOME": home,
		"LANG": "C.UTF-8",
	}
	for _, l := range layers {
		for k, v := range l {
			env[k] = v
		}
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}

// defaultPath is the PATH every command starts with.
const defaultPath = "/usr/local/bin:/usr/bin:/bin"

// envPath returns the PATH a command with env will search.
func envPath(env []string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			return v
		}
	}
	return ""
}
