package servicedefaults_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/zinc-edu/orchestrator/internal/servicedefaults"
)

func TestLoggerAddsTraceIDsInsideSpan(t *testing.T) {
	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	var buf bytes.Buffer
	log := servicedefaults.NewLogger(&buf, slog.LevelInfo, servicedefaults.FormatJSON).
		With(slog.String("service", "zinc-test"))

	ctx, span := tp.Tracer("test").Start(context.Background(), "op")
	log.InfoContext(ctx, "inside span", slog.String("batch_id", "b1"))
	span.End()

	var rec map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &rec))
	assert.Equal(t, "inside span", rec["msg"])
	assert.Equal(t, "zinc-test", rec["service"])
	assert.Equal(t, "b1", rec["batch_id"])
	assert.Equal(t, span.SpanContext().TraceID().String(), rec["trace_id"])
	assert.Equal(t, span.SpanContext().SpanID().String(), rec["span_id"])
}

func TestLoggerOmitsTraceIDsOutsideSpan(t *testing.T) {
	var buf bytes.Buffer
	log := servicedefaults.NewLogger(&buf, slog.LevelInfo, servicedefaults.FormatJSON)

	log.InfoContext(context.Background(), "no span")

	var rec map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &rec))
	assert.NotContains(t, rec, "trace_id")
	assert.NotContains(t, rec, "span_id")
}

func TestLoggerKeepsTraceIDsOnDerivedLoggers(t *testing.T) {
	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	var buf bytes.Buffer
	log := servicedefaults.NewLogger(&buf, slog.LevelInfo, servicedefaults.FormatText).
		With(slog.String("task_queue", "q"))

	ctx, span := tp.Tracer("test").Start(context.Background(), "op")
	log.InfoContext(ctx, "derived")
	span.End()

	line := buf.String()
	assert.Contains(t, line, "task_queue=q")
	assert.Contains(t, line, "trace_id="+span.SpanContext().TraceID().String())
}

func TestLoggerHonoursLevel(t *testing.T) {
	var buf bytes.Buffer
	log := servicedefaults.NewLogger(&buf, slog.LevelWarn, servicedefaults.FormatJSON)

	log.Info("hidden")
	log.Warn("shown")

	assert.Equal(t, 1, strings.Count(buf.String(), "\n"))
	assert.Contains(t, buf.String(), "shown")
}
