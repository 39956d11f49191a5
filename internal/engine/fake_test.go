package engine_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/engine"
	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/sandbox"
)

// sandboxFunc adapts a function to engine.Sandbox.
type sandboxFunc func(ctx context.Context, spec sandbox.Spec) (sandbox.Result, error)

func (f sandboxFunc) Run(ctx context.Context, spec sandbox.Spec) (sandbox.Result, error) {
	return f(ctx, spec)
}

func newFakeEngine(f sandboxFunc) *engine.Engine {
	return engine.New(f, discardLogger())
}

func TestRunSandboxFault(t *testing.T) {
	def := parse(t, `version: 2
stages:
  - {name: build, command: [cc]}
  - {name: test, command: [./a.out]}
rubric:
  components: [{name: test, from: test, max_score: 1}]
`)
	eng := newFakeEngine(func(context.Context, sandbox.Spec) (sandbox.Result, error) {
		return sandbox.Result{}, errors.New("cgroup vanished")
	})
	dir := scratch(t, map[string]string{"a.out": ""})

	rep, err := eng.Run(context.Background(), def, engine.Input{ScratchDir: dir})
	require.NoError(t, err)

	assert.Equal(t, grading.StatusUngraded, rep.Status)
	assert.Equal(t, []string{"build=error", "test=skipped"}, statesOf(rep))
	assert.Equal(t, "run command: cgroup vanished", rep.Steps[0].Message)
	assert.Equal(t, `component "test": stage "test" was skipped because stage "build" ended in an error: run command: cgroup vanished`, rep.Diagnostic)
}

func TestRunSpec(t *testing.T) {
	def := parse(t, `version: 2
defaults: {timeout: 3s, memory_mb: 64, cpu_seconds: 2}
files: [{name: in.txt, content: "from file"}]
stages:
  - name: run
    command: [cat, -]
    env: {A: "1"}
    limits: {network: true, max_processes: 5}
    scenarios:
      - {name: a, args: [x], stdin_file: in.txt, timeout: 500ms}
`)
	var got sandbox.Spec
	eng := newFakeEngine(func(_ context.Context, spec sandbox.Spec) (sandbox.Result, error) {
		got = spec
		return sandbox.Result{}, nil
	})
	dir := t.TempDir()

	_, err := eng.Run(context.Background(), def, engine.Input{ScratchDir: dir})
	require.NoError(t, err)

	assert.Equal(t, sandbox.Spec{
		Argv:    []string{"cat", "-", "x"},
		Dir:     dir,
		Scratch: dir,
		Stdin:   []byte("from file"),
		Env:     []string{"A=1", "HOME=" + dir, "LANG=C.UTF-8", "PATH=/usr/local/bin:/usr/bin:/bin"},
		Timeout: 500 * time.Millisecond,
		Limits:  sandbox.Limits{CPUSeconds: 2, MemoryMB: 64, MaxProcesses: 5, Network: true},
	}, got)
}

func TestRunBoundsParallelScenarios(t *testing.T) {
	def := parse(t, `version: 2
stages:
  - name: run
    command: [cat]
    parallelism: 2
    scenarios: [{name: a}, {name: b}, {name: c}, {name: d}, {name: e}]
`)
	var mu sync.Mutex
	inFlight, peak := 0, 0
	started := make(chan struct{})
	gate := make(chan struct{})
	eng := newFakeEngine(func(ctx context.Context, _ sandbox.Spec) (sandbox.Result, error) {
		mu.Lock()
		inFlight++
		peak = max(peak, inFlight)
		mu.Unlock()
		select {
		case started <- struct{}{}:
		case <-gate:
		}
		<-gate
		mu.Lock()
		inFlight--
		mu.Unlock()
		return sandbox.Result{}, nil
	})
	done := make(chan error, 1)
	go func() {
		_, err := eng.Run(context.Background(), def, engine.Input{ScratchDir: t.TempDir()})
		done <- err
	}()
	// Two scenarios must be running at once before either is let go.
	<-started
	<-started
	close(gate)
	require.NoError(t, <-done)

	assert.Equal(t, 2, peak)
}

func TestRunCancelled(t *testing.T) {
	def := parse(t, `version: 2
stages:
  - {name: first, command: [sh, -c, "echo started > marker; exec sleep 60"]}
  - {name: second, command: ["true"]}
`)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	done := make(chan error, 1)
	go func() {
		_, err := newEngine(t).Run(ctx, def, engine.Input{ScratchDir: dir})
		done <- err
	}()
	// The command's writes reach the scratch directory only when it ends,
	// so there is nothing to wait for: cancel while it starts or runs.
	time.AfterFunc(500*time.Millisecond, cancel)

	select {
	case err := <-done:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancellation")
	}
}

func TestRunCancelledBeforeStart(t *testing.T) {
	def := parse(t, "version: 2\nstages: [{name: a, command: [\"true\"]}]")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	eng := newFakeEngine(func(context.Context, sandbox.Spec) (sandbox.Result, error) {
		t.Error("nothing may run after cancellation")
		return sandbox.Result{}, nil
	})

	_, err := eng.Run(ctx, def, engine.Input{ScratchDir: t.TempDir()})

	require.ErrorIs(t, err, context.Canceled)
}
