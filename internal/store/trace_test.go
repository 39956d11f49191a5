package store_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/store"
	"github.com/zinc-edu/orchestrator/internal/store/storetest"
)

// TestDatabaseCallsAreSpans checks that a store call made under a span
// records a client span per statement, a child of that span, naming the
// database system and the statement, and that calls outside any span (such
// as migrating at start-up) record none.
func TestDatabaseCallsAreSpans(t *testing.T) {
	tests := []struct {
		name       string
		giveDB     func(testing.TB) string
		wantSystem string
	}{
		{name: "sqlite", giveDB: storetest.SQLiteURL, wantSystem: "sqlite"},
		{name: "postgres", giveDB: storetest.PostgresURL, wantSystem: "postgresql"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := tracetest.NewSpanRecorder()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
			t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })

			s, err := store.Open(t.Context(), tt.giveDB(t), nil, store.WithTracerProvider(tp))
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, s.Close()) })
			require.NoError(t, s.Migrate(t.Context()))
			require.Empty(t, rec.Ended(), "calls outside a span record no span")

			ctx, parent := tp.Tracer("test").Start(t.Context(), "caller")
			c, err := s.CreateCollection(ctx, grading.Collection{Name: "lab 1"})
			require.NoError(t, err)
			_, err = s.Collection(ctx, c.ID)
			require.NoError(t, err)
			parent.End()

			var db []sdktrace.ReadOnlySpan
			for _, sp := range rec.Ended() {
				if sp.Name() != "caller" {
					db = append(db, sp)
				}
			}
			require.NotEmpty(t, db, "no database span recorded")
			// pgx prepares a statement before running it, so on PostgreSQL a
			// query span may sit under its prepare span: every database span
			// must descend from the caller.
			parents := make(map[trace.SpanID]trace.SpanID, len(db))
			for _, sp := range db {
				parents[sp.SpanContext().SpanID()] = sp.Parent().SpanID()
			}
			var statements []string
			for _, sp := range db {
				assert.True(t, descends(parents, sp.SpanContext().SpanID(), parent.SpanContext().SpanID()), "span %q does not descend from the caller", sp.Name())
				assert.Equal(t, parent.SpanContext().TraceID(), sp.SpanContext().TraceID())
				assert.Equal(t, trace.SpanKindClient, sp.SpanKind())
				attrs := attrMap(sp.Attributes())
				assert.Equal(t, tt.wantSystem, attrs["db.system.name"], "span %q", sp.Name())
				statements = append(statements, attrs["db.query.text"])
			}
			assert.Contains(t, statementsText(statements), "INSERT INTO collection", "a span names the insert")
		})
	}
}

// descends reports whether span id has ancestor among the chain in parents.
func descends(parents map[trace.SpanID]trace.SpanID, id, ancestor trace.SpanID) bool {
	for range len(parents) + 1 {
		p, ok := parents[id]
		if !ok {
			return false
		}
		if p == ancestor {
			return true
		}
		id = p
	}
	return false
}

func attrMap(kvs []attribute.KeyValue) map[string]string {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		m[string(kv.Key)] = kv.Value.String()
	}
	return m
}

func statementsText(ss []string) string {
	var out string
	for _, s := range ss {
		out += s + "\n"
	}
	return out
}
