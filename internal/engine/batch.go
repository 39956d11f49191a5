package engine

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/zinc-edu/orchestrator/internal/definition"
	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/sandbox"
)

// batchCase is one line a batch checker reads on stdin.
type batchCase struct {
	Scenario string `json:"scenario"`
	Input    string `json:"input"`
	Expected string `json:"expected"`
	Actual   string `json:"actual"`
	ExitCode *int   `json:"exit_code"`
}

// batchVerdict is one line a batch checker writes on stdout. Scenario is
// a pointer so that a present "" (the one run of a stage without
// scenarios) is told apart from a missing key.
type batchVerdict struct {
	Scenario *string  `json:"scenario"`
	Pass     *bool    `json:"pass"`
	Score    *float64 `json:"score"`
	Message  string   `json:"message"`
}

// checkBatch judges every run of the stage that passed its exit-status
// rule with one checker process: one JSON object per run on its stdin, one
// verdict per run expected on its stdout. Runs the checker gives no verdict
// for, and every run when the checker itself fails, end in error.
func (r *run) checkBatch(ctx context.Context, s *definition.Stage, runs []definition.Scenario, results []result) {
	var judged []int
	var stdin bytes.Buffer
	enc := json.NewEncoder(&stdin)
	for k := range results {
		if results[k].step.State != grading.StepSuccess {
			continue
		}
		want, err := r.expectedOf(runs[k])
		if err != nil {
			results[k].step.State, results[k].step.Message = grading.StepError, fmt.Sprintf("read expected output: %v", err)
			continue
		}
		c := batchCase{
			Scenario: runs[k].Name, Input: string(results[k].stdin), Expected: string(want),
			Actual: string(results[k].stdout), ExitCode: results[k].step.ExitCode,
		}
		if err := enc.Encode(c); err != nil {
			results[k].step.State, results[k].step.Message = grading.StepError, fmt.Sprintf("encode checker input: %v", err)
			continue
		}
		judged = append(judged, k)
	}
	if len(judged) == 0 {
		return
	}
	// The checker read every judged run, so why it failed (the first line
	// of its stderr, say) may quote any of them, hidden runs included: only
	// the runs students see last carry its words.
	last := 0
	for _, k := range judged {
		last = max(last, revealOrder(runs[k].Visibility))
	}
	fail := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		for _, k := range judged {
			results[k].step.State, results[k].step.Message = grading.StepError, msg
			if revealOrder(runs[k].Visibility) < last {
				results[k].step.Message = checkerFailedOutOfSight
			}
		}
	}
	names := make([]string, len(judged))
	for i, k := range judged {
		names[i] = runs[k].Name
	}
	verdicts, err := r.runBatchChecker(ctx, s, stdin.Bytes(), names)
	if err != nil {
		fail("checker: %v", err)
		return
	}
	for _, k := range judged {
		v, ok := verdicts[runs[k].Name]
		if !ok {
			results[k].step.State, results[k].step.Message = grading.StepError, "checker: no verdict for this scenario"
			continue
		}
		applyVerdict(&results[k].step, v)
	}
}

// checkerFailedOutOfSight is the message of a run a failed batch checker
// judged alongside runs students see later than it: the checker's own words
// are on those runs, for staff.
const checkerFailedOutOfSight = "checker failed; its message is kept with a run of this stage that is not visible yet"

// revealOrder ranks visibilities by when students see a run's details: at
// once, after the due date, after the stop date (a collection's stop date is
// never before its due date), never. Unset is visible, as the API shows it;
// anything unknown is never shown.
func revealOrder(v definition.Visibility) int {
	switch v {
	case "", definition.Visible:
		return 0
	case definition.AfterDue:
		return 1
	case definition.AfterStop:
		return 2
	}
	return 3
}

