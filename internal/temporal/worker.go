package temporal

import (
	"errors"
	"fmt"
	"log/slog"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// Workers are the Temporal workers of one process, one per task queue, all
// registering the same activities and workflows.
type Workers struct {
	log     *slog.Logger
	workers []worker.Worker
	queues  []string
}

// NewWorkers builds one worker per configured queue. onFatal is called when
// a worker stops for good (for example its namespace vanished); the process
// should then exit.
func NewWorkers(c *Client, cfg WorkerConfig, log *slog.Logger, acts []Activity, wfs []Workflow, onFatal func(error)) (*Workers, error) {
	if len(cfg.Queues) == 0 {
		return nil, errors.New("create workers: no task queue configured")
	}
	stop := cfg.StopTimeout
	if stop <= 0 {
		stop = DefaultStopTimeout
	}
	ws := &Workers{log: log}
	for _, q := range cfg.Queues {
		name := c.FormatTaskQueue(q.Suffix)
		w := worker.New(c.Client, name, worker.Options{
			MaxConcurrentActivityExecutionSize:     q.MaxConcurrentActivities,
			MaxConcurrentWorkflowTaskExecutionSize: q.MaxConcurrentWorkflowTasks,
			TaskQueueActivitiesPerSecond:           q.ActivitiesPerSecond,
			WorkerStopTimeout:                      stop,
			OnFatalError:                           onFatal,
		})
		for _, a := range acts {
			w.RegisterActivityWithOptions(a, activity.RegisterOptions{SkipInvalidStructFunctions: true})
		}
		for _, wf := range wfs {
			if wf.Name == "" {
				return nil, fmt.Errorf("create worker for %s: workflow without a name", name)
			}
			w.RegisterWorkflowWithOptions(wf.Func, workflow.RegisterOptions{Name: wf.Name})
		}
		ws.workers = append(ws.workers, w)
		ws.queues = append(ws.queues, name)
	}
	return ws, nil
}

// Start starts polling; it does not block. Workers already started are
// stopped again if one fails.
func (ws *Workers) Start() error {
	for i, w := range ws.workers {
		if err := w.Start(); err != nil {
			for _, started := range ws.workers[:i] {
				started.Stop()
			}
			return fmt.Errorf("start worker for %s: %w", ws.queues[i], err)
		}
		ws.log.Info("worker started", "task_queue", ws.queues[i])
	}
	return nil
}

// Stop stops polling and waits up to the stop timeout for running tasks.
func (ws *Workers) Stop() {
	for i, w := range ws.workers {
		w.Stop()
		ws.log.Info("worker stopped", "task_queue", ws.queues[i])
	}
}
