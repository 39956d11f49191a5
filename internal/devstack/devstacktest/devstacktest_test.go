package devstacktest_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/zinc-edu/orchestrator/internal/devstack/devstacktest"
)

func double(_ workflow.Context, n int) (int, error) { return 2 * n, nil }

func TestTemporalNamespacesAreUsableAndDistinct(t *testing.T) {
	srv := devstacktest.Temporal(t)
	first := devstacktest.Namespace(t, srv)
	second := devstacktest.Namespace(t, srv)
	assert.NotEqual(t, first, second)

	c, err := client.Dial(client.Options{
		HostPort:  srv.Address(),
		Namespace: second,
		Logger:    sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)),
	})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	w := worker.New(c, "double", worker.Options{})
	w.RegisterWorkflowWithOptions(double, workflow.RegisterOptions{Name: "double"})
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: "double"}, "double", 21)
	require.NoError(t, err)
	var got int
	require.NoError(t, run.Get(ctx, &got))
	assert.Equal(t, 42, got)
}

func TestNATSURLPrefersEnvironment(t *testing.T) {
	t.Setenv("NATS_URL", "nats://nats.example:4222")
	assert.Equal(t, "nats://nats.example:4222", devstacktest.NATSURL(t))
}

func TestNATSURLStartsEmbeddedServer(t *testing.T) {
	t.Setenv("NATS_URL", "")
	url := devstacktest.NATSURL(t)

	nc, err := nats.Connect(url)
	require.NoError(t, err)
	defer nc.Close()
	js, err := nc.JetStream()
	require.NoError(t, err)
	_, err = js.AccountInfo()
	assert.NoError(t, err, "jetstream is enabled")
}
