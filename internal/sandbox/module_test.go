package sandbox

import (
	"log/slog"
	"testing"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
)

func TestModuleProvidesRunner(t *testing.T) {
	var r *Runner
	app := fxtest.New(t,
		fx.Supply(Config{}, slog.New(slog.DiscardHandler)),
		Module,
		fx.Populate(&r),
	)
	app.RequireStart().RequireStop()
	require.NotNil(t, r)
	assert.True(t, r.Capabilities().Rlimits)
}

func TestConfigFromEnvironment(t *testing.T) {
	t.Setenv("ZINC_SANDBOX_MEMORY_MB", "256")
	t.Setenv("ZINC_SANDBOX_CPU_SECONDS", "3")
	t.Setenv("ZINC_SANDBOX_NETWORK", "true")
	t.Setenv("ZINC_SANDBOX_DEFAULT_TIMEOUT", "5s")
	t.Setenv("ZINC_SANDBOX_USER", "1234:1234")
	t.Setenv("ZINC_SANDBOX_REQUIRE_ISOLATION", "true")
	cfg, err := env.ParseAs[Config]()
	require.NoError(t, err)
	assert.Equal(t, Config{
		DefaultLimits:    Limits{MemoryMB: 256, CPUSeconds: 3, Network: true},
		DefaultTimeout:   5 * time.Second,
		User:             "1234:1234",
		RequireIsolation: true,
	}, cfg)
}
