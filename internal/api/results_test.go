package api

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/grading"
)

// visibilitySteps has one step per visibility rule, each with output.
func visibilitySteps() []grading.Step {
	zero := 0
	step := func(stage, scenario, visibility string) grading.Step {
		return grading.Step{
			Stage: stage, Scenario: scenario, State: grading.StepFailed, ExitCode: &zero, DurationMS: 5,
			Points: 1, MaxPoints: 2, Message: "expected 42, got 41", Stdout: "41\n", Stderr: "warn\n",
			Truncated: true, Visibility: visibility,
		}
	}
	return []grading.Step{
		step("build", "", ""),
		step("tests", "visible", "visible"),
		step("tests", "hidden", "hidden"),
		step("tests", "after-due", "after_due"),
		step("tests", "after-stop", "after_stop"),
	}
}

// resultFixture stores a graded result for a delivery in a collection with
// the given dates.
func (e *env) resultFixture(c grading.Collection) (grading.Delivery, grading.Config) {
	e.t.Helper()
	c = e.newCollection(c)
	d := e.newDelivery(c.ID, "ada")
	cfg := e.newConfig()
	_, err := e.store.SaveResult(e.t.Context(), grading.Result{
		DeliveryID: d.ID, ConfigID: cfg.ID, Status: grading.StatusGraded, Score: 7.5, MaxScore: 10,
		Components: []grading.Component{{Name: "tests", Score: 7.5, MaxScore: 10}},
		Steps:      visibilitySteps(), ObjectKey: "grading/" + d.ID + "/run/result.json",
		GradedAt: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC),
	})
	require.NoError(e.t, err)
	return d, cfg
}

func TestDeliveryResultStaffView(t *testing.T) {
	e := newEnv(t)
	d, cfg := e.resultFixture(grading.Collection{DueAt: &future})
	for _, target := range []string{"", "?view=staff"} {
		r := e.do(http.MethodGet, "/v1/deliveries/"+d.ID+"/results/"+cfg.ID+target, nil, "")
		require.Equal(t, http.StatusOK, r.code, "body: %s", r.body)
		v := decode[resultView](t, r)
		assert.Equal(t, "staff", v.View)
		assert.Equal(t, d.ID, v.DeliveryID)
		assert.Equal(t, cfg.ID, v.ConfigID)
		assert.Equal(t, "ada", v.User)
		require.NotNil(t, v.Score)
		assert.InDelta(t, 7.5, *v.Score, 0)
		assert.Equal(t, 1, v.Attempt)
		assert.Equal(t, []grading.Component{{Name: "tests", Score: 7.5, MaxScore: 10}}, v.Components)
		require.Len(t, v.Stages, 5)
		for _, st := range v.Stages {
			assert.Equal(t, "41\n", st.Stdout, st.Scenario)
			assert.Equal(t, "warn\n", st.Stderr, st.Scenario)
			assert.Equal(t, "expected 42, got 41", st.Message, st.Scenario)
			assert.False(t, st.Withheld, st.Scenario)
		}
	}
}

func TestDeliveryResultStudentView(t *testing.T) {
	tests := []struct {
		name         string
		giveDue      *time.Time
		giveStop     *time.Time
		wantWithheld []bool // build, visible, hidden, after-due, after-stop
	}{
		{name: "before the due date", giveDue: &future, giveStop: &future, wantWithheld: []bool{false, false, true, true, true}},
		{name: "after the due date", giveDue: &past, giveStop: &future, wantWithheld: []bool{false, false, true, false, true}},
		{name: "after the stop date", giveDue: &past, giveStop: &past, wantWithheld: []bool{false, false, true, false, false}},
		{name: "no dates", wantWithheld: []bool{false, false, true, true, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			d, cfg := e.resultFixture(grading.Collection{DueAt: tt.giveDue, StopAt: tt.giveStop})
			r := e.do(http.MethodGet, "/v1/deliveries/"+d.ID+"/results/"+cfg.ID+"?view=student", nil, "")
			require.Equal(t, http.StatusOK, r.code, "body: %s", r.body)
			v := decode[resultView](t, r)
			assert.Equal(t, "student", v.View)
			require.NotNil(t, v.Score, "the score is shown")
			assert.InDelta(t, 7.5, *v.Score, 0)
			require.Len(t, v.Stages, len(tt.wantWithheld))
			for i, st := range v.Stages {
				assert.Equal(t, tt.wantWithheld[i], st.Withheld, st.Scenario)
				assert.Equal(t, grading.StepFailed, st.State, "the state is always shown")
				require.NotNil(t, st.Points)
				assert.InDelta(t, 1.0, *st.Points, 0, "the points are always shown")
				if tt.wantWithheld[i] {
					assert.Empty(t, st.Stdout, st.Scenario)
					assert.Empty(t, st.Stderr, st.Scenario)
					assert.Empty(t, st.Message, st.Scenario)
					assert.False(t, st.Truncated, st.Scenario)
				} else {
					assert.Equal(t, "41\n", st.Stdout, st.Scenario)
					assert.Equal(t, "expected 42, got 41", st.Message, st.Scenario)
				}
			}
		})
	}
}

