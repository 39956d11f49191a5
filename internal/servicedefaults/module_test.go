package servicedefaults_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/zinc-edu/orchestrator/internal/servicedefaults"
)

func TestModuleLifecycle(t *testing.T) {
	clearEnv(t)
	var (
		h    *servicedefaults.Health
		cfg  servicedefaults.Config
		tp   trace.TracerProvider
		mp   metric.MeterProvider
		prop propagation.TextMapPropagator
		log  *slog.Logger
	)
	app := fxtest.New(t,
		servicedefaults.Module,
		fx.Supply(servicedefaults.BuildInfo{Name: "zinc-module-test", Version: "v0.0.1"}),
		fx.WithLogger(servicedefaults.EventLogger),
		fx.Populate(&h, &cfg, &tp, &mp, &prop, &log),
	)
	app.RequireStart()

	assert.Equal(t, "zinc-module-test", cfg.ServiceName)
	assert.NotNil(t, log)
	assert.NotNil(t, mp)
	assert.Same(t, tp, otel.GetTracerProvider(), "module registers the global tracer provider")
	assert.ElementsMatch(t, prop.Fields(), otel.GetTextMapPropagator().Fields())

	addr := h.Addr()
	require.NotEmpty(t, addr, "health server listens once started")
	status, _ := get(t, "http://"+addr+"/livez")
	assert.Equal(t, http.StatusOK, status)
	h.AddReadiness("dependency", func(context.Context) error { return errors.New("down") })
	status, _ = get(t, "http://"+addr+"/readyz")
	assert.Equal(t, http.StatusServiceUnavailable, status)

	app.RequireStop()

	_, err := http.Get("http://" + addr + "/livez")
	require.Error(t, err, "health server is closed after stop")
}

func TestModuleRefusesBadConfig(t *testing.T) {
	clearEnv(t)
	t.Setenv("LOG_LEVEL", "loud")

	app := fx.New(
		servicedefaults.Module,
		fx.Supply(servicedefaults.BuildInfo{Name: "zinc-module-test"}),
		fx.NopLogger,
	)

	require.Error(t, app.Err())
	assert.Contains(t, app.Err().Error(), "LOG_LEVEL")
}

func TestModuleValidates(t *testing.T) {
	err := fx.ValidateApp(
		servicedefaults.Module,
		fx.Supply(servicedefaults.BuildInfo{Name: "zinc-module-test"}),
		fx.WithLogger(servicedefaults.EventLogger),
	)

	require.NoError(t, err)
}
