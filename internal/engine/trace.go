package engine

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/zinc-edu/orchestrator/internal/definition"
	"github.com/zinc-edu/orchestrator/internal/grading"
)

// instrumentation is the OpenTelemetry scope of the engine's spans.
const instrumentation = "github.com/zinc-edu/orchestrator/internal/engine"

// Span attributes of stages and scenarios.
const (
	AttrStage      = attribute.Key("zinc.stage.name")
	AttrStageKind  = attribute.Key("zinc.stage.kind")
	AttrScenario   = attribute.Key("zinc.scenario.name")
	AttrState      = attribute.Key("zinc.step.state")
	AttrExitCode   = attribute.Key("zinc.step.exit_code")
	AttrSignal     = attribute.Key("zinc.step.signal")
	AttrLimitHit   = attribute.Key("zinc.step.limit_hit")
	AttrTimedOut   = attribute.Key("zinc.step.timed_out")
	AttrDurationMS = attribute.Key("zinc.step.duration_ms")
)

// startStage starts the span of one stage.
func (r *run) startStage(ctx context.Context, s *definition.Stage) (context.Context, trace.Span) {
	return r.e.tracer.Start(ctx, "stage "+s.Name, trace.WithAttributes(
		AttrStage.String(s.Name),
		AttrStageKind.String(string(s.Kind)),
	))
}

// startScenario starts the span of one scenario of s.
func (r *run) startScenario(ctx context.Context, s *definition.Stage, sc definition.Scenario) (context.Context, trace.Span) {
	name := "scenario " + sc.Name
	if sc.Name == "" {
		name = "scenario"
	}
	return r.e.tracer.Start(ctx, name, trace.WithAttributes(
		AttrStage.String(s.Name),
		AttrScenario.String(sc.Name),
	))
}

// endStage ends a stage's span with the stage's state: skipped when its
// steps were skipped, otherwise the state of its first step that did not
// succeed, or success.
func endStage(span trace.Span, results []result) {
	state := grading.StepSuccess
	for _, res := range results {
		if res.step.State != grading.StepSuccess {
			state = res.step.State
			break
		}
	}
	span.SetAttributes(AttrState.String(string(state)))
	endSpan(span, nil, nil)
}

// endScenario ends a scenario's span with its step's outcome.
func endScenario(span trace.Span, st grading.Step) {
	attrs := []attribute.KeyValue{
		AttrState.String(string(st.State)),
		AttrLimitHit.String(st.LimitHit),
		AttrTimedOut.Bool(st.TimedOut),
		AttrDurationMS.Int64(st.DurationMS),
	}
	if st.ExitCode != nil {
		attrs = append(attrs, AttrExitCode.Int(*st.ExitCode))
	}
	if st.Signal != "" {
		attrs = append(attrs, AttrSignal.String(st.Signal))
	}
	span.SetAttributes(attrs...)
	var fault *grading.Step
	if st.State == grading.StepError {
		fault = &st
	}
	endSpan(span, fault, nil)
}

// endSpan ends span, marking it as an error when a step errored (the
// worker's or the limits' fault, not a wrong answer) or err is set.
func endSpan(span trace.Span, fault *grading.Step, err error) {
	switch {
	case err != nil:
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	case fault != nil:
		span.SetStatus(codes.Error, fault.Message)
	}
	span.End()
}

// withSpan returns ctx carrying span, or ctx itself when span is nil.
func withSpan(ctx context.Context, span trace.Span) context.Context {
	if span == nil {
		return ctx
	}
	return trace.ContextWithSpan(ctx, span)
}
