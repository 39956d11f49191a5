package engine_test

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/engine"
	"github.com/zinc-edu/orchestrator/internal/sandbox"
)

// TestHostileOutputIsNotHeldForTheWholeDelivery: a student whose program
// prints its full output allowance (1 MiB per stream by default) in every
// scenario of a long suite must not make the worker hold all of it at
// once: 100 scenarios would be 200 MiB for one delivery, and a worker runs
// several deliveries at a time. Each step's output goes to Input.Output as
// soon as the step is judged.
func TestHostileOutputIsNotHeldForTheWholeDelivery(t *testing.T) {
	const scenarios, perStream = 100, 1 << 20
	var src strings.Builder
	src.WriteString("version: 2\nstages:\n  - name: test\n    command: [./prog]\n    scenarios:\n")
	for i := range scenarios {
		fmt.Fprintf(&src, "      - {name: s%d, expected: \"ok\"}\n", i)
	}
	def := parse(t, src.String())
	eng := newFakeEngine(func(context.Context, sandbox.Spec) (sandbox.Result, error) {
		return sandbox.Result{Stdout: bytes.Repeat([]byte("a"), perStream), Stderr: bytes.Repeat([]byte("b"), perStream)}, nil
	})
	dir := scratch(t, map[string]string{"prog": ""})

	var handed atomic.Int64
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	rep, err := eng.Run(context.Background(), def, engine.Input{ScratchDir: dir, Output: func(a engine.Artifact) error {
		handed.Add(int64(len(a.Stdout) + len(a.Stderr)))
		return nil
	}})
	require.NoError(t, err)
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	held := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	runtime.KeepAlive(rep)

	assert.Len(t, rep.Steps, scenarios)
	assert.Equal(t, int64(scenarios*2*perStream), handed.Load(), "every step's full output is handed over")
	assert.Less(t, held, int64(32<<20), "the report holds the delivery's outputs: %d MiB", held>>20)
}
