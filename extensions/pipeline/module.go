package pipeline

import (
	"context"
	"log/slog"
	"path/filepath"

	"go.uber.org/fx"
	"gocloud.dev/blob"

	"github.com/zinc-edu/orchestrator/internal/environment"
	"github.com/zinc-edu/orchestrator/internal/temporal"
)

// Module provides the grader and the pipeline activities to the process's
// workers; it needs a Store, a *blob.Bucket, a Engine, a Announcer, a
// ScratchConfig and a logger.
var Module = fx.Module("pipeline",
	fx.Provide(newScratch, newGrader, temporal.AsActivity(NewActivities)),
)

// ActivitiesPerSlot is how many pipeline activities a worker runs at once
// per sandbox slot, unless its queues set a concurrency: enough to fetch
// and store deliveries while others run commands, few enough that a
// worker does not hoard deliveries other workers could grade.
const ActivitiesPerSlot = 2

// newScratch opens the worker's scratch area, removing dead workers' first,
// and removes its own when the worker stops.
func newScratch(lc fx.Lifecycle, cfg ScratchConfig, log *slog.Logger) (*Scratch, error) {
	s, err := OpenScratch(cfg, log)
	if err != nil {
		return nil, err
	}
	lc.Append(fx.StopHook(func(context.Context) error { return s.Close() }))
	return s, nil
}

// newGrader grades in the worker's scratch area, where it also keeps the
// environments it unpacks for as long as the worker lives.
func newGrader(s Store, bucket *blob.Bucket, r Engine, events Announcer, log *slog.Logger, sc *Scratch) *Grader {
	envs := environment.NewCache(filepath.Join(sc.Dir(), "environments"), bucket, environment.Limits{}, log)
	return NewGrader(s, bucket, r, events, log).WithScratch(sc.Dir()).WithEnvironments(envs)
}
