package api

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"gocloud.dev/blob/memblob"

	"github.com/zinc-edu/orchestrator/internal/auth"
	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/outbox"
	"github.com/zinc-edu/orchestrator/internal/servicedefaults"
	"github.com/zinc-edu/orchestrator/internal/store"
	"github.com/zinc-edu/orchestrator/internal/store/storetest"
	"github.com/zinc-edu/orchestrator/internal/temporal"
)

// moduleOptions builds the Module with everything it needs, listening on
// addr.
func moduleOptions(t *testing.T, addr string) fx.Option {
	t.Helper()
	return moduleOptionsFor(t, addr, storetest.Open(t), slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// moduleOptionsFor is moduleOptions over the store s, logging to log.
func moduleOptionsFor(t *testing.T, addr string, s *store.Store, log *slog.Logger) fx.Option {
	t.Helper()
	bucket := memblob.OpenBucket(nil)
	t.Cleanup(func() { assert.NoError(t, bucket.Close()) })
	return fx.Options(
		fx.NopLogger,
		fx.Supply(
			Config{Addr: addr},
			auth.Config{AdminKey: moduleAdminKey},
			temporal.Config{HostPort: "127.0.0.1:7233", Namespace: "default", TaskQueuePrefix: "zinc"},
			log,
			bucket,
			servicedefaults.NewHealth("127.0.0.1:0", log),
			fx.Annotate(tracenoop.NewTracerProvider(), fx.As(new(trace.TracerProvider))),
			fx.Annotate(metricnoop.NewMeterProvider(), fx.As(new(metric.MeterProvider))),
			fx.Annotate(propagation.TraceContext{}, fx.As(new(propagation.TextMapPropagator))),
			fx.Annotate(s, fx.As(new(Store))),
			fx.Annotate(newFakeBatches(s), fx.As(new(Batches))),
			fx.Annotate(outbox.NewEncoder(propagation.TraceContext{}), fx.As(new(Announcer))),
		),
		Module,
	)
}

// moduleAdminKey is the bootstrap admin key the module creates at start.
const moduleAdminKey = auth.KeyPrefix + "module-test-admin"

func TestModuleLifecycle(t *testing.T) {
	var srv *Server
	app := fxtest.New(t, moduleOptions(t, "127.0.0.1:0"), fx.Populate(&srv))
	app.RequireStart()
	addr := srv.Addr()
	require.NotEmpty(t, addr)

	for path, want := range map[string]int{
		"/livez":                                http.StatusOK,
		"/v1/extensions/pipeline/configuration": http.StatusOK,
		"/v1/collections/nope":                  http.StatusNotFound,
	} {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+addr+path, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+moduleAdminKey)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		assert.Equal(t, want, resp.StatusCode, path)
	}
	resp, err := http.Get("http://" + addr + "/v1/collections/nope")
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "without the key")

	app.RequireStop()
	_, err = net.Dial("tcp", addr)
	assert.Error(t, err, "the port is released on stop")
}

func TestModuleFailsToStartOnTakenPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })

	app := fx.New(moduleOptions(t, ln.Addr().String()))
	require.NoError(t, app.Err())
	err = app.Start(context.Background())
	require.ErrorContains(t, err, "listen api")
	assert.NoError(t, app.Stop(context.Background()))
}

func TestModuleRefusesBadConfig(t *testing.T) {
	app := fx.New(moduleOptions(t, "127.0.0.1:0"), fx.Replace(Config{MaxUploadBytes: -5}))
	assert.ErrorContains(t, app.Err(), "max upload bytes -5 is negative")
}

// A revoked bootstrap key stays revoked across restarts (it is not created
// again), and start-up says so instead of leaving a key that answers 401.
func TestModuleWarnsOfARevokedAdminKey(t *testing.T) {
	s := storetest.Open(t)
	k, err := s.EnsureAPIKey(t.Context(), grading.APIKey{
		Name: "local admin", Hash: auth.HashKey(moduleAdminKey), Role: grading.RoleAdmin, CreatedBy: "ZINC_ADMIN_KEY",
	})
	require.NoError(t, err)
	require.NoError(t, s.RevokeAPIKey(t.Context(), k.ID))
	var logs syncBuffer
	app := fxtest.New(t, moduleOptionsFor(t, "127.0.0.1:0", s, slog.New(slog.NewJSONHandler(&logs, nil))))
	app.RequireStart()
	app.RequireStop()

	warned := logs.lines(t, "ZINC_ADMIN_KEY is revoked or expired and authenticates nothing; set a new one (apphost: remove admin.key from its data directory)")
	require.Len(t, warned, 1, "logs: %s", logs.String())
	assert.Equal(t, k.ID, warned[0]["key_id"])
	got, err := s.APIKey(t.Context(), k.ID)
	require.NoError(t, err)
	assert.NotNil(t, got.RevokedAt, "the revocation stands")
}
