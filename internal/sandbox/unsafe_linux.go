//go:build linux

package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
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
	if j.spec.RootFS != "" {
		return Result{}, fmt.Errorf("%w: an environment image (root file system %s) needs containers, not ZINC_SANDBOX=unsafe-local", ErrInvalidSpec, j.spec.RootFS)
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
	out := captureOutputs(p, j.lim.OutputLimitBytes)
	go func() {
		_, _ = p.stdinW.Write(j.spec.Stdin)
		_ = p.stdinW.Close()
	}()
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	waitErr, end := watch(ctx, waited, j.timeout, out.flood)
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if !end.exited {
		waitErr = <-waited
	}
	r.drain(&out.readers, p)
	var exitErr *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &exitErr) {
		return Result{}, fmt.Errorf("wait for command: %w", waitErr)
	}
	res := Result{TimedOut: end.timedOut, Duration: time.Since(start), Unsandboxed: true}
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		res.ExitCode, res.Signal = -1, unix.SignalName(ws.Signal())
	} else {
		res.ExitCode = ws.ExitStatus()
	}
	flooded, truncated := out.fill(&res)
	res.LimitHit = limitHit(hitFacts{flooded: flooded, truncated: truncated,
		signal: res.Signal, exitCode: res.ExitCode, killedByUs: end.killedByUs(),
		cpuUsed: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), cpuLimit: time.Duration(j.lim.CPUSeconds) * time.Second})
	if end.cancelled {
		return res, fmt.Errorf("command cancelled: %w", ctx.Err())
	}
	return res, nil
}
