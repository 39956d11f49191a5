package devstack_test

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/zinc-edu/orchestrator/internal/devstack"
)

// The Temporal tests do not use goleak: the server keeps process-wide
// goroutines (SQLite connection pool, gRPC resolvers, metrics) after Stop.

const (
	greetWorkflow = "greet"
	shoutActivity = "shout"
	taskQueue     = "devstack-test"
)

// greet is the trivial workflow the tests run: one activity, one result.
func greet(ctx workflow.Context, name string) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	var out string
	err := workflow.ExecuteActivity(ctx, shoutActivity, name).Get(ctx, &out)
	return "hello " + out, err
}

func shout(_ context.Context, s string) (string, error) { return strings.ToUpper(s), nil }

// testTimeout bounds each test's waits; a cold Temporal start takes seconds.
const testTimeout = 90 * time.Second

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

func startTemporal(t *testing.T, o devstack.TemporalOptions) *devstack.Temporal {
	t.Helper()
	srv, err := devstack.StartTemporal(testContext(t), o)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, srv.Stop()) })
	return srv
}

func dial(t *testing.T, address, namespace string) client.Client {
	t.Helper()
	c, err := client.Dial(client.Options{
		HostPort:  address,
		Namespace: namespace,
		Logger:    sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)),
	})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

// runWorker hosts greet and shout in this process until the test ends.
func runWorker(t *testing.T, c client.Client) {
	t.Helper()
	w := worker.New(c, taskQueue, worker.Options{})
	w.RegisterWorkflowWithOptions(greet, workflow.RegisterOptions{Name: greetWorkflow})
	w.RegisterActivityWithOptions(shout, activity.RegisterOptions{Name: shoutActivity})
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
}

func runGreet(t *testing.T, c client.Client, id string) string {
	t.Helper()
	ctx := testContext(t)
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: taskQueue}, greetWorkflow, "zinc")
	require.NoError(t, err)
	var got string
	require.NoError(t, run.Get(ctx, &got))
	return got
}

func TestTemporalInMemory(t *testing.T) {
	srv := startTemporal(t, devstack.TemporalOptions{Namespaces: []string{"default", "second"}})

	t.Run("runs a workflow and its activity", func(t *testing.T) {
		c := dial(t, srv.Address(), "default")
		runWorker(t, c)
		assert.Equal(t, "hello ZINC", runGreet(t, c, "greet-in-memory"))
	})

	t.Run("every start namespace is usable", func(t *testing.T) {
		c := dial(t, srv.Address(), "second")
		runWorker(t, c)
		assert.Equal(t, "hello ZINC", runGreet(t, c, "greet-second"))
	})

	t.Run("registered namespace is usable at once", func(t *testing.T) {
		require.NoError(t, srv.RegisterNamespace(testContext(t), "registered"))
		c := dial(t, srv.Address(), "registered")
		runWorker(t, c)
		assert.Equal(t, "hello ZINC", runGreet(t, c, "greet-registered"))
	})

	t.Run("registering an existing namespace succeeds", func(t *testing.T) {
		assert.NoError(t, srv.RegisterNamespace(testContext(t), "second"))
	})

	t.Run("ui serves its index page", func(t *testing.T) {
		require.NotEmpty(t, srv.UIAddress())
		req, err := http.NewRequestWithContext(testContext(t), http.MethodGet, "http://"+srv.UIAddress()+"/", nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		t.Cleanup(func() { _ = resp.Body.Close() })
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Contains(t, resp.Header.Get("Content-Type"), "text/html")
	})

	t.Run("addresses are on the default IP", func(t *testing.T) {
		assert.True(t, strings.HasPrefix(srv.Address(), "127.0.0.1:"), srv.Address())
		assert.True(t, strings.HasPrefix(srv.UIAddress(), "127.0.0.1:"), srv.UIAddress())
	})
}

func TestTemporalFileSurvivesRestart(t *testing.T) {
	file := filepath.Join(t.TempDir(), "temporal.db")
	o := devstack.TemporalOptions{DatabaseFile: file, UIPort: -1}

	first, err := devstack.StartTemporal(testContext(t), o)
	require.NoError(t, err)
	assert.Empty(t, first.UIAddress())
	c := dial(t, first.Address(), "default")
	w := worker.New(c, taskQueue, worker.Options{})
	w.RegisterWorkflowWithOptions(greet, workflow.RegisterOptions{Name: greetWorkflow})
	w.RegisterActivityWithOptions(shout, activity.RegisterOptions{Name: shoutActivity})
	require.NoError(t, w.Start())
	require.Equal(t, "hello ZINC", runGreet(t, c, "greet-durable"))
	w.Stop()
	c.Close()
	require.NoError(t, first.Stop())

	// Same file, new process-level server; the namespace already exists.
	second := startTemporal(t, o)
	c = dial(t, second.Address(), "default")
	ctx := testContext(t)
	desc, err := c.DescribeWorkflowExecution(ctx, "greet-durable", "")
	require.NoError(t, err)
	assert.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, desc.GetWorkflowExecutionInfo().GetStatus())
	var got string
	require.NoError(t, c.GetWorkflow(ctx, "greet-durable", "").Get(ctx, &got))
	assert.Equal(t, "hello ZINC", got)
}

func TestStartTemporalFailures(t *testing.T) {
	t.Run("database directory missing", func(t *testing.T) {
		_, err := devstack.StartTemporal(testContext(t), devstack.TemporalOptions{
			DatabaseFile: filepath.Join(t.TempDir(), "missing", "temporal.db"),
			UIPort:       -1,
		})
		assert.ErrorContains(t, err, "create temporal schema")
	})

	t.Run("ui port taken", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		t.Cleanup(func() { _ = l.Close() })
		_, err = devstack.StartTemporal(testContext(t), devstack.TemporalOptions{
			UIPort: l.Addr().(*net.TCPAddr).Port,
		})
		assert.ErrorContains(t, err, "in use")
	})

	t.Run("context ended", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := devstack.StartTemporal(ctx, devstack.TemporalOptions{UIPort: -1})
		assert.ErrorIs(t, err, context.Canceled)
	})
}
