package api_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/api"
	"github.com/zinc-edu/orchestrator/internal/servicedefaults"
)

var apiEnvKeys = []string{
	"ZINC_API_ADDR", "ZINC_API_MAX_JSON_BYTES", "ZINC_API_MAX_CONFIG_BYTES", "ZINC_API_MAX_UPLOAD_BYTES",
	"ZINC_API_MAX_ENVIRONMENT_BYTES", "ZINC_API_RATE_LIMIT", "ZINC_API_RATE_BURST", "ZINC_API_UPLOADS_PER_KEY",
	"ZINC_API_STREAMS_PER_KEY", "ZINC_API_CODEC_ORIGINS", "ZINC_API_READ_TIMEOUT", "ZINC_TEMPORAL_UI_URL",
}

func TestLoadEnvConfigDefaultsPass(t *testing.T) {
	for _, k := range apiEnvKeys {
		t.Setenv(k, "")
	}
	t.Setenv("ZINC_API_CODEC_ORIGINS", "http://127.0.0.1:8233,https://temporal.example")
	t.Setenv("ZINC_TEMPORAL_UI_URL", "http://127.0.0.1:8233")
	_, err := servicedefaults.LoadEnv[api.Config]()
	require.NoError(t, err)
}

func TestLoadEnvConfigRejects(t *testing.T) {
	tests := []struct {
		key, value string
	}{
		{"ZINC_API_ADDR", "127.0.0.1"},
		{"ZINC_API_ADDR", "127.0.0.1:99999"},
		{"ZINC_API_MAX_JSON_BYTES", "0"},
		{"ZINC_API_MAX_CONFIG_BYTES", "-1"},
		{"ZINC_API_MAX_UPLOAD_BYTES", "0"},
		{"ZINC_API_MAX_UPLOAD_BYTES", "1e30"},
		{"ZINC_API_MAX_ENVIRONMENT_BYTES", "99999999999999999999"},
		{"ZINC_API_RATE_LIMIT", "0"},
		{"ZINC_API_RATE_LIMIT", "NaN"},
		{"ZINC_API_RATE_LIMIT", "+Inf"},
		{"ZINC_API_RATE_LIMIT", "-5"},
		{"ZINC_API_RATE_BURST", "0"},
		{"ZINC_API_UPLOADS_PER_KEY", "0"},
		{"ZINC_API_STREAMS_PER_KEY", "-2"},
		{"ZINC_API_READ_TIMEOUT", "0s"},
		{"ZINC_API_READ_TIMEOUT", "9999999999h"},
		{"ZINC_API_READ_TIMEOUT", "-1m"},
		{"ZINC_API_CODEC_ORIGINS", "http://127.0.0.1:8233/"},
		{"ZINC_API_CODEC_ORIGINS", "127.0.0.1:8233"},
		{"ZINC_TEMPORAL_UI_URL", "127.0.0.1:8233"},
	}
	for _, tt := range tests {
		t.Run(tt.key+"="+tt.value, func(t *testing.T) {
			for _, k := range apiEnvKeys {
				t.Setenv(k, "")
			}
			t.Setenv(tt.key, tt.value)
			_, err := servicedefaults.LoadEnv[api.Config]()
			require.ErrorContains(t, err, tt.key)
		})
	}
}
