package definition_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/definition"
	"github.com/zinc-edu/orchestrator/internal/grading"
)

const (
	ok      = grading.StepSuccess
	failed  = grading.StepFailed
	errored = grading.StepError
	skipped = grading.StepSkipped
)

// states builds steps from "stage" or "stage/scenario" keys.
func states(pairs ...any) []grading.Step {
	var steps []grading.Step
	for i := 0; i+1 < len(pairs); i += 2 {
		name := pairs[i].(string)
		stage, scenario := name, ""
		for j := range name {
			if name[j] == '/' {
				stage, scenario = name[:j], name[j+1:]
				break
			}
		}
		steps = append(steps, grading.Step{Stage: stage, Scenario: scenario, State: pairs[i+1].(grading.StepState)})
	}
	return steps
}

func timedOut(steps []grading.Step, i int) []grading.Step {
	steps[i].TimedOut = true
	steps[i].Message = "timed out after 10s"
	return steps
}

func TestScoreVersion1(t *testing.T) {
	def := mustParse(t, string(readTestdata(t, "v1_hello.yaml")))
	tests := []struct {
		name       string
		give       []grading.Step
		wantStatus grading.ResultStatus
		wantScore  float64
		wantDiag   string
	}{
		{
			name:       "all pass",
			give:       states("compile", ok, "greets", ok, "exits-cleanly", ok, "lint", ok, "shouts", ok),
			wantStatus: grading.StatusGraded, wantScore: 10.5,
		},
		{
			name:       "compile error",
			give:       states("compile", failed, "greets", skipped, "exits-cleanly", skipped, "lint", skipped, "shouts", skipped),
			wantStatus: grading.StatusGraded, wantScore: 0,
		},
		{
			name:       "wrong answer",
			give:       states("compile", ok, "greets", failed, "exits-cleanly", ok, "lint", ok, "shouts", failed),
			wantStatus: grading.StatusGraded, wantScore: 2,
		},
		{
			name:       "failed points-0 stage skips later stages",
			give:       states("compile", ok, "greets", ok, "exits-cleanly", ok, "lint", failed, "shouts", skipped),
			wantStatus: grading.StatusGraded, wantScore: 8,
		},
		{
			name:       "timeout counts as not passed",
			give:       timedOut(states("compile", ok, "greets", errored, "exits-cleanly", ok, "lint", ok, "shouts", ok), 1),
			wantStatus: grading.StatusGraded, wantScore: 4.5,
		},
		{
			name:       "infrastructure error is ungraded",
			give:       states("compile", ok, "greets", ok, "exits-cleanly", errored, "lint", ok, "shouts", ok),
			wantStatus: grading.StatusUngraded,
			wantDiag:   `component "exits-cleanly": stage "exits-cleanly" ended in an error: error`,
		},
		{
			name:       "infrastructure error upstream is ungraded",
			give:       states("compile", errored, "greets", skipped, "exits-cleanly", skipped, "lint", skipped, "shouts", skipped),
			wantStatus: grading.StatusUngraded,
			wantDiag: `component "greets": stage "greets" was skipped because stage "compile" ended in an error: error; ` +
				`component "exits-cleanly": stage "exits-cleanly" was skipped because stage "compile" ended in an error: error; ` +
				`component "shouts": stage "shouts" was skipped because stage "compile" ended in an error: error`,
		},
		{
			name:       "missing step is ungraded",
			give:       states("compile", ok, "greets", ok, "exits-cleanly", ok, "lint", ok),
			wantStatus: grading.StatusUngraded,
			wantDiag:   `component "shouts": no result for stage "shouts"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := definition.Score(def, tt.give)
			assert.Equal(t, tt.wantStatus, got.Status)
			assert.Equal(t, tt.wantScore, got.Score)
			assert.Equal(t, 10.5, got.MaxScore)
			assert.Equal(t, tt.wantDiag, got.Diagnostic)
		})
	}
}

func TestScoreVersion1Components(t *testing.T) {
	def := mustParse(t, string(readTestdata(t, "v1_hello.yaml")))

	got := definition.Score(def, states("compile", ok, "greets", failed, "exits-cleanly", ok, "lint", ok, "shouts", ok))

	assert.Equal(t, []grading.Component{
		{Name: "greets", Score: 0, MaxScore: 6},
		{Name: "exits-cleanly", Score: 2, MaxScore: 2},
		{Name: "shouts", Score: 2.5, MaxScore: 2.5},
	}, got.Components)
	require.Len(t, got.Steps, 5)
	assert.Equal(t, [2]float64{0, 0}, [2]float64{got.Steps[0].Points, got.Steps[0].MaxPoints})
	assert.Equal(t, [2]float64{0, 6}, [2]float64{got.Steps[1].Points, got.Steps[1].MaxPoints})
	assert.Equal(t, [2]float64{2.5, 2.5}, [2]float64{got.Steps[4].Points, got.Steps[4].MaxPoints})
}

const scenarioStages = `
stages:
  - {name: build, command: [true]}
  - name: run
    command: [./a.out]
    scenarios: [{name: s1}, {name: s2}, {name: s3}, {name: s4}]
  - name: style
    command: [lint]
    depends_on: [build]
`

func TestScorePointsSplitAcrossScenarios(t *testing.T) {
	def := mustParse(t, "version: 2\n"+`
stages:
  - {name: build, command: [true]}
  - name: run
    command: [./a.out]
    points: 10
    scenarios: [{name: s1}, {name: s2}, {name: s3}, {name: s4}]
`)
	got := definition.Score(def, states("build", ok, "run/s1", ok, "run/s2", failed, "run/s3", ok, "run/s4", ok))

	assert.Equal(t, grading.StatusGraded, got.Status)
	assert.Equal(t, 7.5, got.Score)
	assert.Equal(t, 10.0, got.MaxScore)
	assert.Equal(t, 2.5, got.Steps[1].MaxPoints)
}

func TestScoreRubric(t *testing.T) {
	score := func(t *testing.T, rubric string, steps []grading.Step) definition.Scoring {
		t.Helper()
		def := mustParse(t, "version: 2\n"+scenarioStages+"rubric:\n"+rubric)
		return definition.Score(def, steps)
	}
	allPass := func() []grading.Step {
		return states("build", ok, "run/s1", ok, "run/s2", ok, "run/s3", ok, "run/s4", ok, "style", ok)
	}
	oneFails := func() []grading.Step {
		return states("build", ok, "run/s1", ok, "run/s2", failed, "run/s3", ok, "run/s4", ok, "style", failed)
	}

	t.Run("equal shares by default", func(t *testing.T) {
		got := score(t, "  components:\n    - {name: tests, from: run, max_score: 8}\n", oneFails())
		assert.Equal(t, grading.StatusGraded, got.Status)
		assert.Equal(t, 6.0, got.Score)
		assert.Equal(t, 8.0, got.MaxScore)
		assert.Equal(t, []grading.Component{{Name: "tests", Score: 6, MaxScore: 8}}, got.Components)
		assert.Equal(t, 2.0, got.Steps[1].Points)
		assert.Equal(t, 2.0, got.Steps[1].MaxPoints)
		assert.Equal(t, 0.0, got.Steps[2].Points)
	})
	t.Run("points each clamped to max_score", func(t *testing.T) {
		got := score(t, "  components:\n    - {name: tests, from: run, max_score: 10, points: 3}\n", allPass())
		assert.Equal(t, 10.0, got.Score)
		assert.Equal(t, []grading.Component{{Name: "tests", Score: 10, MaxScore: 10}}, got.Components)
		assert.Equal(t, 3.0, got.Steps[1].Points, "step points are not clamped")
	})
	t.Run("points per scenario", func(t *testing.T) {
		got := score(t, `  components:
    - name: tests
      from: run
      scenarios: [s1, s2, s3]
      max_score: 10
      points: 1
      points_per_scenario: {s2: 5, s3: 4}
`, states("build", ok, "run/s1", ok, "run/s2", failed, "run/s3", ok, "run/s4", failed, "style", ok))
		assert.Equal(t, 5.0, got.Score)
		assert.Equal(t, 0.0, got.Steps[4].MaxPoints, "s4 is not selected")
	})
	t.Run("partial credit from a checker", func(t *testing.T) {
		steps := allPass()
		steps[1].Points, steps[1].MaxPoints = 0.25, 1
		steps[2].State, steps[2].Points, steps[2].MaxPoints = failed, 0.5, 1
		got := score(t, "  components:\n    - {name: tests, from: run, max_score: 8}\n", steps)
		assert.Equal(t, 5.5, got.Score) // 0.25·2 + 0.5·2 + 2 + 2
		assert.Equal(t, 0.5, got.Steps[1].Points)
		assert.Equal(t, 2.0, got.Steps[1].MaxPoints)

		again := definition.Score(mustParse(t, "version: 2\n"+scenarioStages+"rubric:\n  components:\n    - {name: tests, from: run, max_score: 8}\n"), got.Steps)
		assert.Equal(t, got, again, "scoring scored steps gives the same result")
	})
	t.Run("all or nothing", func(t *testing.T) {
		rubric := `  components:
    - {name: tests, from: run, max_score: 4, mode: all_or_nothing}
    - {name: style, from: style, max_score: 1, mode: all_or_nothing}
`
		assert.Equal(t, 5.0, score(t, rubric, allPass()).Score)
		got := score(t, rubric, oneFails())
		assert.Equal(t, 0.0, got.Score)
		assert.Equal(t, []grading.Component{{Name: "tests", Score: 0, MaxScore: 4}, {Name: "style", Score: 0, MaxScore: 1}}, got.Components)
	})
	t.Run("all or nothing needs full credit", func(t *testing.T) {
		// A batch checker's {"pass": true, "score": 0} leaves a success
		// that earned nothing; it must not earn the whole component.
		steps := allPass()
		steps[1].Points, steps[1].MaxPoints = 0, 1
		got := score(t, "  components:\n    - {name: tests, from: run, max_score: 4, mode: all_or_nothing}\n", steps)
		assert.Equal(t, grading.StatusGraded, got.Status)
		assert.Equal(t, 0.0, got.Score)

		steps[1].Points = 1
		assert.Equal(t, 4.0, score(t, "  components:\n    - {name: tests, from: run, max_score: 4, mode: all_or_nothing}\n", steps).Score)
	})
	t.Run("normalised", func(t *testing.T) {
		rubric := `  components:
    - {name: tests, from: run, max_score: 8}
    - {name: style, from: style, max_score: 2}
  total: {normalize_to: 100}
`
		got := score(t, rubric, oneFails())
		assert.Equal(t, 60.0, got.Score) // 6 of 10
		assert.Equal(t, 100.0, got.MaxScore)
	})
	t.Run("normalised against total max_score, then clamped", func(t *testing.T) {
		rubric := `  components:
    - {name: tests, from: run, max_score: 8}
    - {name: bonus, from: style, max_score: 2}
  total: {max_score: 8, normalize_to: 20}
`
		assert.Equal(t, 20.0, score(t, rubric, allPass()).Score, "10/8·20 = 25 is clamped to 20")
		assert.Equal(t, 15.0, score(t, rubric, oneFails()).Score)
	})
	t.Run("total bounds", func(t *testing.T) {
		rubric := `  components:
    - {name: tests, from: run, max_score: 8}
  total: {min: 3, max: 7}
`
		assert.Equal(t, 7.0, score(t, rubric, allPass()).Score)
		none := states("build", ok, "run/s1", failed, "run/s2", failed, "run/s3", failed, "run/s4", failed, "style", ok)
		assert.Equal(t, 3.0, score(t, rubric, none).Score)
	})
	t.Run("rounded", func(t *testing.T) {
		got := score(t, "  components:\n    - {name: tests, from: run, max_score: 1, points: 0.1}\n", states("build", ok, "run/s1", ok, "run/s2", ok, "run/s3", ok, "run/s4", failed, "style", ok))
		assert.Equal(t, 0.3, got.Score)
	})
}

func TestScoreRubricErrors(t *testing.T) {
	const rubric = `rubric:
  components:
    - {name: tests, from: run, max_score: 8}
    - {name: style, from: style, max_score: 2}
`
	def := mustParse(t, "version: 2\n"+scenarioStages+rubric+"  limit_errors: ungraded\n")
	zero := mustParse(t, "version: 2\n"+scenarioStages+rubric)

	t.Run("timeout makes the component ungraded", func(t *testing.T) {
		steps := timedOut(states("build", ok, "run/s1", ok, "run/s2", ok, "run/s3", errored, "run/s4", ok, "style", ok), 3)
		got := definition.Score(def, steps)
		assert.Equal(t, grading.StatusUngraded, got.Status)
		assert.Equal(t, 0.0, got.Score)
		assert.Equal(t, 10.0, got.MaxScore)
		assert.Equal(t, `component "tests": stage "run" scenario "s3" ended in an error: timed out after 10s`, got.Diagnostic)
		assert.Equal(t, []grading.Component{{Name: "style", Score: 2, MaxScore: 2}}, got.Components, "only evaluable components")
	})
	t.Run("limit_errors zero scores a timeout 0", func(t *testing.T) {
		steps := timedOut(states("build", ok, "run/s1", ok, "run/s2", ok, "run/s3", errored, "run/s4", ok, "style", ok), 3)
		got := definition.Score(zero, steps)
		assert.Equal(t, grading.StatusGraded, got.Status)
		assert.Equal(t, 8.0, got.Score)
	})
	t.Run("limit_errors zero still refuses infrastructure errors", func(t *testing.T) {
		steps := states("build", ok, "run/s1", ok, "run/s2", ok, "run/s3", errored, "run/s4", ok, "style", ok)
		steps[3].Message = "sandbox unavailable"
		got := definition.Score(zero, steps)
		assert.Equal(t, grading.StatusUngraded, got.Status)
		assert.Equal(t, `component "tests": stage "run" scenario "s3" ended in an error: sandbox unavailable`, got.Diagnostic)
	})
	t.Run("memory limit is a limit error", func(t *testing.T) {
		steps := states("build", ok, "run/s1", errored, "run/s2", ok, "run/s3", ok, "run/s4", ok, "style", ok)
		steps[1].LimitHit = "memory"
		assert.Equal(t, 8.0, definition.Score(zero, steps).Score)
		assert.Equal(t, grading.StatusUngraded, definition.Score(def, steps).Status)
	})
	t.Run("skipped after a failure scores 0", func(t *testing.T) {
		got := definition.Score(def, states("build", failed, "run/s1", skipped, "run/s2", skipped, "run/s3", skipped, "run/s4", skipped, "style", skipped))
		assert.Equal(t, grading.StatusGraded, got.Status)
		assert.Equal(t, 0.0, got.Score)
	})
	t.Run("skipped after an error is ungraded", func(t *testing.T) {
		got := definition.Score(def, states("build", errored, "run/s1", skipped, "run/s2", skipped, "run/s3", skipped, "run/s4", skipped, "style", skipped))
		assert.Equal(t, grading.StatusUngraded, got.Status)
		assert.Empty(t, got.Components)
		assert.Equal(t, `component "tests": stage "run" scenario "s1" was skipped because stage "build" ended in an error: error; `+
			`component "style": stage "style" was skipped because stage "build" ended in an error: error`, got.Diagnostic)
	})
	t.Run("unknown state is ungraded", func(t *testing.T) {
		got := definition.Score(def, states("build", ok, "run/s1", grading.StepState("weird"), "run/s2", ok, "run/s3", ok, "run/s4", ok, "style", ok))
		assert.Equal(t, grading.StatusUngraded, got.Status)
		assert.Equal(t, `component "tests": stage "run" scenario "s1" has unknown state "weird"`, got.Diagnostic)
	})
}
