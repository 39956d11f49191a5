package workflows

import (
	"go.uber.org/fx"

	"github.com/zinc-edu/orchestrator/internal/temporal"
)

// Module registers every workflow of this package with the process that
// hosts workflows (the core worker); it registers the whole set, never a
// subset.
var Module = fx.Module("workflows",
	temporal.AsWorkflow(BatchGradingName, BatchGrading),
)
