package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/propagation"
	sdktemporal "go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"gocloud.dev/blob"
	"gocloud.dev/blob/memblob"

	"github.com/zinc-edu/orchestrator/internal/archive"
	"github.com/zinc-edu/orchestrator/internal/definition"
	"github.com/zinc-edu/orchestrator/internal/environment"
	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/objectstore"
	"github.com/zinc-edu/orchestrator/internal/outbox"
	"github.com/zinc-edu/orchestrator/workflows"
)

// The worker's cache implements what the grader needs.
var _ Environments = (*environment.Cache)(nil)

var imageDigest = "sha256:" + strings.Repeat("ab", 32)

// fakeEnvironments hands out one directory per digest, or fails.
type fakeEnvironments struct {
	mu    sync.Mutex
	asked []string
	err   error
}

func (f *fakeEnvironments) RootFS(_ context.Context, digest string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, digest)
	if f.err != nil {
		return "", f.err
	}
	return "/cache/" + digest, nil
}

// environmentGrader grades configs that name an environment, stored as the
// API stores them (the parsed form with its digest).
func environmentGrader(t *testing.T, envs Environments) (*Grader, *blob.Bucket, *inputEngine) {
	t.Helper()
	def, err := definition.Parse([]byte("version: 2\nenvironment: {image: tiny}\nstages: [{name: run, command: [calc]}]\n"))
	require.NoError(t, err)
	def.Environment.Digest = imageDigest
	parsed, err := json.Marshal(def)
	require.NoError(t, err)
	noDigest, err := definition.Parse([]byte("version: 2\nenvironment: {image: tiny}\nstages: [{name: run, command: [calc]}]\n"))
	require.NoError(t, err)
	unresolved, err := json.Marshal(noDigest)
	require.NoError(t, err)
	fs := &fakeStore{configs: map[string]grading.Config{
		"env":        {ID: "env", Name: "e", Parsed: parsed},
		"unresolved": {ID: "unresolved", Name: "u", Parsed: unresolved},
	}}
	bucket := memblob.OpenBucket(nil)
	t.Cleanup(func() { _ = bucket.Close() })
	var buf bytes.Buffer
	_, err = archive.Pack(&buf, []archive.File{{Name: "main.txt", Data: []byte("add")}}, archive.Limits{})
	require.NoError(t, err)
	require.NoError(t, bucket.WriteAll(t.Context(), "deliveries/d1", buf.Bytes(), nil))
	e := &inputEngine{}
	g := NewGrader(fs, bucket, e, outbox.NewEncoder(propagation.TraceContext{}), slog.New(slog.DiscardHandler)).WithScratch(t.TempDir())
	if envs != nil {
		g = g.WithEnvironments(envs)
	}
	return g, bucket, e
}

func TestGradeRunsInTheConfigsEnvironment(t *testing.T) {
	envs := &fakeEnvironments{}
	g, _, e := environmentGrader(t, envs)

	_, err := g.Grade(t.Context(), "b1", "env", workflows.DeliveryRef{ID: "d1", User: "user-d1"})

	require.NoError(t, err)
	assert.Equal(t, []string{imageDigest}, envs.asked, "by the digest the config was stored with")
	assert.Equal(t, "/cache/"+imageDigest, e.in.RootFS)
}

func TestGradeWithoutAnEnvironmentUsesTheToolchain(t *testing.T) {
	envs := &fakeEnvironments{}
	a, fs, _ := newTestActivities(t, "d1")
	g := a.grader.WithEnvironments(envs)
	e := &inputEngine{}
	g.engine = e

	_, err := g.Grade(t.Context(), "b1", "cfg", workflows.DeliveryRef{ID: "d1", User: "user-d1"})

	require.NoError(t, err)
	assert.Empty(t, envs.asked)
	assert.Empty(t, e.in.RootFS)
	assert.Len(t, fs.saved, 1)
}

// A broken or missing image, a config without the digest, or a worker
// without environments fail for good; a transient fault is retried.
func TestEnvironmentFailures(t *testing.T) {
	tests := []struct {
		name         string
		envs         Environments
		config       string
		wantType     string
		wantRetrying bool
	}{
		{name: "image missing", envs: &fakeEnvironments{err: fmt.Errorf("x: %w", environment.ErrNotFound)}, config: "env", wantType: workflows.ErrTypeInvalidConfig},
		{name: "image broken", envs: &fakeEnvironments{err: &environment.InvalidError{Reason: "no shell"}}, config: "env", wantType: workflows.ErrTypeInvalidConfig},
		{name: "disk full", envs: &fakeEnvironments{err: fmt.Errorf("unpack image: no space left on device")}, config: "env", wantType: workflows.ErrTypeTransient, wantRetrying: true},
		{name: "no digest", envs: &fakeEnvironments{}, config: "unresolved", wantType: workflows.ErrTypeInvalidConfig},
		{name: "no environments on this worker", envs: nil, config: "env", wantType: workflows.ErrTypeInvalidConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, _, _ := environmentGrader(t, tt.envs)
			log := slog.New(slog.DiscardHandler)
			var ts testsuite.WorkflowTestSuite
			env := ts.NewTestActivityEnvironment()
			env.RegisterActivity(NewActivities(g, log))

			_, err := env.ExecuteActivity(workflows.ExecutePipelineName, workflows.ExecutePipelineInput{
				BatchID: "b", ConfigID: tt.config, Delivery: workflows.DeliveryRef{ID: "d1", User: "user-d1"},
			})

			var app *sdktemporal.ApplicationError
			require.ErrorAs(t, err, &app)
			assert.Equal(t, tt.wantType, app.Type())
			assert.Equal(t, tt.wantRetrying, !app.NonRetryable())
		})
	}
}

// A batch whose config names an image missing from object storage is
// refused before it grades anything.
func TestGetGradingConfigChecksTheImageIsStored(t *testing.T) {
	g, bucket, _ := environmentGrader(t, &fakeEnvironments{})
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	env.RegisterActivity(NewActivities(g, slog.New(slog.DiscardHandler)))

	_, err := env.ExecuteActivity(workflows.GetGradingConfigName, workflows.GradingConfigInput{ConfigID: "env"})
	var app *sdktemporal.ApplicationError
	require.ErrorAs(t, err, &app)
	assert.Equal(t, workflows.ErrTypeInvalidConfig, app.Type())
	assert.Contains(t, app.Error(), "is not in object storage")

	require.NoError(t, bucket.WriteAll(t.Context(), objectstore.EnvironmentKey(imageDigest), []byte("layout"), nil))
	_, err = env.ExecuteActivity(workflows.GetGradingConfigName, workflows.GradingConfigInput{ConfigID: "env"})
	require.NoError(t, err)
}
