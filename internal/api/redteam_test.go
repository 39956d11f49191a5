package api

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/definition"
	"github.com/zinc-edu/orchestrator/internal/grading"
)

// A hidden scenario's message is withheld from the student because it may
// quote what the scenario hides: its checker's words, which may quote the
// expected output or (a testlib checker's "wrong output format" on exit 2)
// the student's own output, which the student's program filled with the
// hidden input. When that step ends in an error, Score repeats its message
// in the result's diagnostic, which the student view and the PrairieLearn
// export show: the diagnostic must not carry a withheld step's message.
func TestRedteamForStudentWithholdsTheDiagnosticOfHiddenSteps(t *testing.T) {
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
