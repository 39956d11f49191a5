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
	require.ErrorContains(t, err, "namespace (TEMPORAL_NAMESPACE) is empty")
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

func TestParseQueuesRejects(t *testing.T) {
	tests := []struct {
		name    string
		spec    string
		wantErr string
	}{
		{name: "rate NaN", spec: "a:rate=NaN", wantErr: "queue a: rate"},
		{name: "rate infinite", spec: "a:rate=+Inf", wantErr: "queue a: rate"},
		{name: "rate negative", spec: "a:rate=-1", wantErr: "queue a: rate"},
		{name: "concurrency overflow", spec: "a:concurrency=99999999999999999999", wantErr: "queue a: concurrency"},
		{name: "concurrency negative", spec: "a:concurrency=-3", wantErr: "queue a: concurrency"},
		{name: "empty name", spec: ":concurrency=4", wantErr: "empty queue name"},
		{name: "duplicate", spec: "a,a:rate=2", wantErr: "queue a: given twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseQueues(tt.spec)
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestLoadWorkerConfigRejects(t *testing.T) {
	tests := []struct {
		name    string
		key     string
		value   string
		wantErr string
	}{
		{name: "stop timeout zero", key: "ZINC_WORKER_STOP_TIMEOUT", value: "0s", wantErr: "ZINC_WORKER_STOP_TIMEOUT"},
		{name: "stop timeout negative", key: "ZINC_WORKER_STOP_TIMEOUT", value: "-1s", wantErr: "ZINC_WORKER_STOP_TIMEOUT"},
		{name: "stop timeout overflow", key: "ZINC_WORKER_STOP_TIMEOUT", value: "9999999999h", wantErr: "ZINC_WORKER_STOP_TIMEOUT"},
		{name: "stop timeout not a duration", key: "ZINC_WORKER_STOP_TIMEOUT", value: "10", wantErr: "ZINC_WORKER_STOP_TIMEOUT"},
		{name: "queues rate NaN", key: "ZINC_TASK_QUEUES", value: "a:rate=NaN", wantErr: "ZINC_TASK_QUEUES"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("ZINC_TASK_QUEUES", "")
			t.Setenv("ZINC_WORKER_STOP_TIMEOUT", "")
			t.Setenv(tt.key, tt.value)
			_, err := LoadWorkerConfig("a")
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestLoadConfigRejectsBadAddress(t *testing.T) {
	tests := []struct {
		name string
		addr string
	}{
		{name: "no port", addr: "temporal.example"},
		{name: "empty port", addr: "temporal.example:"},
		{name: "port not a number", addr: "temporal.example:http"},
		{name: "port out of range", addr: "temporal.example:99999"},
		{name: "port zero", addr: "temporal.example:0"},
		{name: "no host", addr: ":7233"},
		{name: "URL", addr: "http://temporal.example:7233"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("TEMPORAL_ADDRESS", tt.addr)
			t.Setenv("TEMPORAL_NAMESPACE", "")
			_, err := LoadConfig()
			require.ErrorContains(t, err, "TEMPORAL_ADDRESS")
		})
	}
}

func TestValidateAcceptsAddresses(t *testing.T) {
	for _, hp := range []string{"localhost:7233", "10.0.0.1:7233", "[::1]:7233", "dns:///temporal.example:7233"} {
		require.NoError(t, Config{HostPort: hp, Namespace: "default"}.Validate(), hp)
	}
}

func TestWithDefaultConcurrencyKeepsExplicitLimits(t *testing.T) {
	qs, err := ParseQueues("pipeline-default,pipeline-exam:concurrency=9")
	require.NoError(t, err)
	cfg := WorkerConfig{Queues: qs}.WithDefaultConcurrency(4)
	assert.Equal(t, 4, cfg.Queues[0].MaxConcurrentActivities)
	assert.Equal(t, 9, cfg.Queues[1].MaxConcurrentActivities)
	assert.Zero(t, qs[0].MaxConcurrentActivities, "the parsed queues are not changed")
}
