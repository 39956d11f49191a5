//go:build linux

package sandbox

import (
	"context"
	"io"
	"sync"
	"time"
)

// outputs captures a command's stdout and stderr from its pipes, each up to
// the output limit; flood is closed once either runs far past it.
type outputs struct {
	stdout, stderr *capture
	flood          chan struct{}
	readers        sync.WaitGroup
}

func captureOutputs(p *pipes, limit int64) *outputs {
	o := &outputs{flood: make(chan struct{})}
	var once sync.Once
	onFlood := func() { once.Do(func() { close(o.flood) }) }
	o.stdout, o.stderr = newCapture(limit, onFlood), newCapture(limit, onFlood)
	o.readers.Go(func() { _, _ = io.Copy(o.stdout, p.stdoutR) })
	o.readers.Go(func() { _, _ = io.Copy(o.stderr, p.stderrR) })
	return o
}

// fill copies the captured output into res and reports whether it flooded
// or was truncated.
func (o *outputs) fill(res *Result) (flooded, truncated bool) {
	var outFlood, errFlood bool
	res.Stdout, res.StdoutTruncated, outFlood = o.stdout.result()
	res.Stderr, res.StderrTruncated, errFlood = o.stderr.result()
	return outFlood || errFlood, res.StdoutTruncated || res.StderrTruncated
}

// ending is why the runner stopped watching a command: it exited, its
// timeout passed, ctx ended, or (none of these) its output flooded.
type ending struct {
	exited, timedOut, cancelled bool
}

// killedByUs: the runner ended the command, for its timeout or for ctx.
func (e ending) killedByUs() bool { return e.timedOut || e.cancelled }

// watch waits for whichever comes first: the command's exit (its value
// arrives on exited), the timeout, an output flood, or the end of ctx.
func watch[T any](ctx context.Context, exited <-chan T, timeout time.Duration, flood <-chan struct{}) (T, ending) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var v T
	select {
	case v = <-exited:
		return v, ending{exited: true}
	case <-timer.C:
		return v, ending{timedOut: true}
	case <-flood:
		return v, ending{}
	case <-ctx.Done():
		return v, ending{cancelled: true}
	}
}
