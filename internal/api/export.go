package api

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/zinc-edu/orchestrator/internal/definition"
	"github.com/zinc-edu/orchestrator/internal/grading"
)

// This file maps a result to the results.json of other graders. The
// mappings are pure so they can be checked field by field.

// gradescopeResults is Gradescope's autograder results.json.
type gradescopeResults struct {
	// Score is absent for a delivery that was not graded: Gradescope then
	// shows the output instead of a number, where 0 would be a false grade.
	Score  *float64         `json:"score,omitempty"`
	Output string           `json:"output"`
	Tests  []gradescopeTest `json:"tests"`
}

// gradescopeTest is one test case of gradescopeResults.
type gradescopeTest struct {
	Name       string   `json:"name"`
	Score      *float64 `json:"score,omitempty"`
	MaxScore   float64  `json:"max_score"`
	Status     string   `json:"status"`
	Output     string   `json:"output"`
	Visibility string   `json:"visibility"`
}

// Gradescope test statuses.
const (
	gradescopePassed = "passed"
	gradescopeFailed = "failed"
)

// gradescopeVisibility maps a step's visibility to Gradescope's. Gradescope
// has no "after the late deadline", so after_stop waits until grades are
// published, the closest moment that is never earlier.
func gradescopeVisibility(v string) string {
	switch definition.Visibility(v) {
	case "", definition.Visible:
		return "visible"
	case definition.AfterDue:
		return "after_due_date"
	case definition.AfterStop:
		return "after_published"
	}
	return "hidden"
}

// toGradescope maps a result, with every step's output: Gradescope applies
// each test's visibility itself, but shows the top-level output to the
// student, so a diagnostic that repeats the message of a step that is not
// visible gives way to withheldDiagnostic there.
func toGradescope(r grading.Result) gradescopeResults {
	graded := r.Status == grading.StatusGraded
	summary := r
	if slices.ContainsFunc(r.Steps, func(st grading.Step) bool {
		return st.State == grading.StepError && gradescopeVisibility(st.Visibility) != "visible"
	}) && r.Diagnostic != "" {
		summary.Diagnostic = withheldDiagnostic
	}
	out := gradescopeResults{Output: resultSummary(summary), Tests: make([]gradescopeTest, 0, len(r.Steps))}
	if graded {
		out.Score = ptr(r.Score)
	}
	for _, st := range r.Steps {
		t := gradescopeTest{
			Name:       stepName(st),
			MaxScore:   st.MaxPoints,
			Status:     gradescopeFailed,
			Output:     joinSections(stepOutcome(st), st.Message, stepOutput(st)),
			Visibility: gradescopeVisibility(st.Visibility),
		}
		if st.State == grading.StepSuccess {
			t.Status = gradescopePassed
		}
		if graded {
			t.Score = ptr(st.Points)
		}
		out.Tests = append(out.Tests, t)
	}
	return out
}

// prairieLearnResults is PrairieLearn's external grader results.json.
type prairieLearnResults struct {
	Gradable  bool               `json:"gradable"`
	Score     float64            `json:"score"`
	Points    float64            `json:"points"`
	MaxPoints float64            `json:"max_points"`
	Message   string             `json:"message"`
	Output    string             `json:"output"`
	Tests     []prairieLearnTest `json:"tests"`
}

// prairieLearnTest is one test of prairieLearnResults.
type prairieLearnTest struct {
	Name      string  `json:"name"`
	Points    float64 `json:"points"`
	MaxPoints float64 `json:"max_points"`
	Output    string  `json:"output"`
	Message   string  `json:"message"`
}

// toPrairieLearn maps a result. PrairieLearn shows everything to the
// student and has no per-test visibility, so the caller passes the result
// as forStudent made it; withheld marks the steps whose output was removed.
// A delivery that was not graded is reported as not gradable, which
// PrairieLearn shows as an invalid submission rather than a score of 0.
func toPrairieLearn(r grading.Result, withheld []bool) prairieLearnResults {
	out := prairieLearnResults{
		Gradable:  r.Status == grading.StatusGraded,
		MaxPoints: r.MaxScore,
		Message:   resultSummary(r),
		Output:    r.Diagnostic,
		Tests:     make([]prairieLearnTest, 0, len(r.Steps)),
	}
	if out.Gradable {
		out.Points = r.Score
		if r.MaxScore > 0 {
			out.Score = min(max(r.Score/r.MaxScore, 0), 1)
		}
	}
	for i, st := range r.Steps {
		t := prairieLearnTest{
			Name:      stepName(st),
			MaxPoints: st.MaxPoints,
			Output:    stepOutput(st),
			Message:   joinSections(stepOutcome(st), st.Message),
		}
		if out.Gradable {
			t.Points = st.Points
		}
		if i < len(withheld) && withheld[i] {
			t.Message = joinSections(stepOutcome(st), "Details are not visible yet.")
		}
		out.Tests = append(out.Tests, t)
	}
	return out
}

// resultSummary is one line on the whole result.
func resultSummary(r grading.Result) string {
	switch r.Status {
	case grading.StatusGraded:
		return fmt.Sprintf("Score %s / %s", num(r.Score), num(r.MaxScore))
	case grading.StatusUngraded:
		return joinLine("Not graded", r.Diagnostic)
	}
	return joinLine("Grading failed", r.Diagnostic)
}

// stepName names a step the way a teacher wrote it: the stage, and the
// scenario after a colon.
func stepName(st grading.Step) string {
	if st.Scenario == "" {
		return st.Stage
	}
	return st.Stage + ": " + st.Scenario
}

// stepOutcome says in words how a step ended.
func stepOutcome(st grading.Step) string {
	var why []string
	if st.TimedOut {
		why = append(why, "timed out")
	}
	if st.LimitHit != "" {
		why = append(why, st.LimitHit+" limit hit")
	}
	if st.Signal != "" {
		why = append(why, "killed by "+st.Signal)
	}
	if st.ExitCode != nil && *st.ExitCode != 0 {
		why = append(why, "exit code "+strconv.Itoa(*st.ExitCode))
	}
	if len(why) == 0 {
		return string(st.State)
	}
	return fmt.Sprintf("%s (%s)", st.State, strings.Join(why, ", "))
}

// stepOutput is a step's captured output, each stream under a heading.
func stepOutput(st grading.Step) string {
	var parts []string
	if st.Stdout != "" {
		parts = append(parts, "--- stdout ---\n"+st.Stdout)
	}
	if st.Stderr != "" {
		parts = append(parts, "--- stderr ---\n"+st.Stderr)
	}
	if st.Truncated {
		parts = append(parts, "(output truncated)")
	}
	return joinSections(parts...)
}

// joinSections joins the non-empty parts with blank lines.
func joinSections(parts ...string) string {
	var kept []string
	for _, p := range parts {
		if p != "" {
			kept = append(kept, strings.TrimRight(p, "\n"))
		}
	}
	return strings.Join(kept, "\n\n")
}

func joinLine(head, tail string) string {
	if tail == "" {
		return head
	}
	return head + ": " + tail
}

// num prints a score without trailing zeros.
func num(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }

func ptr[T any](v T) *T { return &v }
