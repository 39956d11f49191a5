package api

import (
	"log/slog"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.temporal.io/sdk/converter"
	"go.uber.org/fx"
	"gocloud.dev/blob"

	"github.com/zinc-edu/orchestrator/internal/auth"
	"github.com/zinc-edu/orchestrator/internal/servicedefaults"
	"github.com/zinc-edu/orchestrator/internal/temporal"
)

// Module provides the *Server from the Config the caller supplies (for
// example servicedefaults.LoadEnv[api.Config]); it listens when the app
// starts, so a taken port fails start-up, and drains on stop. The caller
// binds Store, Batches, Announcer and Feed to their implementations, supplies the
// auth.Config (servicedefaults.LoadEnv[auth.Config]), and supplies
// the temporal.Config whose settings extensions are served. It needs
// servicedefaults.Module and a *blob.Bucket (objectstore.Module).
var Module = fx.Module("api",
	fx.Provide(provideServer),
	fx.Invoke(func(*Server) {}),
)

// ModuleParams are the dependencies of the Module's *Server.
type ModuleParams struct {
	fx.In

	Lifecycle      fx.Lifecycle
	Config         Config
	Auth           auth.Config
	Store          Store
	Batches        Batches
	Bucket         *blob.Bucket
	Events         Announcer
	Feed           Feed `optional:"true"`
	Temporal       temporal.Config
	Health         *servicedefaults.Health
	Log            *slog.Logger
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider
	Propagator     propagation.TextMapPropagator
}

// codecOf is the process's payload codec, or nil: a nil *Codec must not
// become a non-nil interface.
func codecOf(c temporal.Config) converter.PayloadCodec {
	if c.Codec == nil {
		return nil
	}
	return c.Codec
}

func provideServer(p ModuleParams) (*Server, error) {
	s, err := NewServer(Params{
		Config:         p.Config,
		Auth:           p.Auth,
		Store:          p.Store,
		Batches:        p.Batches,
		Bucket:         p.Bucket,
		Events:         p.Events,
		Feed:           p.Feed,
		Temporal:       p.Temporal.Configuration(),
		Codec:          codecOf(p.Temporal),
		Health:         p.Health,
		Log:            p.Log,
		TracerProvider: p.TracerProvider,
		MeterProvider:  p.MeterProvider,
		Propagator:     p.Propagator,
	})
	if err != nil {
		return nil, err
	}
	p.Lifecycle.Append(fx.Hook{OnStart: s.Start, OnStop: s.Stop})
	return s, nil
}
