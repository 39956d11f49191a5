package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/engine"
	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/sandbox"
)

// fakeImage makes a root file system holding python3 (through an
// absolute link, as distributions install it) and nothing of the worker.
func fakeImage(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "usr", "bin"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(root, "opt", "checker"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "usr", "bin", "python3.12"), []byte("x"), 0o755))
	require.NoError(t, os.Symlink("/usr/bin/python3.12", filepath.Join(root, "usr", "bin", "python3")))
	require.NoError(t, os.WriteFile(filepath.Join(root, "opt", "checker", "check"), []byte("x"), 0o755))
	return root
}

// With an environment, every command runs in its root, checkers
// included, and programs are looked up there, not on the worker.
func TestRunInAnEnvironment(t *testing.T) {
	def := parse(t, `version: 2
environment: {image: py}
stages:
  - {name: run, command: [python3, main.py], depends_on: [], stdin: "1\n", expected_stdout: "1\n"}
  - name: judged
    kind: checker
    depends_on: []
    command: [python3, main.py]
    checker: {command: [/opt/checker/check]}
    scenarios: [{name: a}]
  - name: own-checker
    kind: checker
    depends_on: []
    command: [python3, main.py]
    checker: {command: [./check.sh], files: [check.sh]}
    scenarios: [{name: a}]
  - {name: worker-tool, command: [sh, -c, "true"], depends_on: []}
  - {name: absolute, command: [/usr/bin/env], depends_on: []}
files:
  - {name: check.sh, content: "exit 0\n"}
`)
	root := fakeImage(t)
	var (
		mu    sync.Mutex
		specs []sandbox.Spec
	)
	eng := newFakeEngine(func(_ context.Context, spec sandbox.Spec) (sandbox.Result, error) {
		mu.Lock()
		defer mu.Unlock()
		specs = append(specs, spec)
		return sandbox.Result{Stdout: []byte("1\n")}, nil
	})

	rep, err := eng.Run(t.Context(), def, engine.Input{ScratchDir: t.TempDir(), RootFS: root})
	require.NoError(t, err)

	assert.Equal(t, []string{"run=success", "judged/a=success", "own-checker/a=success", "worker-tool=error", "absolute=failed"}, statesOf(rep),
		"a checker given by its files' path is found in its own directory, which the sandbox binds")
	assert.Equal(t, `program "sh" is not installed in the environment py`, step(t, rep, "worker-tool", "").Message)
	assert.Equal(t, `program "/usr/bin/env" not found`, step(t, rep, "absolute", "").Message)
	require.Len(t, specs, 5, "three student commands and two checkers")
	for _, s := range specs {
		assert.Equal(t, root, s.RootFS, "%v", s.Argv)
	}
}

// Without an environment nothing changes: the worker's toolchain.
func TestRunWithoutAnEnvironmentUsesTheWorker(t *testing.T) {
	def := parse(t, `version: 2
stages:
  - {name: tool, command: [sh, -c, "true"]}
`)
	var got sandbox.Spec
	eng := newFakeEngine(func(_ context.Context, spec sandbox.Spec) (sandbox.Result, error) {
		got = spec
		return sandbox.Result{}, nil
	})

	rep, err := eng.Run(t.Context(), def, engine.Input{ScratchDir: t.TempDir()})
	require.NoError(t, err)

	assert.Equal(t, grading.StepSuccess, step(t, rep, "tool", "").State)
	assert.Empty(t, got.RootFS)
}
