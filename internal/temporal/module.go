package temporal

import (
	"context"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"

	"github.com/zinc-edu/orchestrator/internal/servicedefaults"
)

// dialTimeout bounds connecting to Temporal at start-up.
const dialTimeout = 30 * time.Second

// ClientModule dials the process's Temporal client from a Config and closes
// it on stop.
var ClientModule = fx.Module("temporal",
	fx.Provide(newClient),
)

// WorkerModule runs this process's workers with every activity and workflow
// of the value groups; it needs a *Client and a WorkerConfig.
var WorkerModule = fx.Module("temporal_worker",
	fx.Provide(newWorkers),
	fx.Invoke(func(*Workers) {}),
)

// ClientParams are the dependencies of the client.
type ClientParams struct {
	fx.In
	Lifecycle fx.Lifecycle
	Config    Config
	Log       *slog.Logger
	Tracer    trace.TracerProvider
	Meter     metric.MeterProvider
	Health    *servicedefaults.Health `optional:"true"`
}

func newClient(p ClientParams) (*Client, error) {
	// Dial checks the server, so a wrong address fails start-up instead of
	// the first request; the bound keeps a silent address from hanging it.
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
	defer cancel()
	c, err := Dial(ctx, p.Config, p.Log, p.Tracer, p.Meter)
	if err != nil {
		return nil, err
	}
	if p.Health != nil {
		p.Health.AddReadiness("temporal", c.Ready)
	}
	p.Lifecycle.Append(fx.StopHook(c.Close))
	return c, nil
}

// WorkerParams are the dependencies of the workers.
type WorkerParams struct {
	fx.In
	Lifecycle  fx.Lifecycle
	Shutdowner fx.Shutdowner
	Client     *Client
	Config     WorkerConfig
	Log        *slog.Logger
	Activities []Activity `group:"temporal_activities"`
	Workflows  []Workflow `group:"temporal_workflows"`
}

func newWorkers(p WorkerParams) (*Workers, error) {
	onFatal := func(err error) {
		p.Log.Error("worker fatal error", "err", err)
		_ = p.Shutdowner.Shutdown(fx.ExitCode(1))
	}
	ws, err := NewWorkers(p.Client, p.Config, p.Log, p.Activities, p.Workflows, onFatal)
	if err != nil {
		return nil, err
	}
	p.Lifecycle.Append(fx.Hook{
		OnStart: func(context.Context) error { return ws.Start() },
		OnStop:  func(context.Context) error { ws.Stop(); return nil },
	})
	return ws, nil
}
