package events

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"

	"github.com/zinc-edu/orchestrator/internal/servicedefaults"
)

// Module provides a connected *Bus built from the Config the caller supplies
// (for example with fx.Supply or servicedefaults.LoadEnv[events.Config]),
// registers its connection as the "nats" readiness check and drains it when
// the app stops. It needs servicedefaults.Module.
var Module = fx.Module("events", fx.Provide(provideBus))

// Params are the dependencies of the Module's *Bus.
type Params struct {
	fx.In

	Lifecycle      fx.Lifecycle
	Config         Config
	Log            *slog.Logger
	Health         *servicedefaults.Health
	TracerProvider trace.TracerProvider
	Propagator     propagation.TextMapPropagator
}

// provideBus dials at construction, like the Temporal client, so every
// consumer receives a usable Bus and an unreachable NATS stops the app
// before it starts.
func provideBus(p Params) (*Bus, error) {
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()
	b, err := Connect(ctx, p.Config, p.Log,
		WithTracerProvider(p.TracerProvider), WithPropagator(p.Propagator))
	if err != nil {
		return nil, err
	}
	p.Health.AddReadiness("nats", b.Ready)
	p.Lifecycle.Append(fx.StopHook(b.Close))
	return b, nil
}
