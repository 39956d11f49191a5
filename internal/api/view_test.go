package api

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/definition"
	"github.com/zinc-edu/orchestrator/internal/grading"
)

func TestVisibleToStudent(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	before, after := now.Add(-time.Minute), now.Add(time.Minute)
	tests := []struct {
		name           string
		giveVisibility string
		giveDue        *time.Time
		giveStop       *time.Time
		want           bool
	}{
		{"unset", "", nil, nil, true},
		{"visible", "visible", nil, nil, true},
		{"hidden", "hidden", &before, &before, false},
		{"after due, passed", "after_due", &before, nil, true},
		{"after due, exactly now", "after_due", &now, nil, true},
		{"after due, not yet", "after_due", &after, nil, false},
		{"after due, no due date", "after_due", nil, &before, false},
		{"after stop, passed", "after_stop", &after, &before, true},
		{"after stop, not yet", "after_stop", &before, &after, false},
		{"after stop, no stop date", "after_stop", &before, nil, false},
		{"unknown", "later", &before, &before, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := grading.Collection{DueAt: tt.giveDue, StopAt: tt.giveStop}
			assert.Equal(t, tt.want, visibleToStudent(tt.giveVisibility, c, now))
		})
	}
}

func TestForStudentLeavesTheResultAlone(t *testing.T) {
	r := grading.Result{ObjectKey: "grading/d/r/result.json", Steps: visibilitySteps()}
	got, withheld := forStudent(r, grading.Collection{}, time.Now())
	assert.Equal(t, []bool{false, false, true, true, true}, withheld)
	assert.Empty(t, got.ObjectKey)
	for _, st := range got.Steps[2:] {
		assert.Empty(t, st.Stdout)
		assert.Nil(t, st.ExitCode, "a program could choose its exit status from the hidden input")
		assert.Zero(t, st.DurationMS, "or its run time")
		assert.Equal(t, grading.StepFailed, st.State)
		assert.Equal(t, 1.0, st.Points)
	}
	assert.NotNil(t, got.Steps[1].ExitCode, "a visible step keeps it")
	assert.Equal(t, visibilitySteps(), r.Steps, "the input keeps its output")
	assert.Equal(t, "grading/d/r/result.json", r.ObjectKey)
}

// A hidden scenario's message is withheld from the student because it may
// quote what the scenario hides: its checker's words, which may quote the
// expected output or (a testlib checker's "wrong output format" on exit 2)
// the student's own output, which the student's program filled with the
// hidden input. When that step ends in an error, Score repeats its message
// in the result's diagnostic, which the student view and the PrairieLearn
// export show: the diagnostic must not carry a withheld step's message.
func TestForStudentWithholdsTheDiagnosticOfHiddenSteps(t *testing.T) {
	def, err := definition.Parse([]byte(`version: 2
stages:
  - name: tests
    kind: checker
    command: [./main]
    checker: {command: [./check]}
    scenarios: [{name: public}, {name: secret, visibility: hidden}]
rubric:
  components: [{name: c, from: tests, max_score: 1}]
`))
	require.NoError(t, err)
	leak := `checker exited with status 2: wrong output format Expected integer, but "SECRET-INPUT" found`
	sc := definition.Score(def, []grading.Step{
		{Stage: "tests", Scenario: "public", State: grading.StepSuccess, Visibility: "visible"},
		{Stage: "tests", Scenario: "secret", State: grading.StepError, Message: leak, Visibility: "hidden"},
	})
	require.Contains(t, sc.Diagnostic, "SECRET-INPUT")
	r := grading.Result{Status: sc.Status, Steps: sc.Steps, Diagnostic: sc.Diagnostic}

	got, withheld := forStudent(r, grading.Collection{}, time.Now())
	assert.Equal(t, []bool{false, true}, withheld)
	assert.Empty(t, got.Steps[1].Message)
	assert.NotContains(t, got.Diagnostic, "SECRET-INPUT")
	assert.NotEmpty(t, got.Diagnostic, "the student still learns why there is no score")
	assert.Contains(t, r.Diagnostic, "SECRET-INPUT", "the input keeps its diagnostic")

	gs := toGradescope(r)
	assert.NotContains(t, gs.Output, "SECRET-INPUT", "Gradescope shows the top-level output to the student")
	assert.Contains(t, gs.Tests[1].Output, "SECRET-INPUT", "the hidden test keeps it, Gradescope hides it")
	assert.Equal(t, "hidden", gs.Tests[1].Visibility)

	pl := toPrairieLearn(got, withheld)
	assert.NotContains(t, pl.Output, "SECRET-INPUT")
	assert.NotContains(t, pl.Message, "SECRET-INPUT")
}
