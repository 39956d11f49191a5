package sandbox

import (
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/servicedefaults"
)

func TestResolveLimitsFillsZeroFields(t *testing.T) {
	got, err := resolveLimits(Limits{CPUSeconds: 3}, Limits{CPUSeconds: 7, MemoryMB: 100, Network: true})
	require.NoError(t, err)
	assert.Equal(t, Limits{
		CPUSeconds: 3, CPUs: defaultCPUs, MemoryMB: 100, DiskMB: defaultDiskMB, MaxProcesses: defaultProcesses, MaxFileMB: defaultFileMB,
		OpenFiles: defaultOpenFiles, OutputLimitBytes: defaultOutputBytes, Network: true,
	}, got)
}

func TestResolveLimitsRejectsNegative(t *testing.T) {
	_, err := resolveLimits(Limits{MemoryMB: -1}, Limits{})
	require.ErrorIs(t, err, ErrInvalidSpec)
	_, err = resolveLimits(Limits{}, Limits{OpenFiles: -1})
	require.ErrorIs(t, err, ErrInvalidSpec)
}

func TestCheckSpecRejects(t *testing.T) {
	valid := Spec{Argv: []string{"true"}, Dir: "/tmp"}
	tests := []struct {
		name string
		give func(s *Spec)
	}{
		{name: "empty argv", give: func(s *Spec) { s.Argv = nil }},
		{name: "empty program", give: func(s *Spec) { s.Argv = []string{""} }},
		{name: "env without equals", give: func(s *Spec) { s.Env = []string{"PATH"} }},
		{name: "env with empty name", give: func(s *Spec) { s.Env = []string{"=x"} }},
		{name: "NUL in argument", give: func(s *Spec) { s.Argv = []string{"echo", "a\x00b"} }},
		{name: "empty dir", give: func(s *Spec) { s.Dir = "" }},
		{name: "negative timeout", give: func(s *Spec) { s.Timeout = -time.Second }},
	}
	require.NoError(t, checkSpec(valid))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := valid
			tt.give(&s)
			assert.ErrorIs(t, checkSpec(s), ErrInvalidSpec)
		})
	}
}

func TestCapabilitiesMissing(t *testing.T) {
	assert.Empty(t, Capabilities{Runtime: "/usr/bin/crun", Containers: true, UserNetwork: "slirp4netns"}.Missing())
	assert.Equal(t, []string{"containers", "user_network"}, Capabilities{}.Missing())
}

func TestResolveLimitsRejectsUnusable(t *testing.T) {
	tests := []struct {
		name string
		give Limits
	}{
		{name: "cpus NaN", give: Limits{CPUs: math.NaN()}},
		{name: "cpus infinite", give: Limits{CPUs: math.Inf(1)}},
		{name: "cpus huge", give: Limits{CPUs: 1e30}},
		{name: "memory overflows bytes", give: Limits{MemoryMB: 1 << 50}},
		{name: "disk overflows bytes", give: Limits{DiskMB: 1 << 45}},
		{name: "cpu seconds overflow duration", give: Limits{CPUSeconds: 1e10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := resolveLimits(tt.give, Limits{})
			require.ErrorIs(t, err, ErrInvalidSpec)
			_, err = resolveLimits(Limits{}, tt.give)
			require.ErrorIs(t, err, ErrInvalidSpec)
		})
	}
}

func TestLoadEnvConfigRejects(t *testing.T) {
	keys := []string{"ZINC_SANDBOX", "ZINC_SANDBOX_CELLS", "ZINC_SANDBOX_SLOTS", "ZINC_SANDBOX_DEFAULT_TIMEOUT",
		"ZINC_SANDBOX_CPUS", "ZINC_SANDBOX_MEMORY_MB", "ZINC_SANDBOX_CPU_SECONDS", "ZINC_SANDBOX_OPEN_FILES", "ZINC_SANDBOX_NETWORK"}
	tests := []struct {
		key, value string
	}{
		{"ZINC_SANDBOX", "containers"},
		{"ZINC_SANDBOX_CELLS", "maybe"},
		{"ZINC_SANDBOX_SLOTS", "-1"},
		{"ZINC_SANDBOX_SLOTS", "four"},
		{"ZINC_SANDBOX_DEFAULT_TIMEOUT", "-1s"},
		{"ZINC_SANDBOX_DEFAULT_TIMEOUT", "9999999999h"},
		{"ZINC_SANDBOX_CPUS", "NaN"},
		{"ZINC_SANDBOX_CPUS", "1e30"},
		{"ZINC_SANDBOX_CPUS", "-1"},
		{"ZINC_SANDBOX_MEMORY_MB", "99999999999999"},
		{"ZINC_SANDBOX_CPU_SECONDS", "9999999999"},
		{"ZINC_SANDBOX_OPEN_FILES", "-5"},
		{"ZINC_SANDBOX_NETWORK", "maybe"},
	}
	for _, tt := range tests {
		t.Run(tt.key+"="+tt.value, func(t *testing.T) {
			for _, k := range keys {
				t.Setenv(k, "")
			}
			t.Setenv(tt.key, tt.value)
			_, err := servicedefaults.LoadEnv[Config]()
			require.ErrorContains(t, err, tt.key)
		})
	}
}

func TestNewRejectsUnknownCellsInUnsafeMode(t *testing.T) {
	_, err := New(Config{Mode: ModeUnsafeLocal, Cells: "maybe"}, slog.New(slog.DiscardHandler))
	require.ErrorIs(t, err, ErrInvalidSpec)
	require.ErrorContains(t, err, "ZINC_SANDBOX_CELLS")
}
