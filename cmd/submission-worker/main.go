// Command submission-worker runs the submission extension's Temporal worker:
// it serves GetCollectionLatestDeliveries from ZINC's delivery store on the
// "{prefix}-submission-default" task queue.
package main

import (
	"go.uber.org/fx"

	"github.com/zinc-edu/orchestrator/extensions/submission"
	"github.com/zinc-edu/orchestrator/internal/servicedefaults"
	"github.com/zinc-edu/orchestrator/internal/store"
	"github.com/zinc-edu/orchestrator/internal/temporal"
)

// version is set at link time: -ldflags "-X main.version=…".
var version = "dev"

func main() {
	fx.New(options()...).Run()
}

func options() []fx.Option {
	return []fx.Option{
		fx.Supply(servicedefaults.BuildInfo{Name: "submission-worker", Version: version}),
		fx.WithLogger(servicedefaults.EventLogger),
		servicedefaults.Module,
		fx.Provide(
			temporal.ExtensionConfig("submission"),
			func() (temporal.WorkerConfig, error) { return temporal.LoadWorkerConfig(submission.DefaultTaskQueue) },
			servicedefaults.LoadEnv[store.Config],
			func(s *store.Store) submission.Store { return s },
		),
		temporal.ClientModule,
		store.Module,
		submission.Module,
		temporal.WorkerModule,
	}
}