// runBatchChecker runs the checker once over stdin, which holds the runs
// of the scenarios named, and reads its verdicts by scenario name. Its
// timeout is the checker's per-run timeout times the number of runs, at
// most definition.MaxTimeout.
func (r *run) runBatchChecker(ctx context.Context, s *definition.Stage, stdin []byte, scenarios []string) (map[string]batchVerdict, error) {
	dir, cleanup, err := r.checkerDir(ctx, s.Checker, nil, nil, nil)
	defer cleanup()
	if err != nil {
		return nil, fmt.Errorf("prepare checker: %w", err)
	}
	env := stepEnv(dir)
	if msg, state := r.missingProgram(s.Checker.Command[0], dir, envPath(env), nil); state != "" {
		return nil, fmt.Errorf("%s", msg)
	}
	timeout := min(s.Checker.Timeout*time.Duration(len(scenarios)), definition.MaxTimeout)
	out, err := r.e.sb.Run(ctx, sandbox.Spec{
		Argv:    slices.Clone(s.Checker.Command),
		Dir:     dir,
		Stdin:   stdin,
		Env:     env,
		Timeout: timeout,
		Limits:  r.batchCheckerLimits(s, len(scenarios)),
		RootFS:  r.in.RootFS,
	})
	switch {
	case err != nil:
		return nil, fmt.Errorf("run checker: %w", err)
	case out.TimedOut:
		return nil, fmt.Errorf("timed out after %s", timeout)
	case out.LimitHit != "" && (!outputClipped(out) || out.StdoutTruncated):
		// Clipped verdicts cannot be read; a clipped stderr is no loss.
		return nil, fmt.Errorf("%s", limitMessage(out.LimitHit))
	case out.Signal != "":
		return nil, fmt.Errorf("terminated by %s", out.Signal)
	case out.ExitCode != 0:
		return nil, fmt.Errorf("exited with status %d: %s", out.ExitCode, firstLine(out.Stderr))
	}
	return parseVerdicts(out.Stdout, scenarios)
}

// limitResolver is a Sandbox that tells the limits a Spec's Limits stand
// for once its defaults are filled in.
type limitResolver interface {
	ResolveLimits(sandbox.Limits) (sandbox.Limits, error)
}

// batchCheckerLimits are the stage's limits with an output cap of one run's
// per run judged, and one more: verdicts that quote each run's output
// (a message "got ...") must fit whole, whatever the runs printed.
func (r *run) batchCheckerLimits(s *definition.Stage, runs int) sandbox.Limits {
	lim := sandboxLimits(s.Limits)
	perRun := lim.OutputLimitBytes
	if lr, ok := r.e.sb.(limitResolver); ok && perRun == 0 {
		if resolved, err := lr.ResolveLimits(lim); err == nil {
			perRun = resolved.OutputLimitBytes
		}
	}
	if perRun <= 0 {
		return lim
	}
	if n := int64(runs) + 1; perRun > maxBatchOutputBytes/n {
		lim.OutputLimitBytes = max(perRun, maxBatchOutputBytes)
	} else {
		lim.OutputLimitBytes = perRun * n
	}
	return lim
}

// maxBatchOutputBytes bounds a batch checker's output cap far below the
// sandbox's arithmetic on it (a flood is four times the cap).
const maxBatchOutputBytes = 1 << 40

// maxScenarioInMessage bounds an unknown scenario name quoted in an error.
const maxScenarioInMessage = 100

// parseVerdicts reads one JSON verdict per non-empty line, each for one
// of the scenarios sent to the checker. A verdict for any other scenario
// means the checker lost track of its input (or printed a line of a
// student's output as its own), so it is an error, not a line to skip.
func parseVerdicts(stdout []byte, scenarios []string) (map[string]batchVerdict, error) {
	sent := make(map[string]bool, len(scenarios))
	for _, name := range scenarios {
		sent[name] = true
	}
	verdicts := map[string]batchVerdict{}
	sc := bufio.NewScanner(bytes.NewReader(stdout))
	sc.Buffer(make([]byte, 0, 64<<10), len(stdout)+1)
	for line := 1; sc.Scan(); line++ {
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		var v batchVerdict
		if err := json.Unmarshal(text, &v); err != nil {
			return nil, fmt.Errorf("output line %d is not a JSON verdict: %v", line, err)
		}
		if v.Scenario == nil || v.Pass == nil {
			return nil, fmt.Errorf("output line %d lacks \"scenario\" or \"pass\"", line)
		}
		if !sent[*v.Scenario] {
			// The name is the checker's text, so it is clipped.
			name, _ := clipTo(*v.Scenario, maxScenarioInMessage)
			return nil, fmt.Errorf("output line %d is a verdict for scenario %q, which was not sent to the checker", line, name)
		}
		if _, dup := verdicts[*v.Scenario]; dup {
			return nil, fmt.Errorf("two verdicts for scenario %q", *v.Scenario)
		}
		verdicts[*v.Scenario] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read output: %w", err)
	}
	return verdicts, nil
}

// applyVerdict records a batch checker's verdict in the step, as the files
// protocol does: pass or fail, partial credit as Points of 1, the message
// as feedback.
func applyVerdict(st *grading.Step, v batchVerdict) {
	st.Message, _ = clipTo(v.Message, maxFeedback)
	if !*v.Pass {
		st.State = grading.StepFailed
		if st.Message == "" {
			st.Message = "rejected by the checker"
		}
	}
	switch {
	case !*v.Pass:
		// A rejection earns nothing, whatever score came with it.
		st.Points, st.MaxPoints = 0, 1
	case v.Score != nil:
		st.Points, st.MaxPoints = min(max(*v.Score, 0), 1), 1
	}
}
