//go:build !linux

package sandbox

import (
	"context"
	"errors"
	"log/slog"
)

// errUnsupported reports a platform the runner has no implementation for.
var errUnsupported = errors.New("sandbox: only Linux is supported")

// Runner runs commands in a sandbox. On this platform it cannot be built:
// New always fails.
type Runner struct{}

// New fails: the sandbox relies on Linux process controls.
func New(Config, *slog.Logger) (*Runner, error) { return nil, errUnsupported }

// Run fails: the sandbox relies on Linux process controls.
func (r *Runner) Run(context.Context, Spec) (Result, error) { return Result{}, errUnsupported }

// ResolveLimits fails: the sandbox relies on Linux process controls.
func (r *Runner) ResolveLimits(Limits) (Limits, error) { return Limits{}, errUnsupported }

// Slots reports one slot.
func (r *Runner) Slots() int { return 1 }

// Capabilities reports that nothing is available.
func (r *Runner) Capabilities() Capabilities { return Capabilities{} }

// Close has nothing to release.
func (r *Runner) Close() error { return nil }
