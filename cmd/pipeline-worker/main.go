// Command pipeline-worker runs the pipeline extension's Temporal worker: it
// grades deliveries (GetGradingConfig, ExecutePipeline, ExecutePipelines) on
// the "{prefix}-pipeline-*" task queues, running student code in the
// sandbox and storing results in object storage and the database.
package main

import (
	"log/slog"

	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"

	"github.com/zinc-edu/orchestrator/extensions/pipeline"
	"github.com/zinc-edu/orchestrator/internal/engine"
	"github.com/zinc-edu/orchestrator/internal/events"
	"github.com/zinc-edu/orchestrator/internal/objectstore"
	"github.com/zinc-edu/orchestrator/internal/outbox"
	"github.com/zinc-edu/orchestrator/internal/sandbox"
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
		fx.Supply(servicedefaults.BuildInfo{Name: "pipeline-worker", Version: version}),
		fx.WithLogger(servicedefaults.EventLogger),
		servicedefaults.Module,
		fx.Provide(
			temporal.ExtensionConfig("pipeline"),
			func() (temporal.WorkerConfig, error) { return temporal.LoadWorkerConfig(workflows.PipelineQueues...) },
			servicedefaults.LoadEnv[store.Config],
			servicedefaults.LoadEnv[events.Config],
			servicedefaults.LoadEnv[objectstore.Config],
			servicedefaults.LoadEnv[sandbox.Config],
			servicedefaults.LoadEnv[pipeline.ScratchConfig],
			func(sb engine.Sandbox, log *slog.Logger, tp trace.TracerProvider) *engine.Engine {
				return engine.New(sb, log, engine.WithTracerProvider(tp))
			},
			func(s *store.Store) pipeline.Store { return s },
			servicedefaults.LoadEnv[outbox.Config],
			func(e *outbox.Encoder) pipeline.Announcer { return e },
			func(e *engine.Engine) pipeline.Engine { return e },
			func(r *sandbox.Runner) engine.Sandbox { return r },
		),
		fx.Decorate(func(cfg temporal.WorkerConfig, r *sandbox.Runner) temporal.WorkerConfig {
			return cfg.WithDefaultConcurrency(pipeline.ActivitiesPerSlot * r.Slots())
		}),
		temporal.ClientModule,
		store.Module,
		events.Module,
		outbox.Module,
		objectstore.Module,
		sandbox.Module,
		pipeline.Module,
		temporal.WorkerModule,
	}
}
