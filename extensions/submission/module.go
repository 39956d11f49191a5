package submission

import (
	"go.uber.org/fx"

	"github.com/zinc-edu/orchestrator/internal/temporal"
)

// Module provides the submission activities to the process's workers; it
// needs a Store.
var Module = fx.Module("submission",
	fx.Provide(temporal.AsActivity(NewActivities)),
)
