package servicedefaults_test

import (
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/servicedefaults"
)

// clearEnv blanks every variable Config reads, so the host's environment
// cannot leak into a test.
func clearEnv(t *testing.T) {
	t.Helper()
	for _, k := range []string{
		"OTEL_SERVICE_NAME", "LOG_LEVEL", "LOG_FORMAT", "ZINC_HEALTH_ADDR",
		"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_TRACES_SAMPLER_ARG",
	} {
		t.Setenv(k, "")
	}
}

func TestLoadConfigDefaults(t *testing.T) {
	clearEnv(t)

	cfg, err := servicedefaults.LoadConfig("zinc-test")
	require.NoError(t, err)

	assert.Equal(t, servicedefaults.Config{
		ServiceName:      "zinc-test",
		LogLevel:         slog.LevelInfo,
		LogFormat:        servicedefaults.FormatJSON,
		HealthAddr:       "127.0.0.1:0",
		OTLPProtocol:     servicedefaults.ProtocolHTTP,
		TraceSampleRatio: 1,
	}, cfg)
}

func TestLoadConfigFromEnvironment(t *testing.T) {
	clearEnv(t)
	t.Setenv("OTEL_SERVICE_NAME", "from-env")
	t.Setenv("LOG_LEVEL", "debug")
	t.Setenv("LOG_FORMAT", "text")
	t.Setenv("ZINC_HEALTH_ADDR", "127.0.0.1:9999")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
	t.Setenv("OTEL_TRACES_SAMPLER_ARG", "0.25")

	cfg, err := servicedefaults.LoadConfig("zinc-test")
	require.NoError(t, err)

	assert.Equal(t, servicedefaults.Config{
		ServiceName:      "from-env",
		LogLevel:         slog.LevelDebug,
		LogFormat:        servicedefaults.FormatText,
		HealthAddr:       "127.0.0.1:9999",
		OTLPEndpoint:     "http://collector:4318",
		OTLPProtocol:     servicedefaults.ProtocolGRPC,
		TraceSampleRatio: 0.25,
	}, cfg)
}

func TestLoadConfigRejects(t *testing.T) {
	tests := []struct {
		name       string
		giveKey    string
		giveValue  string
		wantErrSub string
	}{
		{name: "unknown level", giveKey: "LOG_LEVEL", giveValue: "verbose", wantErrSub: "LOG_LEVEL"},
		{name: "offset level", giveKey: "LOG_LEVEL", giveValue: "info+2", wantErrSub: "log level"},
		{name: "format", giveKey: "LOG_FORMAT", giveValue: "xml", wantErrSub: "log format"},
		{name: "protocol", giveKey: "OTEL_EXPORTER_OTLP_PROTOCOL", giveValue: "http/json", wantErrSub: "otlp protocol"},
		{name: "endpoint", giveKey: "OTEL_EXPORTER_OTLP_ENDPOINT", giveValue: "collector:4318", wantErrSub: "otlp endpoint"},
		{name: "ratio range", giveKey: "OTEL_TRACES_SAMPLER_ARG", giveValue: "1.5", wantErrSub: "sample ratio"},
		{name: "ratio number", giveKey: "OTEL_TRACES_SAMPLER_ARG", giveValue: "half", wantErrSub: "OTEL_TRACES_SAMPLER_ARG"},
		{name: "ratio NaN", giveKey: "OTEL_TRACES_SAMPLER_ARG", giveValue: "NaN", wantErrSub: "OTEL_TRACES_SAMPLER_ARG"},
		{name: "ratio infinite", giveKey: "OTEL_TRACES_SAMPLER_ARG", giveValue: "+Inf", wantErrSub: "OTEL_TRACES_SAMPLER_ARG"},
		{name: "ratio huge", giveKey: "OTEL_TRACES_SAMPLER_ARG", giveValue: "1e30", wantErrSub: "OTEL_TRACES_SAMPLER_ARG"},
		{name: "ratio negative", giveKey: "OTEL_TRACES_SAMPLER_ARG", giveValue: "-0.1", wantErrSub: "OTEL_TRACES_SAMPLER_ARG"},
		{name: "format names variable", giveKey: "LOG_FORMAT", giveValue: "xml", wantErrSub: "LOG_FORMAT"},
		{name: "protocol names variable", giveKey: "OTEL_EXPORTER_OTLP_PROTOCOL", giveValue: "http/json", wantErrSub: "OTEL_EXPORTER_OTLP_PROTOCOL"},
		{name: "endpoint names variable", giveKey: "OTEL_EXPORTER_OTLP_ENDPOINT", giveValue: "collector:4318", wantErrSub: "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{name: "health address without port", giveKey: "ZINC_HEALTH_ADDR", giveValue: "127.0.0.1", wantErrSub: "ZINC_HEALTH_ADDR"},
		{name: "health address bad port", giveKey: "ZINC_HEALTH_ADDR", giveValue: "127.0.0.1:99999", wantErrSub: "ZINC_HEALTH_ADDR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			t.Setenv(tt.giveKey, tt.giveValue)

			_, err := servicedefaults.LoadConfig("zinc-test")

			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErrSub)
		})
	}
}

func TestLoadConfigNeedsServiceName(t *testing.T) {
	clearEnv(t)

	_, err := servicedefaults.LoadConfig("")

	require.Error(t, err)
	assert.Contains(t, err.Error(), "OTEL_SERVICE_NAME")
}

func TestConfigLogValueMasksCredentials(t *testing.T) {
	cfg := servicedefaults.Config{OTLPEndpoint: "https://user:secret@collector:4318/?token=abc"}

	got := cfg.LogValue().String()

	assert.NotContains(t, got, "secret")
	assert.NotContains(t, got, "abc")
	assert.Contains(t, got, "collector:4318")
}

type checkedConfig struct {
	Count int `env:"ZINC_TEST_COUNT" envDefault:"3"`
}

func (c checkedConfig) ValidateEnv() error {
	if c.Count <= 0 {
		return fmt.Errorf("ZINC_TEST_COUNT %d: want a positive count", c.Count)
	}
	return nil
}

func TestLoadEnvRunsValidateEnv(t *testing.T) {
	t.Setenv("ZINC_TEST_COUNT", "")
	cfg, err := servicedefaults.LoadEnv[checkedConfig]()
	require.NoError(t, err)
	assert.Equal(t, 3, cfg.Count)

	t.Setenv("ZINC_TEST_COUNT", "0")
	_, err = servicedefaults.LoadEnv[checkedConfig]()
	require.ErrorContains(t, err, "ZINC_TEST_COUNT 0")
}

type nestedConfig struct {
	Limits struct {
		MemoryMB int `env:"MEMORY_MB"`
	} `envPrefix:"ZINC_TEST_"`
}

func TestLoadEnvNamesNestedVariables(t *testing.T) {
	t.Setenv("ZINC_TEST_MEMORY_MB", "lots")
	_, err := servicedefaults.LoadEnv[nestedConfig]()
	require.ErrorContains(t, err, "variable ZINC_TEST_MEMORY_MB")
}
