package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/batches"
	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/workflows"
)

func TestStartBatch(t *testing.T) {
	e := newEnv(t)
	c := e.newCollection(grading.Collection{})
	cfg := e.newConfig()
	r := e.doJSON(http.MethodPost, "/v1/batches", fmt.Sprintf(
		`{"collection_id": %q, "config_id": %q, "concurrency": 20, "chunk_size": 5, "lane": "pipeline-exam"}`, c.ID, cfg.ID))
	require.Equal(t, http.StatusAccepted, r.code, "body: %s", r.body)
	b := decode[grading.Batch](t, r)
	require.NotEmpty(t, b.ID)
	assert.Equal(t, workflows.BatchWorkflowID(c.ID, cfg.ID), b.WorkflowID)
	assert.Equal(t, grading.BatchRunning, b.Status)
	assert.Equal(t, "/v1/batches/"+b.ID, r.header.Get("Location"))
	assert.Equal(t, []batches.StartRequest{{
		CollectionID: c.ID, ConfigID: cfg.ID, Concurrency: 20, ChunkSize: 5, Lane: "pipeline-exam",
	}}, e.batches.started)

	r = e.doJSON(http.MethodPost, "/v1/batches", fmt.Sprintf(`{"collection_id": %q, "config_id": %q}`, c.ID, cfg.ID))
	requireError(t, r, http.StatusConflict, "already running")
	assert.Equal(t, 1, e.count("batch"))
}

