package temporal

import (
	"context"
	"fmt"
	"log/slog"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"go.temporal.io/sdk/client"
	otelsdk "go.temporal.io/sdk/contrib/opentelemetry"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/interceptor"
	sdklog "go.temporal.io/sdk/log"
)

// instrumentation is the OpenTelemetry scope of everything this package makes.
const instrumentation = "github.com/zinc-edu/orchestrator/internal/temporal"

// Client is the process's one Temporal client, with the task-queue naming of
// this deployment. Workers made from it inherit its logger, tracing
// interceptor and metrics handler.
type Client struct {
	client.Client
	cfg Config
}

// Dial connects to Temporal. The client logs through log, traces through tp
// and reports SDK metrics through mp.
func Dial(ctx context.Context, cfg Config, log *slog.Logger, tp trace.TracerProvider, mp metric.MeterProvider) (*Client, error) {
	tracing, err := otelsdk.NewTracingInterceptor(otelsdk.TracerOptions{Tracer: tp.Tracer(instrumentation)})
	if err != nil {
		return nil, fmt.Errorf("create tracing interceptor: %w", err)
	}
	opts := cfg.Options
	opts.HostPort = cfg.HostPort
	opts.Namespace = cfg.Namespace
	opts.Logger = sdklog.NewStructuredLogger(log)
	opts.MetricsHandler = otelsdk.NewMetricsHandler(otelsdk.MetricsHandlerOptions{Meter: mp.Meter(instrumentation)})
	opts.Interceptors = append([]interceptor.ClientInterceptor{tracing}, opts.Interceptors...)
	if cfg.Codec != nil {
		base := opts.DataConverter
		if base == nil {
			base = converter.GetDefaultDataConverter()
		}
		opts.DataConverter = converter.NewCodecDataConverter(base, cfg.Codec)
	}

	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("dial temporal at %s: %w", cfg.HostPort, err)
	}
	return &Client{Client: c, cfg: cfg}, nil
}

// FormatTaskQueue returns the full name of a component's task queue.
func (c *Client) FormatTaskQueue(suffix string) string { return c.cfg.FormatTaskQueue(suffix) }

// Ready reports whether the Temporal frontend answers; it backs readiness.
func (c *Client) Ready(ctx context.Context) error {
	if _, err := c.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		return fmt.Errorf("check temporal health: %w", err)
	}
	return nil
}
