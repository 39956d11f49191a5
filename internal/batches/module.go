package batches

import (
	"go.uber.org/fx"

	"github.com/zinc-edu/orchestrator/internal/temporal"
)

// Module provides the batch service and the core activities; it needs a
// Store, a Recorder, a Publisher and a *temporal.Client.
var Module = fx.Module("batches",
	fx.Provide(NewService, temporal.AsActivity(NewActivities)),
)
