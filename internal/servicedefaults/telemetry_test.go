package servicedefaults_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/propagation"

	"github.com/zinc-edu/orchestrator/internal/servicedefaults"
)

// collector records the paths of OTLP requests it receives.
type collector struct {
	mu    sync.Mutex
	paths []string
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.paths = append(c.paths, r.URL.Path)
	c.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func (c *collector) received() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.paths...)
}

func newCollector(t *testing.T) (*collector, string) {
	t.Helper()
	c := &collector{}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	return c, srv.URL
}

func telemetryConfig(endpoint string) servicedefaults.Config {
	return servicedefaults.Config{
		ServiceName:      "zinc-test",
		OTLPEndpoint:     endpoint,
		OTLPProtocol:     servicedefaults.ProtocolHTTP,
		TraceSampleRatio: 1,
	}
}

func TestTracerProviderExportsToEndpointOnShutdown(t *testing.T) {
	c, url := newCollector(t)
	tp, err := servicedefaults.NewTracerProvider(context.Background(), telemetryConfig(url), servicedefaults.BuildInfo{Version: "v1"})
	require.NoError(t, err)

	_, span := tp.Tracer("test").Start(context.Background(), "op")
	span.End()
	require.NoError(t, tp.Shutdown(context.Background()))

	assert.Equal(t, []string{"/v1/traces"}, c.received())
}

func TestMeterProviderExportsToEndpointOnShutdown(t *testing.T) {
	c, url := newCollector(t)
	mp, err := servicedefaults.NewMeterProvider(context.Background(), telemetryConfig(url), servicedefaults.BuildInfo{Version: "v1"})
	require.NoError(t, err)

	counter, err := mp.Meter("test").Int64Counter("zinc.test.count")
	require.NoError(t, err)
	counter.Add(context.Background(), 1)
	require.NoError(t, mp.Shutdown(context.Background()))

	assert.Contains(t, c.received(), "/v1/metrics")
}

func TestTracerProviderWithoutEndpointStillGivesIDs(t *testing.T) {
	tp, err := servicedefaults.NewTracerProvider(context.Background(), telemetryConfig(""), servicedefaults.BuildInfo{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, tp.Shutdown(context.Background())) })

	_, span := tp.Tracer("test").Start(context.Background(), "op")
	defer span.End()

	assert.True(t, span.SpanContext().IsValid())
	assert.True(t, span.SpanContext().IsSampled())
}

func TestTracerProviderRatioZeroSamplesNothing(t *testing.T) {
	cfg := telemetryConfig("")
	cfg.TraceSampleRatio = 0
	tp, err := servicedefaults.NewTracerProvider(context.Background(), cfg, servicedefaults.BuildInfo{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, tp.Shutdown(context.Background())) })

	_, span := tp.Tracer("test").Start(context.Background(), "op")
	defer span.End()

	assert.True(t, span.SpanContext().IsValid(), "unsampled spans still carry ids")
	assert.False(t, span.SpanContext().IsSampled())
}

func TestResourceNamesService(t *testing.T) {
	res, err := servicedefaults.NewResource(context.Background(), telemetryConfig(""), servicedefaults.BuildInfo{Version: "v1.2.3"})
	require.NoError(t, err)

	attrs := map[string]string{}
	for _, kv := range res.Attributes() {
		attrs[string(kv.Key)] = kv.Value.String()
	}
	assert.Equal(t, "zinc-test", attrs["service.name"])
	assert.Equal(t, "v1.2.3", attrs["service.version"])
}

func TestPropagatorCarriesTraceContextAndBaggage(t *testing.T) {
	fields := servicedefaults.NewPropagator().Fields()

	assert.ElementsMatch(t, []string{"traceparent", "tracestate", "baggage"}, fields)
	var _ propagation.TextMapPropagator = servicedefaults.NewPropagator()
}
