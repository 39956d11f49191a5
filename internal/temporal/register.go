package temporal

import "go.uber.org/fx"

// Value-group names that workers consume.
const (
	activitiesGroup = `group:"temporal_activities"`
	workflowsGroup  = `group:"temporal_workflows"`
)

// Activity is a struct whose exported methods are activities, registered
// under their method names.
type Activity any

// Workflow is a workflow function registered under an explicit name, so
// renaming the Go function never breaks running executions.
type Workflow struct {
	Name string
	Func any
}

// AsActivity annotates a constructor so that what it returns joins the
// activities every worker of the process registers.
func AsActivity(constructor any) any {
	return fx.Annotate(constructor, fx.As(new(Activity)), fx.ResultTags(activitiesGroup))
}

// AsWorkflow adds a workflow function, under name, to the workflows every
// worker of the process registers.
func AsWorkflow(name string, fn any) fx.Option {
	return fx.Supply(fx.Annotated{Group: "temporal_workflows", Target: Workflow{Name: name, Func: fn}})
}
