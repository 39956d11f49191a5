package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/api"
	"github.com/zinc-edu/orchestrator/internal/auth"
	"github.com/zinc-edu/orchestrator/internal/harness"
)

// realAPI serves the real API handler over the in-process stack (embedded
// Temporal, NATS, SQLite) with the no-op engine, and returns its URL and an
// admin key.
func realAPI(t *testing.T) (string, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts the in-process stack")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	st, err := harness.Start(ctx, harness.Options{
		Dir: t.TempDir(), Engine: &harness.NoopEngine{}, NATSURL: os.Getenv("NATS_URL"),
		Stream: "ZINCDEMO", SubjectPrefix: "zincdemo", TaskQueuePrefix: "demo",
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Stop()) })
	const token = auth.KeyPrefix + "demo-test-admin"
	h, err := st.API(ctx, api.Config{}, token)
	require.NoError(t, err)
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts.URL, token
}

// TestDemoGradesThroughTheRealAPI runs the demo client against the real API.
// The no-op engine gives every delivery full marks, so the demo's own
// expectations match only where they are full marks too.
func TestDemoGradesThroughTheRealAPI(t *testing.T) {
	base, token := realAPI(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	configYAML, deliveries, err := demoContent()
	require.NoError(t, err)
	var out bytes.Buffer
	d := &demoClient{base: base, token: token, http: newHTTPClient(), out: &out, every: 50 * time.Millisecond}
	require.NoError(t, d.run(ctx, configYAML, deliveries))

	text := out.String()
	assert.Regexp(t, `(?m)^Demo: collection \S+, \d+ deliveries, batch \S+ \(workflow batch-grading:\S+\)$`, text)
	assert.Regexp(t, `(?m)^USER\s+STATUS\s+SCORE\s+EXPECTED\s+MATCH\s+STEPS$`, text)
	for _, dl := range deliveries {
		assert.Regexp(t, `(?m)^`+dl.User+`\s+graded\s`, text, "one graded row per delivery")
	}
	assert.Contains(t, text, "Batch: completed\n")
	assert.Regexp(t, `(?m)^Scores as expected: \d+/`+strconv.Itoa(len(deliveries))+`$`, text)
}

func TestDemoReportsTheAPIsErrors(t *testing.T) {
	base, token := realAPI(t)
	var out bytes.Buffer
	d := &demoClient{base: base, token: token, http: newHTTPClient(), out: &out}
	err := d.run(t.Context(), "version: 1\nname: demo\nstages:\n  - name: compile\n", nil)
	require.Error(t, err)
	assert.ErrorContains(t, err, "POST /v1/grading-configs: 400 Bad Request: ")
	assert.Empty(t, out.String())
}