func TestStartBatchRefusesBadInput(t *testing.T) {
	e := newEnv(t)
	c := e.newCollection(grading.Collection{})
	cfg := e.newConfig()
	tests := []struct {
		name       string
		give       string
		wantStatus int
		wantError  string
	}{
		{"unknown collection", fmt.Sprintf(`{"collection_id": "nope", "config_id": %q}`, cfg.ID), 404, "collection nope: not found"},
		{"unknown config", fmt.Sprintf(`{"collection_id": %q, "config_id": "nope"}`, c.ID), 404, "config nope: not found"},
		{"missing collection", fmt.Sprintf(`{"config_id": %q}`, cfg.ID), 400, "collection_id is required"},
		{"missing config", fmt.Sprintf(`{"collection_id": %q}`, c.ID), 400, "config_id is required"},
		{"concurrency too high", fmt.Sprintf(`{"collection_id": %q, "config_id": %q, "concurrency": 501}`, c.ID, cfg.ID), 400, "concurrency 501 is outside 1..500"},
		{"negative concurrency", fmt.Sprintf(`{"collection_id": %q, "config_id": %q, "concurrency": -1}`, c.ID, cfg.ID), 400, "concurrency -1 is outside 1..500"},
		{"negative chunk", fmt.Sprintf(`{"collection_id": %q, "config_id": %q, "chunk_size": -1}`, c.ID, cfg.ID), 400, "chunk_size -1 is negative"},
		{"wrong type", fmt.Sprintf(`{"collection_id": %q, "config_id": %q, "concurrency": "10"}`, c.ID, cfg.ID), 400, `field "concurrency" must be a JSON number, not string`},
		{"fractional", fmt.Sprintf(`{"collection_id": %q, "config_id": %q, "concurrency": 1.5}`, c.ID, cfg.ID), 400, `field "concurrency" must be a JSON number`},
		{"unknown field", fmt.Sprintf(`{"collection_id": %q, "config_id": %q, "priority": 1}`, c.ID, cfg.ID), 400, `unknown field "priority"`},
		{"malformed", `{"collection_id": `, 400, "malformed JSON"},
		{"unknown deliveries", fmt.Sprintf(`{"collection_id": %q, "config_id": %q, "deliveries": "every"}`, c.ID, cfg.ID), 400, `deliveries "every" is not "latest" or "all"`},
		{"deliveries not a string", fmt.Sprintf(`{"collection_id": %q, "config_id": %q, "deliveries": 2}`, c.ID, cfg.ID), 400, `field "deliveries"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.doJSON(http.MethodPost, "/v1/batches", tt.give)
			requireError(t, r, tt.wantStatus, tt.wantError)
			assert.Zero(t, e.count("batch"))
		})
	}
}

func TestGetBatch(t *testing.T) {
	e := newEnv(t)
	c := e.newCollection(grading.Collection{})
	cfg := e.newConfig()
	b := e.newBatch(c.ID, cfg.ID)
	e.batches.progress = workflows.Progress{
		Total: 10, Done: 4, Failed: 1, InFlight: 2, Concurrency: 2, PerSecond: 1.5, ETASeconds: 4,
		DurationP50MS: 100, DurationP95MS: 900, QueueWaitP50MS: 3, QueueWaitP95MS: 40,
	}

	r := e.do(http.MethodGet, "/v1/batches/"+b.ID, nil, "")
	require.Equal(t, http.StatusOK, r.code, "body: %s", r.body)
	got := object(t, r)
	assert.Equal(t, b.ID, got["id"])
	assert.Equal(t, b.WorkflowID, got["workflow_id"])
	assert.Equal(t, c.ID, got["collection_id"])
	assert.Equal(t, cfg.ID, got["config_id"])
	assert.Equal(t, "running", got["status"])
	assert.Contains(t, got, "summary")
	assert.Nil(t, got["summary"])
	progress, ok := got["progress"].(map[string]any)
	require.True(t, ok, "progress is an object: %v", got["progress"])
	for key, want := range map[string]float64{
		"total": 10, "done": 4, "failed": 1, "in_flight": 2, "per_second": 1.5, "eta_seconds": 4,
		"duration_p50_ms": 100, "duration_p95_ms": 900, "queue_wait_p50_ms": 3, "queue_wait_p95_ms": 40, "concurrency": 2,
	} {
		assert.Equal(t, want, progress[key], key)
	}
	assert.Equal(t, false, progress["paused"])

	summary := grading.Summary{Total: 2, Counts: grading.Counts{Graded: 1, Error: 1}, MeanScore: 5, MinScore: 5, MaxScore: 5, ScoreSum: 5, MaxPossible: 10,
		Failures: []grading.Failure{{DeliveryID: "d2", User: "bob", Status: grading.StatusError, Reason: "crash"}}}
	e.finish(b.ID, summary)
	r = e.do(http.MethodGet, "/v1/batches/"+b.ID, nil, "")
	require.Equal(t, http.StatusOK, r.code)
	view := decode[batchView](t, r)
	assert.Equal(t, grading.BatchCompleted, view.Status)
	require.NotNil(t, view.Summary)
	assert.Equal(t, summary, *view.Summary)

	requireError(t, e.do(http.MethodGet, "/v1/batches/nope", nil, ""), http.StatusNotFound, "batch nope: not found")
}

func TestBatchControls(t *testing.T) {
	e := newEnv(t)
	c := e.newCollection(grading.Collection{})
	cfg := e.newConfig()
	b := e.newBatch(c.ID, cfg.ID)
	path := "/v1/batches/" + b.ID

	r := e.do(http.MethodPost, path+"/pause", nil, "")
	require.Equal(t, http.StatusOK, r.code, "body: %s", r.body)
	assert.Equal(t, controlResponse{ID: b.ID, Action: "pause"}, decode[controlResponse](t, r))
	assert.True(t, e.batches.paused[b.ID])

	requireError(t, e.do(http.MethodPost, path+"/pause", nil, ""), http.StatusConflict, "already paused")

	r = e.do(http.MethodPost, path+"/resume", nil, "")
	require.Equal(t, http.StatusOK, r.code, "body: %s", r.body)
	assert.False(t, e.batches.paused[b.ID])
	requireError(t, e.do(http.MethodPost, path+"/resume", nil, ""), http.StatusConflict, "not paused")

	r = e.doJSON(http.MethodPatch, path, `{"concurrency": 7}`)
	require.Equal(t, http.StatusOK, r.code, "body: %s", r.body)
	assert.Equal(t, controlResponse{ID: b.ID, Action: "set_concurrency", Concurrency: 7}, decode[controlResponse](t, r))
	assert.Equal(t, 7, e.batches.concurrency[b.ID])

	r = e.do(http.MethodPost, path+"/cancel", nil, "")
	require.Equal(t, http.StatusAccepted, r.code, "body: %s", r.body)
	assert.True(t, e.batches.cancelled[b.ID])

	// A finished batch takes no control.
	e.finish(b.ID, grading.Summary{})
	for _, action := range []string{"pause", "resume", "cancel"} {
		requireError(t, e.do(http.MethodPost, path+"/"+action, nil, ""), http.StatusConflict, "the batch is completed")
	}
	requireError(t, e.doJSON(http.MethodPatch, path, `{"concurrency": 3}`), http.StatusConflict, "the batch is completed")

	for _, action := range []string{"pause", "resume", "cancel", "regrade-failed"} {
		requireError(t, e.do(http.MethodPost, "/v1/batches/nope/"+action, nil, ""), http.StatusNotFound, "batch nope: not found")
	}
}

func TestPatchBatchRefusesBadInput(t *testing.T) {
	e := newEnv(t)
	c := e.newCollection(grading.Collection{})
	cfg := e.newConfig()
	b := e.newBatch(c.ID, cfg.ID)
	tests := []struct {
		give      string
		wantError string
	}{
		{`{"concurrency": 0}`, "concurrency 0 is outside 1..500"},
		{`{"concurrency": 501}`, "concurrency 501 is outside 1..500"},
		{`{"concurrency": -3}`, "concurrency -3 is outside 1..500"},
		{`{}`, "concurrency is required"},
		{`{"concurrency": null}`, "concurrency is required"},
		{`{"concurrency": "5"}`, `field "concurrency" must be a JSON number, not string`},
		{`{"concurrency": 5, "paused": true}`, `unknown field "paused"`},
		{``, "request body is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			requireError(t, e.doJSON(http.MethodPatch, "/v1/batches/"+b.ID, tt.give), http.StatusBadRequest, tt.wantError)
			assert.Empty(t, e.batches.concurrency)
		})
	}
}

func TestRegradeFailed(t *testing.T) {
	e := newEnv(t)
	c := e.newCollection(grading.Collection{})
	cfg := e.newConfig()
	b := e.newBatch(c.ID, cfg.ID)

	requireError(t, e.do(http.MethodPost, "/v1/batches/"+b.ID+"/regrade-failed", nil, ""), http.StatusConflict, "still running")

	e.finish(b.ID, grading.Summary{Total: 1, Counts: grading.Counts{Error: 1}})
	r := e.do(http.MethodPost, "/v1/batches/"+b.ID+"/regrade-failed", nil, "")
	require.Equal(t, http.StatusAccepted, r.code, "body: %s", r.body)
	regrade := decode[grading.Batch](t, r)
	assert.NotEqual(t, b.ID, regrade.ID)
	assert.Equal(t, "/v1/batches/"+regrade.ID, r.header.Get("Location"))
	assert.Equal(t, grading.BatchRunning, regrade.Status)
	assert.Equal(t, 2, e.count("batch"))
}

func TestBatchResults(t *testing.T) {
	e := newEnv(t)
	c := e.newCollection(grading.Collection{})
	cfg := e.newConfig()
	b := e.newBatch(c.ID, cfg.ID)
	ada := e.newDelivery(c.ID, "ada")
	bob := e.newDelivery(c.ID, "bob")
	zero, one := 0, 1
	_, err := e.store.SaveResult(t.Context(), grading.Result{
		DeliveryID: ada.ID, ConfigID: cfg.ID, BatchID: b.ID, Status: grading.StatusGraded, Score: 5, MaxScore: 5,
		Steps: []grading.Step{
			{Stage: "compile", State: grading.StepSuccess, ExitCode: &zero, DurationMS: 300, Stdout: "ok"},
			{Stage: "run", Scenario: "small", State: grading.StepSuccess, ExitCode: &zero, DurationMS: 12, Points: 5, MaxPoints: 5},
		},
	})
	require.NoError(t, err)
	_, err = e.store.SaveResult(t.Context(), grading.Result{
		DeliveryID: bob.ID, ConfigID: cfg.ID, BatchID: b.ID, Status: grading.StatusUngraded, MaxScore: 5,
		Diagnostic: "checker crashed",
		Steps: []grading.Step{
			{Stage: "compile", State: grading.StepFailed, ExitCode: &one, DurationMS: 200},
			{Stage: "run", Scenario: "small", State: grading.StepError, Signal: "SIGKILL", TimedOut: true, LimitHit: "memory", DurationMS: 2000, MaxPoints: 5,
				Message: "timed out after 2s", Diff: `line 1: expected "3", got "4"`},
			{Stage: "run", Scenario: "big", State: grading.StepSkipped, MaxPoints: 5},
		},
	})
	require.NoError(t, err)

	r := e.do(http.MethodGet, "/v1/batches/"+b.ID+"/results", nil, "")
	require.Equal(t, http.StatusOK, r.code, "body: %s", r.body)
	assert.JSONEq(t, fmt.Sprintf(`[
	  {"delivery_id": %q, "user": "ada", "status": "graded", "score": 5, "max_score": 5, "stages": [
	    {"name": "compile", "state": "success", "exit_code": 0, "duration_ms": 300},
	    {"name": "run", "scenario": "small", "state": "success", "exit_code": 0, "duration_ms": 12, "points": 5}
	  ]},
	  {"delivery_id": %q, "user": "bob", "status": "ungraded", "score": null, "max_score": 5, "diagnostic": "checker crashed", "stages": [
	    {"name": "compile", "state": "failed", "exit_code": 1, "duration_ms": 200},
	    {"name": "run", "scenario": "small", "state": "error", "exit_code": null, "signal": "SIGKILL", "timed_out": true, "limit_hit": "memory", "duration_ms": 2000, "points": 0,
	     "message": "timed out after 2s", "diff": "line 1: expected \"3\", got \"4\""},
	    {"name": "run", "scenario": "big", "state": "skipped", "exit_code": null, "duration_ms": 0, "points": 0}
	  ]}
	]`, ada.ID, bob.ID), string(r.body))

	r = e.do(http.MethodGet, "/v1/batches/"+b.ID+"/results.csv", nil, "")
	require.Equal(t, http.StatusOK, r.code, "body: %s", r.body)
	assert.Equal(t, "user,status,score,max_score,delivery_id,diagnostic\n"+
		"ada,graded,5,5,"+ada.ID+",\n"+
		"bob,ungraded,,5,"+bob.ID+",checker crashed\n", string(r.body))
	r = e.do(http.MethodGet, "/v1/batches/"+b.ID+"/results.csv?scenarios=1", nil, "")
	require.Equal(t, http.StatusOK, r.code, "body: %s", r.body)
	assert.Equal(t, "user,status,score,max_score,delivery_id,diagnostic,compile,run/small,run/big\n"+
		"ada,graded,5,5,"+ada.ID+",,success,5,\n"+
		"bob,ungraded,,5,"+bob.ID+",checker crashed,failed,0,0\n", string(r.body))
	requireError(t, e.do(http.MethodGet, "/v1/batches/"+b.ID+"/results.csv?scenarios=yes", nil, ""), http.StatusBadRequest, "scenarios")

	empty := e.newBatch(c.ID, cfg.ID)
	r = e.do(http.MethodGet, "/v1/batches/"+empty.ID+"/results", nil, "")
	require.Equal(t, http.StatusOK, r.code)
	assert.JSONEq(t, `[]`, string(r.body))

	requireError(t, e.do(http.MethodGet, "/v1/batches/nope/results", nil, ""), http.StatusNotFound, "batch nope: not found")
}

// TestBatchResultsCSVDefusesFormulas: a user name or diagnostic a
// spreadsheet would run as a formula is written as text.
func TestBatchResultsCSVDefusesFormulas(t *testing.T) {
	e := newEnv(t)
	c := e.newCollection(grading.Collection{})
	cfg := e.newConfig()
	b := e.newBatch(c.ID, cfg.ID)
	d := e.newDelivery(c.ID, `=HYPERLINK("http://127.0.0.1/x")`)
	_, err := e.store.SaveResult(t.Context(), grading.Result{
		DeliveryID: d.ID, ConfigID: cfg.ID, BatchID: b.ID, Status: grading.StatusUngraded, MaxScore: 1, Diagnostic: "@SUM(1)",
	})
	require.NoError(t, err)

	r := e.do(http.MethodGet, "/v1/batches/"+b.ID+"/results.csv", nil, "")
	require.Equal(t, http.StatusOK, r.code, "body: %s", r.body)
	assert.Equal(t, "user,status,score,max_score,delivery_id,diagnostic\n"+
		`"'=HYPERLINK(""http://127.0.0.1/x"")",ungraded,,1,`+d.ID+",'@SUM(1)\n", string(r.body))
}

// TestStartBatchOfAllDeliveries: "deliveries": "all" reaches the service,
// the batch shows it, its results list a user once per graded delivery,
// and its regrade keeps to all deliveries.
func TestStartBatchOfAllDeliveries(t *testing.T) {
	e := newEnv(t)
	c := e.newCollection(grading.Collection{})
	cfg := e.newConfig()
	ada1 := e.newDelivery(c.ID, "ada")
	ada2 := e.newDelivery(c.ID, "ada")

	r := e.doJSON(http.MethodPost, "/v1/batches", fmt.Sprintf(`{"collection_id": %q, "config_id": %q, "deliveries": "all"}`, c.ID, cfg.ID))
	require.Equal(t, http.StatusAccepted, r.code, "body: %s", r.body)
	b := decode[grading.Batch](t, r)
	assert.Equal(t, grading.DeliveriesAll, b.Deliveries)
	assert.Equal(t, []batches.StartRequest{{CollectionID: c.ID, ConfigID: cfg.ID, Deliveries: grading.DeliveriesAll}}, e.batches.started)

	for _, d := range []grading.Delivery{ada1, ada2} {
		_, err := e.store.SaveResult(t.Context(), grading.Result{
			DeliveryID: d.ID, ConfigID: cfg.ID, BatchID: b.ID, Status: grading.StatusGraded, Score: 1, MaxScore: 2,
		})
		require.NoError(t, err)
	}
	r = e.do(http.MethodGet, "/v1/batches/"+b.ID+"/results", nil, "")
	require.Equal(t, http.StatusOK, r.code, "body: %s", r.body)
	type row struct {
		DeliveryID string `json:"delivery_id"`
		User       string `json:"user"`
	}
	var rows []row
	require.NoError(t, json.Unmarshal(r.body, &rows))
	require.Len(t, rows, 2)
	assert.Equal(t, []string{"ada", "ada"}, []string{rows[0].User, rows[1].User})
	assert.ElementsMatch(t, []string{ada1.ID, ada2.ID}, []string{rows[0].DeliveryID, rows[1].DeliveryID})

	r = e.do(http.MethodGet, "/v1/batches/"+b.ID+"/results.csv", nil, "")
	require.Equal(t, http.StatusOK, r.code, "body: %s", r.body)
	assert.Equal(t, "user,status,score,max_score,delivery_id,diagnostic\n"+
		"ada,graded,1,2,"+rows[0].DeliveryID+",\n"+
		"ada,graded,1,2,"+rows[1].DeliveryID+",\n", string(r.body))

	r = e.do(http.MethodGet, "/v1/batches/"+b.ID, nil, "")
	require.Equal(t, http.StatusOK, r.code, "body: %s", r.body)
	assert.Contains(t, string(r.body), `"deliveries":"all"`)

	e.finish(b.ID, grading.Summary{Total: 2, Counts: grading.Counts{Error: 1, Graded: 1}})
	r = e.do(http.MethodPost, "/v1/batches/"+b.ID+"/regrade-failed", nil, "")
	require.Equal(t, http.StatusAccepted, r.code, "body: %s", r.body)
	assert.Equal(t, grading.DeliveriesAll, decode[grading.Batch](t, r).Deliveries)
}

// TestStartBatchRegradeOfIsScoped: POST /v1/batches takes an optional
// regrade_of, the batch whose failed deliveries the new batch grades, and
// whose results then list the new batch's. A batch of a course the caller
// does not teach is unknown: otherwise an instructor of one course grades
// another course's deliveries with a config of their own (reading those
// students' files through its output) and injects rows into the other
// course's results. (The batch service refuses a batch of another
// collection or config.)
func TestStartBatchRegradeOfIsScoped(t *testing.T) {
	// setup returns a fresh API with two courses and an instructor of the
	// first, and a way to start a batch as that instructor.
	setup := func(t *testing.T) (e *env, mine, theirs courseFixture, start func(collection, config, regradeOf string) response) {
		t.Helper()
		e = newEnv(t)
		mine, theirs = e.courseFixture("mine"), e.courseFixture("theirs")
		inst := e.as(e.apiKey(grading.RoleInstructor, "", mine.course.ID))
		start = func(collection, config, regradeOf string) response {
			t.Helper()
			return inst.doJSON(http.MethodPost, "/v1/batches",
				fmt.Sprintf(`{"collection_id":%q,"config_id":%q,"regrade_of":%q}`, collection, config, regradeOf))
		}
		return e, mine, theirs, start
	}

	t.Run("a batch of another course is unknown", func(t *testing.T) {
		e, mine, theirs, start := setup(t)
		r := start(mine.collection.ID, mine.config.ID, theirs.finished.ID)
		body := requireError(t, r, http.StatusNotFound, theirs.finished.ID)
		assert.NotContains(t, body.Error, theirs.course.ID)
		assert.Empty(t, e.batches.started, "no batch may start")
	})

	t.Run("the batch's own collection and config start", func(t *testing.T) {
		e, mine, _, start := setup(t)
		r := start(mine.collection.ID, mine.config.ID, mine.finished.ID)
		require.Equal(t, http.StatusAccepted, r.code, "body: %s", r.body)
		require.Len(t, e.batches.started, 1)
		assert.Equal(t, mine.finished.ID, e.batches.started[0].RegradeOf)
	})
}
