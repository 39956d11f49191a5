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
	assert.True(t, r.Capabilities().Containers)
}

func TestConfigFromEnvironment(t *testing.T) {
	t.Setenv("ZINC_SANDBOX_MEMORY_MB", "256")
	t.Setenv("ZINC_SANDBOX_CPU_SECONDS", "3")
	t.Setenv("ZINC_SANDBOX_NETWORK", "true")
	t.Setenv("ZINC_SANDBOX_DEFAULT_TIMEOUT", "5s")
	t.Setenv("ZINC_SANDBOX_RUNTIME", "runc")
	t.Setenv("ZINC_SANDBOX", "unsafe-local")
	t.Setenv("ZINC_SANDBOX_CPUS", "0.5")
	t.Setenv("ZINC_SANDBOX_DISK_MB", "64")
	t.Setenv("ZINC_SANDBOX_CELLS", "off")
	cfg, err := env.ParseAs[Config]()
	require.NoError(t, err)
	assert.Equal(t, Config{
		DefaultLimits:  Limits{MemoryMB: 256, CPUSeconds: 3, CPUs: 0.5, DiskMB: 64, Network: true},
		DefaultTimeout: 5 * time.Second,
		Runtime:        "runc",
		Mode:           ModeUnsafeLocal,
		Cells:          CellsOff,
	}, cfg)
}
