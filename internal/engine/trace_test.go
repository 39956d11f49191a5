package engine_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/zinc-edu/orchestrator/internal/engine"
	"github.com/zinc-edu/orchestrator/internal/sandbox"
)

// TestRunRecordsStageAndScenarioSpans runs a small definition through the
// engine and checks the trace it leaves: one span per stage under the
// caller's span, one per scenario under its stage, each with the stage and
// scenario names, state, exit code and limit hit; the sandbox runs under the
// scenario's span.
func TestRunRecordsStageAndScenarioSpans(t *testing.T) {
	def := parse(t, `version: 2
stages:
  - {name: build, command: [true]}
  - name: test
    command: [./prog]
    scenarios:
      - {name: small, args: [ok]}
      - {name: wrong, args: [bad]}
  - {name: hog, command: [./prog, hog], depends_on: [build]}
  - {name: report, command: [./prog], depends_on: [hog]}
rubric:
  components: [{name: test, from: test, max_score: 2}]
`)
	tp, rec := newRecorder(t)
	var (
		mu         sync.Mutex
		sandboxers []trace.SpanID // the span current in each sandbox call
	)
	eng := engine.New(sandboxFunc(func(ctx context.Context, spec sandbox.Spec) (sandbox.Result, error) {
		mu.Lock()
		sandboxers = append(sandboxers, trace.SpanFromContext(ctx).SpanContext().SpanID())
		mu.Unlock()
		switch spec.Argv[len(spec.Argv)-1] {
		case "bad":
			return sandbox.Result{ExitCode: 3}, nil
		case "hog":
			return sandbox.Result{ExitCode: 137, LimitHit: "memory"}, nil
		}
		return sandbox.Result{}, nil
	}), discardLogger(), engine.WithTracerProvider(tp))

	ctx, caller := tp.Tracer("test").Start(t.Context(), "ExecutePipeline")
	rep, err := eng.Run(ctx, def, engine.Input{ScratchDir: scratch(t, map[string]string{"prog": ""})})
	caller.End()
	require.NoError(t, err)
	require.Equal(t, []string{"build=success", "test/small=success", "test/wrong=failed", "hog=error", "report=skipped"}, statesOf(rep))

	spans := rec.Ended()
	byName := map[string]sdktrace.ReadOnlySpan{}
	for _, sp := range spans {
		assert.Equal(t, caller.SpanContext().TraceID(), sp.SpanContext().TraceID(), "span %q is in another trace", sp.Name())
		byName[sp.Name()] = sp
	}

	stages := []struct{ name, state string }{
		{"build", "success"}, {"test", "failed"}, {"hog", "error"}, {"report", "skipped"},
	}
	for _, st := range stages {
		sp, ok := byName["stage "+st.name]
		require.True(t, ok, "no span for stage %s", st.name)
		assert.Equal(t, caller.SpanContext().SpanID(), sp.Parent().SpanID(), "stage %s is not a child of the caller", st.name)
		attrs := attrs(sp)
		assert.Equal(t, st.name, attrs[engine.AttrStage], "stage %s", st.name)
		assert.Equal(t, st.state, attrs[engine.AttrState], "stage %s", st.name)
		assert.False(t, sp.EndTime().Before(sp.StartTime()))
	}

	scenarios := []struct {
		span, stage, scenario, state, exit, limit string
		wantErr                                   bool
	}{
		{span: "scenario", stage: "build", state: "success", exit: "0"},
		{span: "scenario small", stage: "test", scenario: "small", state: "success", exit: "0"},
		{span: "scenario wrong", stage: "test", scenario: "wrong", state: "failed", exit: "3"},
		{span: "scenario", stage: "hog", state: "error", exit: "137", limit: "memory", wantErr: true},
		{span: "scenario", stage: "report", state: "skipped"},
	}
	for _, want := range scenarios {
		stage := byName["stage "+want.stage]
		var sp sdktrace.ReadOnlySpan
		for _, s := range spans {
			if s.Name() == want.span && s.Parent().SpanID() == stage.SpanContext().SpanID() {
				sp = s
			}
		}
		require.NotNil(t, sp, "no scenario span %q under stage %s", want.span, want.stage)
		a := attrs(sp)
		assert.Equal(t, want.stage, a[engine.AttrStage])
		assert.Equal(t, want.scenario, a[engine.AttrScenario])
		assert.Equal(t, want.state, a[engine.AttrState], "%s/%s", want.stage, want.scenario)
		assert.Equal(t, want.exit, a[engine.AttrExitCode], "%s/%s", want.stage, want.scenario)
		assert.Equal(t, want.limit, a[engine.AttrLimitHit], "%s/%s", want.stage, want.scenario)
		assert.Equal(t, want.wantErr, sp.Status().Code == codes.Error, "%s/%s status", want.stage, want.scenario)
		if want.state != "skipped" {
			assert.True(t, slices.Contains(sandboxers, sp.SpanContext().SpanID()), "the sandbox of %s/%s did not run under its span", want.stage, want.scenario)
		}
	}
	assert.Len(t, spans, 1+len(stages)+len(scenarios), "one span per stage and per scenario, and the caller's")
}

// TestRunWithoutTracerRecordsNothing checks the default engine leaves the
// caller's trace alone.
func TestRunWithoutTracerRecordsNothing(t *testing.T) {
	def := parse(t, `version: 2
stages:
  - {name: build, command: [true]}
`)
	eng := newFakeEngine(func(context.Context, sandbox.Spec) (sandbox.Result, error) { return sandbox.Result{}, nil })
	tp, rec := newRecorder(t)
	ctx, caller := tp.Tracer("test").Start(t.Context(), "caller")
	_, err := eng.Run(ctx, def, engine.Input{ScratchDir: t.TempDir()})
	caller.End()
	require.NoError(t, err)
	assert.Len(t, rec.Ended(), 1)
}

// newRecorder returns a tracer provider that keeps every ended span in the
// returned recorder.
func newRecorder(t *testing.T) (*sdktrace.TracerProvider, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp, rec
}

func attrs(sp sdktrace.ReadOnlySpan) map[attribute.Key]string {
	m := map[attribute.Key]string{}
	for _, kv := range sp.Attributes() {
		m[kv.Key] = kv.Value.String()
	}
	return m
}
