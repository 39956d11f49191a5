package servicedefaults

import (
	"context"
	"io"
	"log/slog"

	"go.opentelemetry.io/otel/trace"
)

// NewLogger returns a logger writing to w at level and above, as JSON unless
// format is FormatText. Records logged with a context that carries a valid
// span gain trace_id and span_id attributes, so logs join their traces.
// Callers add the service attribute with With("service", name); Module does.
func NewLogger(w io.Writer, level slog.Level, format string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	if format == FormatText {
		h = slog.NewTextHandler(w, opts)
	} else {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(traceHandler{inner: h})
}

// traceHandler decorates another handler with the ids of the span in the
// record's context.
type traceHandler struct {
	inner slog.Handler
}

var _ slog.Handler = traceHandler{}

// Enabled defers to the wrapped handler.
func (h traceHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

// Handle adds trace_id and span_id when ctx holds a valid span context.
func (h traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		// Clone so adding attributes never writes into storage the caller's
		// record shares.
		r = r.Clone()
		r.AddAttrs(
			slog.String("trace_id", sc.TraceID().String()),
			slog.String("span_id", sc.SpanID().String()),
		)
	}
	return h.inner.Handle(ctx, r)
}

// WithAttrs keeps the decoration on derived loggers.
func (h traceHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return traceHandler{inner: h.inner.WithAttrs(attrs)}
}

// WithGroup keeps the decoration on derived loggers.
func (h traceHandler) WithGroup(name string) slog.Handler {
	return traceHandler{inner: h.inner.WithGroup(name)}
}
