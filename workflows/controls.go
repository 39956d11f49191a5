package workflows

import (
	"errors"
	"fmt"

	"go.temporal.io/sdk/workflow"
)

// The controls of a running batch: the progress query, the pause, resume
// and set-concurrency updates, and their forwarding to a partition child.

func (b *batch) poke() {
	b.progressDirty = true
	b.wake.SendAsync(struct{}{})
}

func (b *batch) registerHandlers(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, ProgressQuery, func() (Progress, error) {
		return b.progress(ctx), nil
	}); err != nil {
		return fmt.Errorf("set progress query: %w", err)
	}
	if err := b.setPausedHandler(ctx, PauseUpdate, true, "batch is already paused"); err != nil {
		return err
	}
	if err := b.setPausedHandler(ctx, ResumeUpdate, false, "batch is not paused"); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, SetConcurrencyUpdate,
		func(ctx workflow.Context, n int) (int, error) {
			b.concurrency = n
			b.forward(ctx, SetConcurrencyUpdate, n)
			b.poke()
			return n, nil
		},
		workflow.UpdateHandlerOptions{Validator: CheckConcurrency},
	); err != nil {
		return fmt.Errorf("set concurrency update: %w", err)
	}
	return nil
}

// setPausedHandler registers the update name (pause or resume), which sets
// the batch's paused state to paused and is refused, with refusal, when the
// batch is in that state already.
func (b *batch) setPausedHandler(ctx workflow.Context, name string, paused bool, refusal string) error {
	err := workflow.SetUpdateHandlerWithOptions(ctx, name,
		func(ctx workflow.Context) error {
			b.carry.Paused = paused
			b.forward(ctx, name, nil)
			b.poke()
			return nil
		},
		workflow.UpdateHandlerOptions{Validator: func() error {
			if b.carry.Paused == paused {
				return errors.New(refusal)
			}
			return nil
		}},
	)
	if err != nil {
		return fmt.Errorf("set %s update: %w", name, err)
	}
	return nil
}

// forward passes a control the batch accepted on to its running partition.
func (b *batch) forward(ctx workflow.Context, name string, arg any) {
	if b.child == "" {
		return
	}
	// Fire and forget: a partition that just finished needs no control,
	// and the next one starts from the batch's state.
	workflow.SignalExternalWorkflow(ctx, b.child, "", name, arg)
}

// listenToParent applies the controls a partitioned batch forwards as
// signals named like its updates.
func (b *batch) listenToParent(ctx workflow.Context) {
	listen := func(name string, apply func(workflow.Context, workflow.ReceiveChannel)) {
		ch := workflow.GetSignalChannel(ctx, name)
		workflow.Go(ctx, func(ctx workflow.Context) {
			for ctx.Err() == nil {
				apply(ctx, ch)
				b.poke()
			}
		})
	}
	listen(PauseUpdate, func(ctx workflow.Context, ch workflow.ReceiveChannel) {
		ch.Receive(ctx, nil)
		b.carry.Paused = true
	})
	listen(ResumeUpdate, func(ctx workflow.Context, ch workflow.ReceiveChannel) {
		ch.Receive(ctx, nil)
		b.carry.Paused = false
	})
	listen(SetConcurrencyUpdate, func(ctx workflow.Context, ch workflow.ReceiveChannel) {
		var n int
		ch.Receive(ctx, &n)
		if CheckConcurrency(n) == nil {
			b.concurrency = n
		}
	})
}
