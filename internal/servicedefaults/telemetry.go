package servicedefaults

import (
	"context"
	"fmt"
	"net/url"

	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// NewResource describes the process to telemetry backends: service.name and
// service.version, the SDK, and OTEL_RESOURCE_ATTRIBUTES.
func NewResource(ctx context.Context, cfg Config, info BuildInfo) (*resource.Resource, error) {
	res, err := resource.New(ctx,
		resource.WithSchemaURL(semconv.SchemaURL),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(),
		// Last, so the validated configuration wins over the raw environment.
		resource.WithAttributes(
			semconv.ServiceName(cfg.ServiceName),
			semconv.ServiceVersion(info.Version),
		),
	)
	if err != nil {
		return nil, fmt.Errorf("build resource: %w", err)
	}
	return res, nil
}

// NewTracerProvider builds the process's tracer provider. It samples
// ParentBased(TraceIDRatioBased(cfg.TraceSampleRatio)) and batches spans to
// an OTLP exporter when cfg.OTLPEndpoint is set; without an endpoint spans
// still get ids (for log correlation and propagation) but go nowhere.
// The caller owns it and must call Shutdown, which flushes pending spans.
func NewTracerProvider(ctx context.Context, cfg Config, info BuildInfo) (*sdktrace.TracerProvider, error) {
	res, err := NewResource(ctx, cfg, info)
	if err != nil {
		return nil, fmt.Errorf("create tracer provider: %w", err)
	}
	opts := []sdktrace.TracerProviderOption{
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.TraceSampleRatio))),
	}
	if cfg.OTLPEndpoint != "" {
		exp, err := newSpanExporter(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("create tracer provider: %w", err)
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
	}
	return sdktrace.NewTracerProvider(opts...), nil
}

// NewMeterProvider builds the process's meter provider, exporting
// periodically over OTLP when cfg.OTLPEndpoint is set. The caller owns it and
// must call Shutdown, which flushes pending measurements.
func NewMeterProvider(ctx context.Context, cfg Config, info BuildInfo) (*sdkmetric.MeterProvider, error) {
	res, err := NewResource(ctx, cfg, info)
	if err != nil {
		return nil, fmt.Errorf("create meter provider: %w", err)
	}
	opts := []sdkmetric.Option{sdkmetric.WithResource(res)}
	if cfg.OTLPEndpoint != "" {
		exp, err := newMetricExporter(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("create meter provider: %w", err)
		}
		opts = append(opts, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp)))
	}
	return sdkmetric.NewMeterProvider(opts...), nil
}

// NewPropagator returns the W3C TraceContext and Baggage propagator used on
// every hop: HTTP, NATS and Temporal.
func NewPropagator() propagation.TextMapPropagator {
	return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
}

// newSpanExporter passes the endpoint explicitly rather than letting the
// exporter read the environment, so Config stays the one source of truth;
// other OTEL_EXPORTER_OTLP_* settings (headers, timeout, certificates) are
// still read by the exporter itself.
func newSpanExporter(ctx context.Context, cfg Config) (sdktrace.SpanExporter, error) {
	if cfg.OTLPProtocol == ProtocolGRPC {
		exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpointURL(cfg.OTLPEndpoint))
		if err != nil {
			return nil, fmt.Errorf("create otlp grpc span exporter: %w", err)
		}
		return exp, nil
	}
	u, err := signalURL(cfg.OTLPEndpoint, "traces")
	if err != nil {
		return nil, err
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(u))
	if err != nil {
		return nil, fmt.Errorf("create otlp http span exporter: %w", err)
	}
	return exp, nil
}

// newMetricExporter is newSpanExporter's counterpart for metrics.
func newMetricExporter(ctx context.Context, cfg Config) (sdkmetric.Exporter, error) {
	if cfg.OTLPProtocol == ProtocolGRPC {
		exp, err := otlpmetricgrpc.New(ctx, otlpmetricgrpc.WithEndpointURL(cfg.OTLPEndpoint))
		if err != nil {
			return nil, fmt.Errorf("create otlp grpc metric exporter: %w", err)
		}
		return exp, nil
	}
	u, err := signalURL(cfg.OTLPEndpoint, "metrics")
	if err != nil {
		return nil, err
	}
	exp, err := otlpmetrichttp.New(ctx, otlpmetrichttp.WithEndpointURL(u))
	if err != nil {
		return nil, fmt.Errorf("create otlp http metric exporter: %w", err)
	}
	return exp, nil
}

// signalURL appends the per-signal path to the base endpoint, as the OTLP
// specification prescribes for OTEL_EXPORTER_OTLP_ENDPOINT over HTTP.
func signalURL(base, signal string) (string, error) {
	u, err := url.JoinPath(base, "v1", signal)
	if err != nil {
		return "", fmt.Errorf("join otlp endpoint: %w", err)
	}
	return u, nil
}
