package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func runDemoAgainst(t *testing.T, api *fakeAPI) (string, error) {
	t.Helper()
	srv := httptest.NewServer(api.handler())
	t.Cleanup(srv.Close)
	configYAML, deliveries, err := stubContent()
	require.NoError(t, err)
	var out bytes.Buffer
	d := &demoClient{base: srv.URL, http: newHTTPClient(), out: &out, every: time.Millisecond}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	err = d.run(ctx, configYAML, deliveries)
	return out.String(), err
}

func TestDemoFailsWhenBatchFails(t *testing.T) {
	out, err := runDemoAgainst(t, &fakeAPI{finalStatus: "failed"})
	assert.ErrorContains(t, err, "ended failed")
	assert.Contains(t, out, "Batch: failed\n", "results are printed anyway")
}

func TestDemoReportsNonJSONErrors(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	d := &demoClient{base: srv.URL, http: newHTTPClient(), out: &bytes.Buffer{}}
	err := d.run(t.Context(), stubConfig, nil)
	assert.ErrorContains(t, err, "POST /v1/collections: 404 Not Found: 404 page not found")
}

func TestDemoRejectsAnswerWithoutID(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusCreated, map[string]any{})
	}))
	t.Cleanup(srv.Close)
	d := &demoClient{base: srv.URL, http: newHTTPClient(), out: &bytes.Buffer{}}
	err := d.run(t.Context(), stubConfig, nil)
	assert.ErrorContains(t, err, "POST /v1/collections: answer has no id")
}

func TestPrintResultsMarksMismatches(t *testing.T) {
	three, zero := 3.0, 0.0
	var out bytes.Buffer
	err := printResults(&out, batchStatus{Status: "completed"},
		[]result{
			{User: "zed", Status: "graded", Score: &three, MaxScore: 10},
			{User: "bea", Status: "ungraded", MaxScore: 10},
			{User: "amy", Status: "graded", Score: &zero, MaxScore: 10},
		},
		[]delivery{{User: "amy", WantScore: 10}, {User: "bea", WantScore: 0}, {User: "zed", WantScore: 3}})
	require.NoError(t, err)
	lines := strings.Split(out.String(), "\n")
	assert.Regexp(t, `^amy\s+graded\s+0/10\s+10\s+no\s*$`, lines[1], "rows sorted by user")
	assert.Regexp(t, `^bea\s+ungraded\s+-/10\s+0\s+no\s*$`, lines[2], "no score is not a score of 0")
	assert.Regexp(t, `^zed\s+graded\s+3/10\s+3\s+yes\s*$`, lines[3])
	assert.Contains(t, out.String(), "Scores as expected: 1/3\n")
}

func TestResultsDecodeTheAPIShape(t *testing.T) {
	var got []result
	require.NoError(t, json.Unmarshal([]byte(`[{"delivery_id":"d1","user":"amy","score":4,"stages":[{"name":"run","state":"passed"}]}]`), &got))
	require.Len(t, got, 1)
	assert.Equal(t, "d1", got[0].DeliveryID)
	assert.Equal(t, 4.0, *got[0].Score)
	assert.Equal(t, "run:passed", steps(got[0].Stages))
}

func TestStepsShowScenarioAndFailingExitCode(t *testing.T) {
	one, zero := 1, 0
	got := steps([]step{
		{Name: "compile", State: "passed", ExitCode: &zero},
		{Name: "test", Scenario: "large", State: "failed", ExitCode: &one},
		{Name: "test", Scenario: "empty", State: "skipped"},
	})
	assert.Equal(t, "compile:passed test/large:failed(exit 1) test/empty:skipped", got)
}

func TestProgressTextFallsBackToRawJSON(t *testing.T) {
	assert.Equal(t, `{"percent":40}`, progressText(json.RawMessage(`{"percent":40}`)))
	assert.Equal(t, "3/9 done", progressText(json.RawMessage(`{"total":9,"done":3}`)))
	assert.Empty(t, progressText(nil))
}
