package events_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/events"
	"github.com/zinc-edu/orchestrator/internal/servicedefaults"
)

var eventsEnvKeys = []string{"NATS_URL", "ZINC_NATS_STREAM", "ZINC_NATS_SUBJECT_PREFIX", "ZINC_NATS_NAK_DELAY", "ZINC_NATS_MAX_DELIVER"}

func TestLoadEnvConfigAccepts(t *testing.T) {
	for _, u := range []string{"", "nats://127.0.0.1:4222", "127.0.0.1:4222", "localhost", "tls://user:pw@nats.example:4443",
		"nats://a:4222, nats://b:4222", "wss://nats.example"} {
		for _, k := range eventsEnvKeys {
			t.Setenv(k, "")
		}
		t.Setenv("NATS_URL", u)
		_, err := servicedefaults.LoadEnv[events.Config]()
		require.NoError(t, err, u)
	}
}

func TestLoadEnvConfigRejects(t *testing.T) {
	tests := []struct {
		key, value string
	}{
		{"NATS_URL", "http://127.0.0.1:4222"},
		{"NATS_URL", "nats://"},
		{"NATS_URL", "nats://127.0.0.1:port"},
		{"NATS_URL", "nats://127.0.0.1:99999"},
		{"NATS_URL", "nats://a:4222,,nats://b:4222"},
		{"NATS_URL", "nats://%zz"},
		{"ZINC_NATS_NAK_DELAY", "0s"},
		{"ZINC_NATS_NAK_DELAY", "-1s"},
		{"ZINC_NATS_NAK_DELAY", "1h"},
		{"ZINC_NATS_NAK_DELAY", "9999999999h"},
		{"ZINC_NATS_MAX_DELIVER", "0"},
		{"ZINC_NATS_MAX_DELIVER", "-1"},
		{"ZINC_NATS_MAX_DELIVER", "many"},
		{"ZINC_NATS_STREAM", "ZINC.EVENTS"},
		{"ZINC_NATS_SUBJECT_PREFIX", "zinc..x"},
	}
	for _, tt := range tests {
		t.Run(tt.key+"="+tt.value, func(t *testing.T) {
			for _, k := range eventsEnvKeys {
				t.Setenv(k, "")
			}
			t.Setenv(tt.key, tt.value)
			_, err := servicedefaults.LoadEnv[events.Config]()
			require.ErrorContains(t, err, tt.key)
		})
	}
}

func TestLoadEnvConfigHidesURLPassword(t *testing.T) {
	for _, k := range eventsEnvKeys {
		t.Setenv(k, "")
	}
	t.Setenv("NATS_URL", "http://user:s3cret@nats.example:4222")
	_, err := servicedefaults.LoadEnv[events.Config]()
	require.ErrorContains(t, err, "NATS_URL")
	require.NotContains(t, err.Error(), "s3cret")
}
