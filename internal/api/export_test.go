package api

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/zinc-edu/orchestrator/internal/grading"
)

func intp(v int) *int { return &v }

func TestToGradescope(t *testing.T) {
	tests := []struct {
		name string
		give grading.Result
		want gradescopeResults
	}{
		{
			name: "graded",
			give: grading.Result{Status: grading.StatusGraded, Score: 7.5, MaxScore: 10, Steps: []grading.Step{
				{Stage: "build", State: grading.StepSuccess, ExitCode: intp(0)},
				{Stage: "tests", Scenario: "small", State: grading.StepSuccess, ExitCode: intp(0), Points: 5, MaxPoints: 5,
					Stdout: "3\n", Visibility: "visible"},
				{Stage: "tests", Scenario: "big", State: grading.StepFailed, ExitCode: intp(1), Points: 2.5, MaxPoints: 5,
					Message: "line 2 differs", Stdout: "4\n", Stderr: "oops\n", Truncated: true, Visibility: "after_due"},
			}},
			want: gradescopeResults{Score: ptr(7.5), Output: "Score 7.5 / 10", Tests: []gradescopeTest{
				{Name: "build", Score: ptr(0.0), MaxScore: 0, Status: "passed", Output: "success", Visibility: "visible"},
				{Name: "tests: small", Score: ptr(5.0), MaxScore: 5, Status: "passed", Output: "success\n\n--- stdout ---\n3", Visibility: "visible"},
				{Name: "tests: big", Score: ptr(2.5), MaxScore: 5, Status: "failed",
					Output:     "failed (exit code 1)\n\nline 2 differs\n\n--- stdout ---\n4\n\n--- stderr ---\noops\n\n(output truncated)",
					Visibility: "after_due_date"},
			}},
		},
		{
			name: "limits and signals",
			give: grading.Result{Status: grading.StatusGraded, Score: 0, MaxScore: 2, Steps: []grading.Step{
				{Stage: "run", State: grading.StepError, Signal: "SIGKILL", TimedOut: true, LimitHit: "memory", MaxPoints: 2, Visibility: "after_stop"},
				{Stage: "extra", State: grading.StepSkipped, Visibility: "hidden"},
				{Stage: "odd", State: grading.StepSkipped, Visibility: "someday"},
			}},
			want: gradescopeResults{Score: ptr(0.0), Output: "Score 0 / 2", Tests: []gradescopeTest{
				{Name: "run", Score: ptr(0.0), MaxScore: 2, Status: "failed", Output: "error (timed out, memory limit hit, killed by SIGKILL)", Visibility: "after_published"},
				{Name: "extra", Score: ptr(0.0), Status: "failed", Output: "skipped", Visibility: "hidden"},
				{Name: "odd", Score: ptr(0.0), Status: "failed", Output: "skipped", Visibility: "hidden"},
			}},
		},
		{
			name: "ungraded has no scores",
			give: grading.Result{Status: grading.StatusUngraded, MaxScore: 5, Diagnostic: "checker crashed", Steps: []grading.Step{
				{Stage: "judge", State: grading.StepError, ExitCode: intp(2), Points: 1, MaxPoints: 5},
			}},
			want: gradescopeResults{Output: "Not graded: checker crashed", Tests: []gradescopeTest{
				{Name: "judge", MaxScore: 5, Status: "failed", Output: "error (exit code 2)", Visibility: "visible"},
			}},
		},
		{
			name: "error without steps",
			give: grading.Result{Status: grading.StatusError, Diagnostic: "files missing"},
			want: gradescopeResults{Output: "Grading failed: files missing", Tests: []gradescopeTest{}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, toGradescope(tt.give))
		})
	}
}

func TestToPrairieLearn(t *testing.T) {
	tests := []struct {
		name         string
		give         grading.Result
		giveWithheld []bool
		want         prairieLearnResults
	}{
		{
			name: "graded",
			give: grading.Result{Status: grading.StatusGraded, Score: 7.5, MaxScore: 10, Steps: []grading.Step{
				{Stage: "tests", Scenario: "small", State: grading.StepSuccess, ExitCode: intp(0), Points: 5, MaxPoints: 5, Stdout: "3\n"},
				{Stage: "tests", Scenario: "big", State: grading.StepFailed, ExitCode: intp(1), Points: 2.5, MaxPoints: 5, Message: "line 2 differs", Stderr: "oops"},
			}},
			giveWithheld: []bool{false, false},
			want: prairieLearnResults{Gradable: true, Score: 0.75, Points: 7.5, MaxPoints: 10, Message: "Score 7.5 / 10", Tests: []prairieLearnTest{
				{Name: "tests: small", Points: 5, MaxPoints: 5, Output: "--- stdout ---\n3", Message: "success"},
				{Name: "tests: big", Points: 2.5, MaxPoints: 5, Output: "--- stderr ---\noops", Message: "failed (exit code 1)\n\nline 2 differs"},
			}},
		},
		{
			name: "withheld step",
			give: grading.Result{Status: grading.StatusGraded, Score: 1, MaxScore: 1, Steps: []grading.Step{
				{Stage: "hidden", State: grading.StepSuccess, ExitCode: intp(0), Points: 1, MaxPoints: 1},
			}},
			giveWithheld: []bool{true},
			want: prairieLearnResults{Gradable: true, Score: 1, Points: 1, MaxPoints: 1, Message: "Score 1 / 1", Tests: []prairieLearnTest{
				{Name: "hidden", Points: 1, MaxPoints: 1, Message: "success\n\nDetails are not visible yet."},
			}},
		},
		{
			name: "score above the maximum is clamped",
			give: grading.Result{Status: grading.StatusGraded, Score: 12, MaxScore: 10},
			want: prairieLearnResults{Gradable: true, Score: 1, Points: 12, MaxPoints: 10, Message: "Score 12 / 10", Tests: []prairieLearnTest{}},
		},
		{
			name: "nothing to earn",
			give: grading.Result{Status: grading.StatusGraded},
			want: prairieLearnResults{Gradable: true, Message: "Score 0 / 0", Tests: []prairieLearnTest{}},
		},
		{
			name: "ungraded is not gradable",
			give: grading.Result{Status: grading.StatusUngraded, MaxScore: 5, Diagnostic: "checker crashed", Steps: []grading.Step{
				{Stage: "judge", State: grading.StepError, Points: 3, MaxPoints: 5},
			}},
			want: prairieLearnResults{Gradable: false, MaxPoints: 5, Message: "Not graded: checker crashed", Output: "checker crashed", Tests: []prairieLearnTest{
				{Name: "judge", MaxPoints: 5, Message: "error"},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, toPrairieLearn(tt.give, tt.giveWithheld))
		})
	}
}
