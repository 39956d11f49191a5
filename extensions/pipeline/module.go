package pipeline

import (
	"go.uber.org/fx"

	"github.com/zinc-edu/orchestrator/internal/temporal"
)

// Module provides the grader and the pipeline activities to the process's
// workers; it needs a Store, a *blob.Bucket, a Runner, a Publisher and a
// logger.
var Module = fx.Module("pipeline",
	fx.Provide(NewGrader, temporal.AsActivity(NewActivities)),
)
