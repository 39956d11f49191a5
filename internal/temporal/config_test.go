package temporal

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFormatTaskQueue(t *testing.T) {
	tests := []struct {
		givePrefix, giveSuffix, want string
	}{
		{"zinc", "submission-default", "zinc-submission-default"},
		{"", "pipeline-default", "pipeline-default"},
		{"zinc", "", "zinc"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, Config{TaskQueuePrefix: tt.givePrefix}.FormatTaskQueue(tt.giveSuffix))
	}
}

func TestLoadConfigPrefix(t *testing.T) {
	t.Setenv("TEMPORAL_ADDRESS", "temporal.example.com:7233")
	t.Setenv("TEMPORAL_NAMESPACE", "zinc-dev")
	cfg, err := LoadConfig()
	require.NoError(t, err)
	require.Equal(t, "zinc", cfg.TaskQueuePrefix, "unset prefix")
	require.Equal(t, "temporal.example.com:7233", cfg.HostPort)
	require.Equal(t, "zinc-dev", cfg.Namespace)

	t.Setenv("ZINC_TASK_QUEUE_PREFIX", "")
	cfg, err = LoadConfig()
	require.NoError(t, err)
	require.Equal(t, "", cfg.TaskQueuePrefix, "empty prefix gives bare names")
	require.Equal(t, "core-default", cfg.FormatTaskQueue("core-default"))
}

// TestLoadConfigDefaults: with no TEMPORAL_* variables the local dev
// server's address and the default namespace are used, as the CLI does.
func TestLoadConfigDefaults(t *testing.T) {
	t.Setenv("TEMPORAL_ADDRESS", "")
	t.Setenv("TEMPORAL_NAMESPACE", "")
	cfg, err := LoadConfig()
	require.NoError(t, err)
	require.Equal(t, "localhost:7233", cfg.HostPort)
	require.Equal(t, "default", cfg.Namespace)
}

func TestValidateRejectsBadSettings(t *testing.T) {
	err := Config{HostPort: "nohost", Namespace: " ", TaskQueuePrefix: "a b"}.Validate()
	require.ErrorContains(t, err, "host_port")
	require.ErrorContains(t, err, "namespace is empty")
	require.ErrorContains(t, err, "task_queue_prefix")
}

func TestExtensionConfigurationRoundTrip(t *testing.T) {
	core := Config{HostPort: "temporal:7233", Namespace: "zinc-prod", TaskQueuePrefix: "zinc"}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/extensions/pipeline/configuration" {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(core.Configuration())
	}))
	t.Cleanup(srv.Close)

	c, err := FetchConfiguration(context.Background(), srv.Client(), srv.URL, "", "pipeline")
	require.NoError(t, err)
	require.Equal(t, ConfigurationName, c.Name)
	got, err := FromConfiguration(Config{HostPort: "localhost:7233", Namespace: "default"}, c)
	require.NoError(t, err)
	require.Equal(t, core.HostPort, got.HostPort)
	require.Equal(t, core.Namespace, got.Namespace)
	require.Equal(t, "zinc-pipeline-default", got.FormatTaskQueue("pipeline-default"))

	_, err = FetchConfiguration(context.Background(), srv.Client(), srv.URL, "", "unknown")
	require.ErrorContains(t, err, "404")
	_, err = FromConfiguration(Config{}, Configuration{Name: "nats"})
	require.ErrorContains(t, err, `want name "temporal"`)
}

// TestLoadExtensionConfigSendsCoreToken: core serves extension settings to
// admins only, so a worker sends ZINC_CORE_TOKEN as its bearer credential;
// without it core's 401 is reported with the variable to set.
func TestLoadExtensionConfigSendsCoreToken(t *testing.T) {
	const key = "zinc_test-admin-key"
	core := Config{HostPort: "temporal:7233", Namespace: "zinc-prod", TaskQueuePrefix: "zinc"}
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Header.Get("Authorization"))
		if r.Header.Get("Authorization") != "Bearer "+key {
			w.Header().Set("WWW-Authenticate", "Bearer")
			http.Error(w, `{"error":"no credentials","details":null}`, http.StatusUnauthorized)
			return
		}
		_ = json.NewEncoder(w).Encode(core.Configuration())
	}))
	t.Cleanup(srv.Close)
	t.Setenv("TEMPORAL_ADDRESS", "localhost:7233")
	t.Setenv("TEMPORAL_NAMESPACE", "default")
	t.Setenv("ZINC_CORE_URL", srv.URL)

	t.Setenv("ZINC_CORE_TOKEN", key)
	got, err := LoadExtensionConfig(t.Context(), "pipeline")
	require.NoError(t, err)
	require.Equal(t, "temporal:7233", got.HostPort)
	require.Equal(t, "zinc-prod", got.Namespace)

	t.Setenv("ZINC_CORE_TOKEN", "")
	_, err = LoadExtensionConfig(t.Context(), "pipeline")
	require.ErrorContains(t, err, "401")
	require.ErrorContains(t, err, "ZINC_CORE_TOKEN")
	require.Equal(t, []string{"Bearer " + key, ""}, seen)
}

func TestParseQueues(t *testing.T) {
	qs, err := ParseQueues("pipeline-default, pipeline-exam:concurrency=4:rate=2.5")
	require.NoError(t, err)
	require.Equal(t, []QueueConfig{
		{Suffix: "pipeline-default"},
		{Suffix: "pipeline-exam", MaxConcurrentActivities: 4, ActivitiesPerSecond: 2.5},
	}, qs)

	_, err = ParseQueues("a:concurrency=0,b:rate=x,c:speed=1")
	require.ErrorContains(t, err, "queue a: concurrency")
	require.ErrorContains(t, err, "queue b: rate")
	require.ErrorContains(t, err, `unknown option "speed"`)
	_, err = ParseQueues(" , ")
	require.ErrorContains(t, err, "no task queue")
}

func TestWithDefaultConcurrencyKeepsExplicitLimits(t *testing.T) {
	qs, err := ParseQueues("pipeline-default,pipeline-exam:concurrency=9")
	require.NoError(t, err)
	cfg := WorkerConfig{Queues: qs}.WithDefaultConcurrency(4)
	assert.Equal(t, 4, cfg.Queues[0].MaxConcurrentActivities)
	assert.Equal(t, 9, cfg.Queues[1].MaxConcurrentActivities)
	assert.Zero(t, qs[0].MaxConcurrentActivities, "the parsed queues are not changed")
}
