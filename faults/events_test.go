package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/events"
)

// checkEvents checks that the stream holds exactly one results.graded
// event for each of the batch's result rows: the outbox relay publishes
// late through an outage, never twice.
func (r *run) checkEvents(t *testing.T, natsURL string) {
	t.Helper()
	var counts map[string]int
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		var err error
		counts, err = resultEvents(t.Context(), natsURL, r.batch)
		require.NoError(c, err)
		for id, w := range r.want {
			assert.GreaterOrEqual(c, counts[id], 1, "no results.graded event for %s", w.user)
		}
	}, 2*time.Minute, 500*time.Millisecond, "every result announced")
	for id, n := range counts {
		w, ok := r.want[id]
		assert.True(t, ok, "event for a delivery not in the batch: %s", id)
		assert.Equal(t, 1, n, "results.graded events for %s", w.user)
	}
}

// resultEvents reads every results.graded event in the stream and counts
// those of batch by delivery id.
func resultEvents(ctx context.Context, natsURL, batch string) (map[string]int, error) {
	nc, err := nats.Connect(natsURL)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	cons, err := js.OrderedConsumer(ctx, events.DefaultStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{events.DefaultSubjectPrefix + "." + events.SubjectResultGraded},
	})
	if err != nil {
		return nil, fmt.Errorf("consume stream: %w", err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("consumer info: %w", err)
	}
	counts := map[string]int{}
	for left := int(info.NumPending); left > 0; {
		msgs, err := cons.Fetch(left, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return nil, fmt.Errorf("fetch events: %w", err)
		}
		got := 0
		for m := range msgs.Messages() {
			got++
			var ev events.ResultGraded
			if err := json.Unmarshal(m.Data(), &ev); err != nil {
				return nil, fmt.Errorf("decode event: %w", err)
			}
			if ev.BatchID == batch {
				counts[ev.DeliveryID]++
			}
		}
		if err := msgs.Error(); err != nil {
			return nil, fmt.Errorf("fetch events: %w", err)
		}
		if got == 0 {
			return nil, fmt.Errorf("fetch events: %d announced, none delivered", left)
		}
		left -= got
	}
	return counts, nil
}
