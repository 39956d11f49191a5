package sandbox

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
