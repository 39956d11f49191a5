package workflows

import (
	"go.uber.org/fx"

	"github.com/zinc-edu/orchestrator/internal/temporal"
)

// All is the whole set of workflows of this package, under their
// registered names. A process hosting workflows (the core worker)
// registers all of them, never a subset: a partitioned batch starts
// BatchGrading children on the same worker.
func All() []temporal.Workflow {
	return []temporal.Workflow{{Name: BatchGradingName, Func: BatchGrading}}
}

// Module registers All with the process that hosts workflows.
var Module = fx.Module("workflows", asWorkflows(All())...)

func asWorkflows(wfs []temporal.Workflow) []fx.Option {
	opts := make([]fx.Option, len(wfs))
	for i, wf := range wfs {
		opts[i] = temporal.AsWorkflow(wf.Name, wf.Func)
	}
	return opts
}
