// Command api runs ZINC core: the HTTP API under /v1 and the core worker,
// which hosts BatchGradingWorkflow and the core activities on the
// "{prefix}-core-default" task queue.
package main

import (
	"go.uber.org/fx"

	"github.com/zinc-edu/orchestrator/internal/api"
	"github.com/zinc-edu/orchestrator/internal/auth"
	"github.com/zinc-edu/orchestrator/internal/batches"
	"github.com/zinc-edu/orchestrator/internal/events"
	"github.com/zinc-edu/orchestrator/internal/objectstore"
	"github.com/zinc-edu/orchestrator/internal/outbox"
	"github.com/zinc-edu/orchestrator/internal/servicedefaults"
	"github.com/zinc-edu/orchestrator/internal/store"
	"github.com/zinc-edu/orchestrator/internal/temporal"
	"github.com/zinc-edu/orchestrator/workflows"
)

// version is set at link time: -ldflags "-X main.version=…".
var version = "dev"

func main() {
	fx.New(options()...).Run()
}

func options() []fx.Option {
	return []fx.Option{
		fx.Supply(servicedefaults.BuildInfo{Name: "api", Version: version}),
		fx.WithLogger(servicedefaults.EventLogger),
		servicedefaults.Module,
		fx.Provide(
			temporal.LoadConfig,
			func() (temporal.WorkerConfig, error) { return temporal.LoadWorkerConfig(workflows.CoreTaskQueue) },
			servicedefaults.LoadEnv[store.Config],
			servicedefaults.LoadEnv[events.Config],
			servicedefaults.LoadEnv[objectstore.Config],
			servicedefaults.LoadEnv[api.Config],
			servicedefaults.LoadEnv[auth.Config],
			func(s *store.Store) api.Store { return s },
			func(s *store.Store) batches.Store { return s },
			func(s *store.Store) batches.Recorder { return s },
			servicedefaults.LoadEnv[outbox.Config],
			func(e *outbox.Encoder) api.Announcer { return e },
			func(e *outbox.Encoder) batches.Announcer { return e },
			func(b *events.Bus) api.Feed { return b },
			func(s *batches.Service) api.Batches { return s },
		),
		temporal.ClientModule,
		store.Module,
		events.Module,
		outbox.Module,
		objectstore.Module,
		batches.Module,
		workflows.Module,
		api.Module,
		temporal.WorkerModule,
	}
}
