package engine_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/zinc-edu/orchestrator/internal/ci"
	"github.com/zinc-edu/orchestrator/internal/engine"
	"github.com/zinc-edu/orchestrator/internal/sandbox"
)

// testSandbox returns the sandbox the integration tests run commands with:
// the real sandbox.Runner, shared by all tests because New runs a self-test,
// or execSandbox when ZINC_ENGINE_EXEC_SANDBOX is set or the host cannot
// build a Runner.
func testSandbox(t *testing.T) engine.Sandbox {
	t.Helper()
	if os.Getenv("ZINC_ENGINE_EXEC_SANDBOX") != "" {
		return execSandbox{}
	}
	r, err := sharedRunner()
	if err != nil && ci.Enabled() {
		t.Fatalf("CI=true and the sandbox cannot start: %v", err)
	}
	if err != nil {
		t.Logf("using the os/exec stand-in: %v", err)
		return execSandbox{}
	}
	return r
}

// sharedRunner builds the one sandbox.Runner of the test binary;
// TestMain closes it.
var sharedRunner = sync.OnceValues(func() (*sandbox.Runner, error) {
	r, err := sandbox.New(sandbox.Config{}, discardLogger())
	if err == nil {
		made.Store(r)
	}
	return r, err
})

var made atomic.Pointer[sandbox.Runner]

func closeSharedRunner() error {
	if r := made.Load(); r != nil {
		return r.Close()
	}
	return nil
}

func discardLogger() *slog.Logger {
	return slog.New(slog.DiscardHandler)
}

// execSandbox is a thin test stand-in for sandbox.Runner: each command runs
// with os/exec in its own process group, which is killed when the command
// exits, times out, floods its output or ctx ends. It enforces no resource
// limit except output.
type execSandbox struct{}

var (
	_ engine.Sandbox = execSandbox{}
	_ engine.Sandbox = (*sandbox.Runner)(nil)
)

func (execSandbox) Run(ctx context.Context, spec sandbox.Spec) (sandbox.Result, error) {
	if len(spec.Argv) == 0 {
		return sandbox.Result{}, errors.New("empty argv")
	}
	prog := spec.Argv[0]
	if !strings.Contains(prog, "/") {
		// Resolve in the command's PATH, not the test process's.
		prog = resolve(prog, spec.Env)
	}
	timeout := spec.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	limit := spec.Limits.OutputLimitBytes
	if limit <= 0 {
		limit = 1 << 20
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		return sandbox.Result{}, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		_ = outR.Close()
		_ = outW.Close()
		return sandbox.Result{}, err
	}
	cmd := &exec.Cmd{
		Path:        prog,
		Args:        spec.Argv,
		Dir:         spec.Dir,
		Env:         spec.Env,
		Stdin:       bytes.NewReader(spec.Stdin),
		Stdout:      outW,
		Stderr:      errW,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	start := time.Now()
	err = cmd.Start()
	_ = outW.Close()
	_ = errW.Close()
	if err != nil {
		_ = outR.Close()
		_ = errR.Close()
		return sandbox.Result{ExitCode: 127, Stderr: []byte(err.Error())}, nil
	}
	pgid := cmd.Process.Pid
	kill := func() { _ = syscall.Kill(-pgid, syscall.SIGKILL) }

	flood := make(chan struct{})
	var floodOnce sync.Once
	stdout := &capped{limit: limit, onFull: func() { floodOnce.Do(func() { close(flood) }) }}
	stderr := &capped{limit: limit, onFull: func() { floodOnce.Do(func() { close(flood) }) }}
	var copying sync.WaitGroup
	copying.Go(func() { stdout.drain(outR) })
	copying.Go(func() { stderr.drain(errR) })

	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var timedOut, flooded, cancelled bool
	var waitErr error
	select {
	case waitErr = <-waited:
	case <-timer.C:
		timedOut = true
	case <-flood:
		flooded = true
	case <-ctx.Done():
		cancelled = true
	}
	kill()
	if timedOut || flooded || cancelled {
		waitErr = <-waited
	}
	copying.Wait()

	res := sandbox.Result{
		Duration:        time.Since(start),
		Stdout:          stdout.buf.Bytes(),
		Stderr:          stderr.buf.Bytes(),
		StdoutTruncated: stdout.full,
		StderrTruncated: stderr.full,
		TimedOut:        timedOut,
	}
	if flooded {
		res.LimitHit = "output"
	}
	var exitErr *exec.ExitError
	switch {
	case waitErr == nil:
	case errors.As(waitErr, &exitErr):
		ws := exitErr.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			res.ExitCode, res.Signal = -1, signalName(ws.Signal())
		} else {
			res.ExitCode = ws.ExitStatus()
		}
	default:
		return res, waitErr
	}
	if cancelled {
		return res, ctx.Err()
	}
	return res, nil
}

func resolve(prog string, env []string) string {
	for _, kv := range env {
		if path, ok := strings.CutPrefix(kv, "PATH="); ok {
			for _, dir := range filepath.SplitList(path) {
				p := filepath.Join(dir, prog)
				if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
					return p
				}
			}
		}
	}
	return prog
}

func signalName(s syscall.Signal) string {
	names := map[syscall.Signal]string{
		syscall.SIGKILL: "SIGKILL", syscall.SIGSEGV: "SIGSEGV", syscall.SIGABRT: "SIGABRT",
		syscall.SIGFPE: "SIGFPE", syscall.SIGTERM: "SIGTERM", syscall.SIGBUS: "SIGBUS",
		syscall.SIGPIPE: "SIGPIPE", syscall.SIGXCPU: "SIGXCPU", syscall.SIGXFSZ: "SIGXFSZ",
	}
	if n, ok := names[s]; ok {
		return n
	}
	return fmt.Sprintf("signal %d", int(s))
}

// capped keeps at most limit bytes and reports once when more arrive.
type capped struct {
	limit  int64
	onFull func()
	buf    bytes.Buffer
	full   bool
}

func (c *capped) drain(r *os.File) {
	defer func() { _ = r.Close() }()
	chunk := make([]byte, 32<<10)
	for {
		n, err := r.Read(chunk)
		if n > 0 && !c.full {
			room := c.limit - int64(c.buf.Len())
			if int64(n) > room {
				c.buf.Write(chunk[:room])
				c.full = true
				c.onFull()
			} else {
				c.buf.Write(chunk[:n])
			}
		}
		if err != nil {
			return
		}
	}
}
