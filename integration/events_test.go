package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/batches"
	"github.com/zinc-edu/orchestrator/internal/definition"
	"github.com/zinc-edu/orchestrator/internal/devstack"
	"github.com/zinc-edu/orchestrator/internal/engine"
	"github.com/zinc-edu/orchestrator/internal/events"
	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/harness"
	"github.com/zinc-edu/orchestrator/internal/outbox"
)

// readStream returns every event stored in the bus's stream so far.
func readStream(ctx context.Context, bus *events.Bus) ([]events.Record, error) {
	last, err := bus.LastSeq(ctx)
	if err != nil || last == 0 {
		return nil, err
	}
	var recs []events.Record
	errDone := errors.New("read to the end")
	err = bus.Follow(ctx, []string{">"}, events.From{}, func(r events.Record) error {
		recs = append(recs, r)
		if r.Seq >= last {
			return errDone
		}
		return nil
	})
	if !errors.Is(err, errDone) {
		return nil, fmt.Errorf("read stream: %w (got %d of %d)", err, len(recs), last)
	}
	return recs, nil
}

// validateEvents checks every event a test left in its stream against the
// JSON Schema of its subject: the contract of internal/events/schema holds
// for everything the integration tests publish.
func validateEvents(t *testing.T, bus *events.Bus) {
	t.Helper()
	schemas, err := events.LoadSchemas()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	recs, err := readStream(ctx, bus)
	require.NoError(t, err)
	for _, r := range recs {
		assert.NoError(t, schemas.Validate(r.Subject, r.Data), "event %d on %s: %s", r.Seq, r.Subject, r.Data)
	}
}

// gatedEngine grades the first free deliveries at once and holds the
// others until open is closed.
type gatedEngine struct {
	harness.NoopEngine
	free atomic.Int32
	open chan struct{}
}

func (g *gatedEngine) Run(ctx context.Context, def *definition.Definition, in engine.Input) (engine.Report, error) {
	if g.free.Add(-1) < 0 {
		select {
		case <-g.open:
		case <-ctx.Done():
			return engine.Report{}, ctx.Err()
		}
	}
	return g.NoopEngine.Run(ctx, def, in)
}

// outage is how long NATS stays away in TestEventsArriveOnceAfterNATSOutage.
func outage(t *testing.T) time.Duration {
	if v := os.Getenv("ZINC_NATS_OUTAGE"); v != "" {
		d, err := time.ParseDuration(v)
		require.NoError(t, err)
		return d
	}
	return 30 * time.Second
}

// TestEventsArriveOnceAfterNATSOutage stops NATS in the middle of a batch
// for 30 s (ZINC_NATS_OUTAGE overrides it): grading goes on, results and
// their events are stored, the relay backs off; once NATS is back on the
// same port every event is in the stream exactly once, a batch's in write
// order.
func TestEventsArriveOnceAfterNATSOutage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "jetstream")
	n, err := devstack.StartNATS(ctx, devstack.NATSOptions{StoreDir: dir})
	require.NoError(t, err)
	port, err := strconv.Atoi(n.URL()[strings.LastIndex(n.URL(), ":")+1:])
	require.NoError(t, err)
	var current atomic.Pointer[devstack.NATS]
	current.Store(n)
	t.Cleanup(func() { assert.NoError(t, current.Load().Stop()) })

	const total, before = 12, 3
	runner := &gatedEngine{open: make(chan struct{})}
	runner.free.Store(before)
	st := startStackOn(t, "", runner, n.URL(), outbox.Config{PollInterval: 100 * time.Millisecond, MaxBackoff: 2 * time.Second})
	seeded := seedNoop(t, st, total)
	b, err := st.Batches.Start(ctx, batches.StartRequest{CollectionID: seeded.CollectionID, ConfigID: seeded.ConfigID, Concurrency: 4})
	require.NoError(t, err)

	// The first results reach the stream while NATS is up.
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		recs, err := readStream(ctx, st.Bus)
		assert.NoError(c, err)
		assert.Len(c, recs, before)
	}, 30*time.Second, 100*time.Millisecond)

	require.NoError(t, n.Stop())
	down := time.Now()
	close(runner.open)
	_, err = st.Wait(ctx, b)
	require.NoError(t, err, "the batch finishes without NATS")
	rows, err := st.Store.BatchResults(ctx, b.ID)
	require.NoError(t, err)
	require.Len(t, rows, total)
	// The rest waits in the outbox, and the relay has tried and failed.
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		pending, err := st.Store.PendingEvents(ctx, 100)
		assert.NoError(c, err)
		assert.Len(c, pending, total-before+1)
		failed := 0
		for _, p := range pending {
			if p.Attempts > 0 {
				failed++
			}
		}
		assert.Positive(c, failed, "the relay tried while NATS was away")
	}, 30*time.Second, 100*time.Millisecond)
	// The outage lasts its full length, however fast the batch was.
	select {
	case <-time.After(time.Until(down.Add(outage(t)))):
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}

	n, err = devstack.StartNATS(ctx, devstack.NATSOptions{Port: port, StoreDir: dir})
	require.NoError(t, err)
	current.Store(n)

	var recs []events.Record
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		pending, err := st.Store.PendingEvents(ctx, 100)
		assert.NoError(c, err)
		assert.Empty(c, pending)
		recs, err = readStream(ctx, st.Bus)
		assert.NoError(c, err)
		assert.Len(c, recs, total+1)
	}, time.Minute, 200*time.Millisecond)

	want := map[string]bool{events.NewBatchCompleted(b.ID, "", grading.Summary{}).ID: true}
	for _, r := range rows {
		want[events.NewResultGraded(r).ID] = true
	}
	seen := map[string]int{}
	for _, r := range recs {
		var ev struct {
			ID string `json:"id"`
		}
		require.NoError(t, json.Unmarshal(r.Data, &ev))
		seen[ev.ID]++
	}
	for id := range want {
		assert.Equal(t, 1, seen[id], "event %s", id)
	}
	assert.Len(t, seen, len(want), "no other events")
	assert.Equal(t, events.SubjectBatchCompleted, recs[len(recs)-1].Subject, "the batch's completion comes after its results")
}
