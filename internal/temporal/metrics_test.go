package temporal_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
	"go.temporal.io/sdk/client"

	"github.com/zinc-edu/orchestrator/internal/temporal"
)

// TestSDKMetricsGoThroughOpenTelemetry dials a real embedded Temporal server
// with a meter provider read by hand and checks that the SDK's own metrics
// (its request counter, by operation) arrive there.
func TestSDKMetricsGoThroughOpenTelemetry(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	srv := startTemporal(t, ctx)

	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	cfg := temporal.Config{HostPort: srv.Address(), Namespace: "default", TaskQueuePrefix: "zinc"}
	c, err := temporal.Dial(ctx, cfg, slog.New(slog.DiscardHandler), tracenoop.NewTracerProvider(), mp)
	require.NoError(t, err)
	t.Cleanup(c.Close)

	// No worker polls this queue: starting the workflow is the request.
	_, err = c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "metrics-test", TaskQueue: "nobody"}, "NoSuchWorkflow")
	require.NoError(t, err)

	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(ctx, &rm))
	var requests int64
	var scopes []string
	for _, sm := range rm.ScopeMetrics {
		scopes = append(scopes, sm.Scope.Name)
		for _, m := range sm.Metrics {
			if m.Name != "temporal_request" {
				continue
			}
			sum, ok := m.Data.(metricdata.Sum[int64])
			require.True(t, ok, "temporal_request is a counter, got %T", m.Data)
			for _, dp := range sum.DataPoints {
				if op, _ := dp.Attributes.Value(attribute.Key("operation")); op.AsString() == "StartWorkflowExecution" {
					requests += dp.Value
					ns, _ := dp.Attributes.Value(attribute.Key("namespace"))
					assert.Equal(t, "default", ns.AsString())
				}
			}
		}
	}
	assert.Contains(t, scopes, "github.com/zinc-edu/orchestrator/internal/temporal", "the SDK meters under this package's scope")
	assert.Equal(t, int64(1), requests, "one StartWorkflowExecution request counted")
}
