package outbox

import (
	"context"
	"encoding/json"
	"fmt"

	"go.opentelemetry.io/otel/propagation"

	"github.com/zinc-edu/orchestrator/internal/events"
	"github.com/zinc-edu/orchestrator/internal/store"
)

// Encoder turns events into outbox entries.
type Encoder struct {
	prop propagation.TextMapPropagator
}

// NewEncoder returns an Encoder that keeps the writer's trace context with
// each entry through prop.
func NewEncoder(prop propagation.TextMapPropagator) *Encoder {
	return &Encoder{prop: prop}
}

// Encode returns the outbox entry of ev, carrying ctx's trace context.
func (e *Encoder) Encode(ctx context.Context, ev events.Event) (store.Event, error) {
	data, err := json.Marshal(ev)
	if err != nil {
		return store.Event{}, fmt.Errorf("encode event %s: %w", ev.EventID(), err)
	}
	header := propagation.MapCarrier{}
	e.prop.Inject(ctx, header)
	return store.Event{
		ID:       ev.EventID(),
		Subject:  ev.EventSubject(),
		OrderKey: ev.OrderKey(),
		Payload:  data,
		Header:   header,
	}, nil
}