func TestDeliveryResultRefusesBadInput(t *testing.T) {
	e := newEnv(t)
	d, cfg := e.resultFixture(grading.Collection{})
	base := "/v1/deliveries/" + d.ID + "/results/"

	requireError(t, e.do(http.MethodGet, base+cfg.ID+"?view=teacher", nil, ""), http.StatusBadRequest, `view "teacher" is not "staff" or "student"`)
	for _, suffix := range []string{"", "/gradescope", "/prairielearn"} {
		requireError(t, e.do(http.MethodGet, base+"nope"+suffix, nil, ""), http.StatusNotFound, "not found")
		requireError(t, e.do(http.MethodGet, "/v1/deliveries/nope/results/"+cfg.ID+suffix, nil, ""), http.StatusNotFound, "not found")
	}
}

func TestGradescopeExport(t *testing.T) {
	e := newEnv(t)
	d, cfg := e.resultFixture(grading.Collection{DueAt: &future})
	r := e.do(http.MethodGet, "/v1/deliveries/"+d.ID+"/results/"+cfg.ID+"/gradescope", nil, "")
	require.Equal(t, http.StatusOK, r.code, "body: %s", r.body)
	got := decode[gradescopeResults](t, r)
	require.NotNil(t, got.Score)
	assert.InDelta(t, 7.5, *got.Score, 0)
	require.Len(t, got.Tests, 5)
	var visibilities []string
	for _, test := range got.Tests {
		visibilities = append(visibilities, test.Visibility)
		assert.Contains(t, test.Output, "--- stdout ---\n41", "Gradescope hides tests itself, so output is kept")
	}
	assert.Equal(t, []string{"visible", "visible", "hidden", "after_due_date", "after_published"}, visibilities)
}

func TestPrairieLearnExport(t *testing.T) {
	e := newEnv(t)
	d, cfg := e.resultFixture(grading.Collection{DueAt: &past})
	r := e.do(http.MethodGet, "/v1/deliveries/"+d.ID+"/results/"+cfg.ID+"/prairielearn", nil, "")
	require.Equal(t, http.StatusOK, r.code, "body: %s", r.body)
	got := decode[prairieLearnResults](t, r)
	assert.True(t, got.Gradable)
	assert.InDelta(t, 0.75, got.Score, 1e-9)
	assert.InDelta(t, 7.5, got.Points, 0)
	assert.InDelta(t, 10.0, got.MaxPoints, 0)
	require.Len(t, got.Tests, 5)
	var withOutput []string
	for _, test := range got.Tests {
		if test.Output != "" {
			withOutput = append(withOutput, test.Name)
		}
	}
	// Hidden and after-stop steps keep their output out of PrairieLearn,
	// which shows everything to students.
	assert.Equal(t, []string{"build", "tests: visible", "tests: after-due"}, withOutput)
}

// The command a compile stage ran is part of its result: staff see it, and
// so does a student once the step is visible to them.
// commandView is the part of a result view this test reads.
type commandView struct {
	Stages []struct {
		Command []string `json:"command"`
	} `json:"stages"`
}

func TestDeliveryResultShowsTheCompileCommand(t *testing.T) {
	e := newEnv(t)
	c := e.newCollection(grading.Collection{DueAt: &future})
	d := e.newDelivery(c.ID, "ada")
	cfg := e.newConfig()
	zero := 0
	build := []string{"gcc", "-std=gnu17", "-o", "sum", "main.c", "-lm"}
	_, err := e.store.SaveResult(e.t.Context(), grading.Result{
		DeliveryID: d.ID, ConfigID: cfg.ID, Status: grading.StatusGraded, Score: 0, MaxScore: 1,
		Steps: []grading.Step{
			{Stage: "build", State: grading.StepSuccess, ExitCode: &zero, Visibility: "visible", Command: build},
			{Stage: "secret-build", State: grading.StepSuccess, ExitCode: &zero, Visibility: "hidden", Command: []string{"gcc", "-DSECRET"}},
		},
		GradedAt: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC),
	})
	require.NoError(t, err)

	r := e.do(http.MethodGet, "/v1/deliveries/"+d.ID+"/results/"+cfg.ID, nil, "")
	require.Equal(t, http.StatusOK, r.code, "body: %s", r.body)
	var v commandView
	require.NoError(t, json.Unmarshal(r.body, &v))
	require.Len(t, v.Stages, 2)
	assert.Equal(t, build, v.Stages[0].Command)
	assert.Equal(t, []string{"gcc", "-DSECRET"}, v.Stages[1].Command)

	r = e.do(http.MethodGet, "/v1/deliveries/"+d.ID+"/results/"+cfg.ID+"?view=student", nil, "")
	require.Equal(t, http.StatusOK, r.code, "body: %s", r.body)
	v = commandView{}
	require.NoError(t, json.Unmarshal(r.body, &v))
	require.Len(t, v.Stages, 2)
	assert.Equal(t, build, v.Stages[0].Command)
	assert.Nil(t, v.Stages[1].Command, "a withheld step keeps its command from the student")
}
