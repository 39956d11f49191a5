package store

import (
	"context"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"

	"github.com/zinc-edu/orchestrator/internal/servicedefaults"
)

// Config names the database.
type Config struct {
	// URL is postgres://… for PostgreSQL or sqlite://… for a SQLite file.
	URL string `env:"DATABASE_URL" envDefault:"sqlite:zinc.db"`
	// Migrate applies pending migrations at start-up; they are idempotent
	// and locked on PostgreSQL, so every process may do it.
	Migrate bool `env:"ZINC_MIGRATE" envDefault:"true"`
}

// Module provides an open, migrated *Store from the Config the caller
// supplies, traces its database calls through the process's
// trace.TracerProvider and metric.MeterProvider (servicedefaults.Module),
// registers it as the "database" readiness check and closes it on stop.
var Module = fx.Module("store", fx.Provide(provide))

// startTimeout bounds connecting and migrating at start-up; a migration that
// waits on another process's lock gets the same time.
const startTimeout = 2 * time.Minute

type params struct {
	fx.In
	Lifecycle fx.Lifecycle
	Config    Config
	Log       *slog.Logger
	Health    *servicedefaults.Health
	Tracer    trace.TracerProvider
	Meter     metric.MeterProvider
}

func provide(p params) (*Store, error) {
	lc, cfg, log, health := p.Lifecycle, p.Config, p.Log, p.Health
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	s, err := Open(ctx, cfg.URL, log, WithTracerProvider(p.Tracer), WithMeterProvider(p.Meter))
	if err != nil {
		return nil, err
	}
	if cfg.Migrate {
		if err := s.Migrate(ctx); err != nil {
			_ = s.Close()
			return nil, err
		}
	}
	health.AddReadiness("database", s.Ping)
	lc.Append(fx.StopHook(s.Close))
	return s, nil
}
