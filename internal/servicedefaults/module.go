package servicedefaults

import (
	"context"
	"log/slog"
	"os"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"
)

// Module provides Config (from the environment, defaulting the service name
// to BuildInfo.Name), a *slog.Logger writing to stderr with a service
// attribute, trace.TracerProvider, metric.MeterProvider,
// propagation.TextMapPropagator and a started *Health. main must supply
// BuildInfo. Providers are shut down, flushing telemetry, when the app stops.
//
// It is the project's one deliberate bundle (STYLE M4): every process needs
// all of it.
var Module = fx.Module("servicedefaults",
	fx.Provide(
		provideConfig,
		provideLogger,
		provideTracerProvider,
		provideMeterProvider,
		NewPropagator,
		provideHealth,
	),
	fx.Invoke(install),
)

// EventLogger sends fx's own event log to log: successful steps at debug,
// failures at error. Use it as fx.WithLogger(servicedefaults.EventLogger).
func EventLogger(log *slog.Logger) fxevent.Logger {
	l := &fxevent.SlogLogger{Logger: log.With(slog.String("component", "fx"))}
	l.UseLogLevel(slog.LevelDebug)
	l.UseErrorLevel(slog.LevelError)
	return l
}

func provideConfig(info BuildInfo) (Config, error) {
	return LoadConfig(info.Name)
}

func provideLogger(cfg Config) *slog.Logger {
	return NewLogger(os.Stderr, cfg.LogLevel, cfg.LogFormat).With(slog.String("service", cfg.ServiceName))
}

func provideTracerProvider(lc fx.Lifecycle, cfg Config, info BuildInfo) (trace.TracerProvider, error) {
	tp, err := NewTracerProvider(context.Background(), cfg, info)
	if err != nil {
		return nil, err
	}
	lc.Append(fx.StopHook(tp.Shutdown))
	return tp, nil
}

func provideMeterProvider(lc fx.Lifecycle, cfg Config, info BuildInfo) (metric.MeterProvider, error) {
	mp, err := NewMeterProvider(context.Background(), cfg, info)
	if err != nil {
		return nil, err
	}
	lc.Append(fx.StopHook(mp.Shutdown))
	return mp, nil
}

func provideHealth(lc fx.Lifecycle, cfg Config, log *slog.Logger) *Health {
	h := NewHealth(cfg.HealthAddr, log)
	lc.Append(fx.Hook{OnStart: h.Start, OnStop: h.Stop})
	return h
}

// install is the module's one Invoke. It registers the providers as
// OpenTelemetry's globals — the conventional place instrumentation libraries
// (otelhttp, the Temporal interceptor) look when not handed a provider —
// routes OpenTelemetry's internal errors to the logger, and makes sure the
// health server runs even when nothing else asks for *Health.
func install(tp trace.TracerProvider, mp metric.MeterProvider, prop propagation.TextMapPropagator, log *slog.Logger, _ *Health) {
	otel.SetTracerProvider(tp)
	otel.SetMeterProvider(mp)
	otel.SetTextMapPropagator(prop)
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		log.Warn("opentelemetry error", slog.Any("err", err))
	}))
}
