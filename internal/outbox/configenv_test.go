package outbox_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/outbox"
	"github.com/zinc-edu/orchestrator/internal/servicedefaults"
)

func TestLoadEnvConfigRejects(t *testing.T) {
	tests := []struct {
		key, value, wantErr string
	}{
		{"ZINC_OUTBOX_POLL", "0s", "ZINC_OUTBOX_POLL"},
		{"ZINC_OUTBOX_POLL", "-1s", "ZINC_OUTBOX_POLL"},
		{"ZINC_OUTBOX_POLL", "9999999999h", "ZINC_OUTBOX_POLL"},
		{"ZINC_OUTBOX_POLL", "fast", "ZINC_OUTBOX_POLL"},
		{"ZINC_OUTBOX_MAX_BACKOFF", "0s", "ZINC_OUTBOX_MAX_BACKOFF"},
		{"ZINC_OUTBOX_MAX_BACKOFF", "-5s", "ZINC_OUTBOX_MAX_BACKOFF"},
		{"ZINC_OUTBOX_BATCH", "0", "ZINC_OUTBOX_BATCH"},
		{"ZINC_OUTBOX_BATCH", "-3", "ZINC_OUTBOX_BATCH"},
		{"ZINC_OUTBOX_BATCH", "1e30", "ZINC_OUTBOX_BATCH"},
	}
	for _, tt := range tests {
		t.Run(tt.key+"="+tt.value, func(t *testing.T) {
			for _, k := range []string{"ZINC_OUTBOX_POLL", "ZINC_OUTBOX_MAX_BACKOFF", "ZINC_OUTBOX_BATCH"} {
				t.Setenv(k, "")
			}
			t.Setenv(tt.key, tt.value)
			_, err := servicedefaults.LoadEnv[outbox.Config]()
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestLoadEnvConfigDefaultsPass(t *testing.T) {
	for _, k := range []string{"ZINC_OUTBOX_POLL", "ZINC_OUTBOX_MAX_BACKOFF", "ZINC_OUTBOX_BATCH"} {
		t.Setenv(k, "")
	}
	_, err := servicedefaults.LoadEnv[outbox.Config]()
	require.NoError(t, err)

	t.Setenv("ZINC_OUTBOX_POLL", "10s") // above the default backoff: still fine
	_, err = servicedefaults.LoadEnv[outbox.Config]()
	require.NoError(t, err)
}
