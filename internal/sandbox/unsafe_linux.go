//go:build linux

package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// runLocal runs j as a plain child process in its own process group: the
// timeout and the output caps hold, nothing else does. Only for
// ZINC_SANDBOX=unsafe-local; the result says so.
func (r *Runner) runLocal(ctx context.Context, j job) (Result, error) {
	if j.spec.Ephemeral || len(j.spec.Mounts) > 0 {
		return Result{}, fmt.Errorf("%w: ephemeral runs and mounts need containers", ErrInvalidSpec)
	}
	p, err := newPipes()
	if err != nil {
		return Result{}, err
	}
	defer p.closeParent()
	cmd := exec.Command(j.spec.Argv[0], j.spec.Argv[1:]...)
	cmd.Env, cmd.Dir = append([]string{}, j.spec.Env...), j.dir
	cmd.Stdin, cmd.Stdout, cmd.Stderr = p.stdinR, p.stdoutW, p.stderrW
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		p.closeChild()
		// A missing program is the command's failure, as in a container.
		return Result{ExitCode: 127, Stderr: []byte(err.Error() + "\n"), Unsandboxed: true}, nil
	}
	start := time.Now()
	p.closeChild()
	flood := make(chan struct{})
	var floodOnce sync.Once
	onFlood := func() { floodOnce.Do(func() { close(flood) }) }
	stdout := newCapture(j.lim.OutputLimitBytes, onFlood)
	stderr := newCapture(j.lim.OutputLimitBytes, onFlood)
	var readers sync.WaitGroup
	readers.Go(func() { _, _ = io.Copy(stdout, p.stdoutR) })
	readers.Go(func() { _, _ = io.Copy(stderr, p.stderrR) })
	go func() {
		_, _ = p.stdinW.Write(j.spec.Stdin)
		_ = p.stdinW.Close()
	}()
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	timer := time.NewTimer(j.timeout)
	defer timer.Stop()
	var timedOut, cancelled bool
	var waitErr error
	ended := false
	select {
	case waitErr = <-waited:
		ended = true
	case <-timer.C:
		timedOut = true
	case <-flood:
	case <-ctx.Done():
		cancelled = true
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if !ended {
		waitErr = <-waited
	}
	r.drain(&readers, p)
	var exitErr *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &exitErr) {
		return Result{}, fmt.Errorf("wait for command: %w", waitErr)
	}
	res := Result{TimedOut: timedOut, Duration: time.Since(start), Unsandboxed: true}
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		res.ExitCode, res.Signal = -1, unix.SignalName(ws.Signal())
	} else {
		res.ExitCode = ws.ExitStatus()
	}
	var outFlood, errFlood bool
	res.Stdout, res.StdoutTruncated, outFlood = stdout.result()
	res.Stderr, res.StderrTruncated, errFlood = stderr.result()
	res.LimitHit = limitHit(hitFacts{flooded: outFlood || errFlood, truncated: res.StdoutTruncated || res.StderrTruncated,
		signal: res.Signal, exitCode: res.ExitCode, killedByUs: timedOut || cancelled, cpuLimit: time.Duration(j.lim.CPUSeconds) * time.Second})
	if cancelled {
		return res, fmt.Errorf("command cancelled: %w", ctx.Err())
	}
	return res, nil
}
