package events_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/zinc-edu/orchestrator/internal/events"
	"github.com/zinc-edu/orchestrator/internal/servicedefaults"
)

func TestModuleLifecycle(t *testing.T) {
	cfg := testConfig(t)
	t.Setenv("ZINC_HEALTH_ADDR", "127.0.0.1:0")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("LOG_LEVEL", "warn")
	var (
		b *events.Bus
		h *servicedefaults.Health
	)
	app := fxtest.New(t,
		servicedefaults.Module,
		events.Module,
		fx.Supply(servicedefaults.BuildInfo{Name: "events-test"}, cfg),
		fx.NopLogger,
		fx.Populate(&b, &h),
	)
	app.RequireStart()

	assert.Empty(t, h.Check(context.Background()), "nats readiness passes")
	require.NoError(t, b.Publish(context.Background(), events.SubjectBatchCompleted, graded{DeliveryID: "m"}))

	app.RequireStop()

	failing := h.Check(context.Background())
	require.Len(t, failing, 1, "a drained bus is not ready")
	assert.Equal(t, "nats", failing[0].Name)
}
