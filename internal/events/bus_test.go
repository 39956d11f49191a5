package events_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/zinc-edu/orchestrator/internal/events"
	"github.com/zinc-edu/orchestrator/internal/servicedefaults"
)

// waitTimeout bounds every wait for an event; generous for a loaded CI box,
// never spent when things work.
const waitTimeout = 10 * time.Second

// graded is a sample payload.
type graded struct {
	DeliveryID string  `json:"delivery_id"`
	Score      float64 `json:"score"`
}

// natsURL returns $NATS_URL when set, else the URL of an embedded server with
// JetStream on a free port, stopped when the test ends.
func natsURL(t *testing.T) string {
	t.Helper()
	if u := os.Getenv("NATS_URL"); u != "" {
		return u
	}
	srv, err := server.NewServer(&server.Options{
		Host:      "127.0.0.1",
		Port:      server.RANDOM_PORT,
		JetStream: true,
		StoreDir:  t.TempDir(),
		NoLog:     true,
		NoSigs:    true,
	})
	require.NoError(t, err)
	srv.Start()
	t.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	require.True(t, srv.ReadyForConnections(waitTimeout), "embedded nats ready")
	return srv.ClientURL()
}

// testConfig gives each test its own stream and subject prefix, deleted when
// the test ends, so tests never see each other's events on a shared server.
func testConfig(t *testing.T) events.Config {
	t.Helper()
	url := natsURL(t)
	suffix := make([]byte, 6)
	_, err := rand.Read(suffix)
	require.NoError(t, err)
	id := hex.EncodeToString(suffix)
	cfg := events.Config{
		URL:           url,
		Stream:        "ZINC_TEST_" + id,
		SubjectPrefix: "zinctest_" + id,
		NakDelay:      10 * time.Millisecond,
		MaxDeliver:    5,
	}
	t.Cleanup(func() {
		nc, err := nats.Connect(url)
		if err != nil {
			t.Errorf("connect for cleanup: %v", err)
			return
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			t.Errorf("open jetstream for cleanup: %v", err)
			return
		}
		if err := js.DeleteStream(context.Background(), cfg.Stream); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			t.Errorf("delete stream %s: %v", cfg.Stream, err)
		}
	})
	return cfg
}

func connect(t *testing.T, cfg events.Config, opts ...events.Option) *events.Bus {
	t.Helper()
	b, err := events.Connect(context.Background(), cfg, slog.New(slog.DiscardHandler), opts...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.Close()) })
	return b
}

// stream opens the test's stream through a separate connection, to observe
// what the bus stored.
func stream(t *testing.T, cfg events.Config) jetstream.Stream {
	t.Helper()
	nc, err := nats.Connect(cfg.URL)
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	s, err := js.Stream(context.Background(), cfg.Stream)
	require.NoError(t, err)
	return s
}

func subscribe(t *testing.T, b *events.Bus, subject, durable string, handle events.Handler) {
	t.Helper()
	stop, err := b.Subscribe(context.Background(), subject, durable, handle)
	require.NoError(t, err)
	t.Cleanup(stop)
}

func receive[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitTimeout):
		t.Fatal("no event within timeout")
		var zero T
		return zero
	}
}

func TestPublishSubscribeRoundTrip(t *testing.T) {
	cfg := testConfig(t)
	b := connect(t, cfg)
	got := make(chan []byte, 1)
	subscribe(t, b, events.SubjectResultGraded, "round-trip", func(_ context.Context, data []byte) error {
		got <- data
		return nil
	})

	require.NoError(t, b.Publish(context.Background(), events.SubjectResultGraded, graded{DeliveryID: "d1", Score: 7.5}))

	var ev graded
	require.NoError(t, json.Unmarshal(receive(t, got), &ev))
	assert.Equal(t, graded{DeliveryID: "d1", Score: 7.5}, ev)
	msg, err := stream(t, cfg).GetLastMsgForSubject(context.Background(), cfg.SubjectPrefix+".results.graded")
	require.NoError(t, err)
	assert.JSONEq(t, `{"delivery_id":"d1","score":7.5}`, string(msg.Data))
}

func TestPublishDeduplicatesByMsgID(t *testing.T) {
	cfg := testConfig(t)
	b := connect(t, cfg)
	ctx := context.Background()

	require.NoError(t, b.Publish(ctx, events.SubjectBatchCompleted, graded{DeliveryID: "a"}, events.WithMsgID("batch-1")))
	require.NoError(t, b.Publish(ctx, events.SubjectBatchCompleted, graded{DeliveryID: "a"}, events.WithMsgID("batch-1")))
	require.NoError(t, b.Publish(ctx, events.SubjectBatchCompleted, graded{DeliveryID: "b"}, events.WithMsgID("batch-2")))

	info, err := stream(t, cfg).Info(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(2), info.State.Msgs, "the repeated id is stored once")
}

func TestSubscribeRedeliversAfterHandlerError(t *testing.T) {
	cfg := testConfig(t)
	b := connect(t, cfg)
	var calls atomic.Int32
	seen := make(chan []byte, 2)
	subscribe(t, b, events.SubjectDeliveryCreated, "retry", func(_ context.Context, data []byte) error {
		seen <- data
		if calls.Add(1) == 1 {
			return errors.New("database unavailable")
		}
		return nil
	})

	require.NoError(t, b.Publish(context.Background(), events.SubjectDeliveryCreated, graded{DeliveryID: "d9"}))

	first := receive(t, seen)
	second := receive(t, seen)
	assert.Equal(t, first, second, "the failed event comes back")
	cons, err := stream(t, cfg).Consumer(context.Background(), "retry")
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		info, err := cons.Info(context.Background())
		return err == nil && info.NumAckPending == 0 && info.AckFloor.Stream == 1
	}, waitTimeout, 10*time.Millisecond, "the second delivery is acknowledged")
}

func TestSubscribeGivesUpAfterMaxDeliver(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxDeliver = 2
	b := connect(t, cfg)
	seen := make(chan struct{}, 3)
	subscribe(t, b, events.SubjectDeliveryCreated, "poison", func(context.Context, []byte) error {
		seen <- struct{}{}
		return errors.New("always fails")
	})

	require.NoError(t, b.Publish(context.Background(), events.SubjectDeliveryCreated, graded{DeliveryID: "bad"}))

	receive(t, seen)
	receive(t, seen)
	cons, err := stream(t, cfg).Consumer(context.Background(), "poison")
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		info, err := cons.Info(context.Background())
		return err == nil && info.NumAckPending == 0 && info.NumPending == 0 && info.Delivered.Consumer == 2
	}, waitTimeout, 10*time.Millisecond, "nothing left to deliver after the last attempt")
	assert.Empty(t, seen, "no third delivery")
}

func TestDurableConsumerResumes(t *testing.T) {
	cfg := testConfig(t)
	b := connect(t, cfg)
	ctx := context.Background()
	got := make(chan []byte, 1)
	handle := func(_ context.Context, data []byte) error {
		got <- data
		return nil
	}
	stop, err := b.Subscribe(ctx, events.SubjectResultGraded, "resume", handle)
	require.NoError(t, err)
	require.NoError(t, b.Publish(ctx, events.SubjectResultGraded, graded{DeliveryID: "one"}))
	receive(t, got)
	stop()

	require.NoError(t, b.Publish(ctx, events.SubjectResultGraded, graded{DeliveryID: "two"}))
	subscribe(t, b, events.SubjectResultGraded, "resume", handle)

	var ev graded
	require.NoError(t, json.Unmarshal(receive(t, got), &ev))
	assert.Equal(t, "two", ev.DeliveryID, "only the event published while away is delivered")
}

func TestStopCancelsRunningHandler(t *testing.T) {
	cfg := testConfig(t)
	b := connect(t, cfg)
	started := make(chan struct{})
	finished := make(chan error, 1)
	stop, err := b.Subscribe(context.Background(), events.SubjectResultGraded, "cancel", func(ctx context.Context, _ []byte) error {
		close(started)
		<-ctx.Done()
		finished <- ctx.Err()
		return ctx.Err()
	})
	require.NoError(t, err)
	require.NoError(t, b.Publish(context.Background(), events.SubjectResultGraded, graded{}))
	receive(t, started)

	stop()

	select {
	case err := <-finished:
		require.ErrorIs(t, err, context.Canceled)
	default:
		t.Fatal("stop returned while the handler was still running")
	}
}

func TestTraceContextPropagates(t *testing.T) {
	cfg := testConfig(t)
	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	b := connect(t, cfg, events.WithTracerProvider(tp), events.WithPropagator(servicedefaults.NewPropagator()))
	got := make(chan trace.SpanContext, 1)
	subscribe(t, b, events.SubjectBatchCompleted, "trace", func(ctx context.Context, _ []byte) error {
		got <- trace.SpanContextFromContext(ctx)
		return nil
	})

	ctx, span := tp.Tracer("test").Start(context.Background(), "grade batch")
	require.NoError(t, b.Publish(ctx, events.SubjectBatchCompleted, graded{DeliveryID: "t"}))
	span.End()

	sc := receive(t, got)
	assert.Equal(t, span.SpanContext().TraceID(), sc.TraceID(), "handler runs in the publisher's trace")
	assert.NotEqual(t, span.SpanContext().SpanID(), sc.SpanID(), "handler has its own span")
	msg, err := stream(t, cfg).GetLastMsgForSubject(context.Background(), cfg.SubjectPrefix+".batches.completed")
	require.NoError(t, err)
	assert.Contains(t, msg.Header.Get("traceparent"), span.SpanContext().TraceID().String())
}

func TestReadyFollowsConnection(t *testing.T) {
	cfg := testConfig(t)
	b, err := events.Connect(context.Background(), cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)

	require.NoError(t, b.Ready(context.Background()))
	require.NoError(t, b.Close())

	require.ErrorIs(t, b.Ready(context.Background()), events.ErrNotConnected)
	require.NoError(t, b.Close(), "closing twice is harmless")
}

func TestConnectFailures(t *testing.T) {
	tests := []struct {
		name       string
		giveConfig func(events.Config) events.Config
		wantErrSub string
	}{
		{
			name:       "unreachable server",
			giveConfig: func(c events.Config) events.Config { c.URL = "nats://127.0.0.1:1"; return c },
			wantErrSub: "connect nats",
		},
		{
			name:       "wildcard prefix",
			giveConfig: func(c events.Config) events.Config { c.SubjectPrefix = "zinc.*"; return c },
			wantErrSub: "subject prefix",
		},
		{
			name:       "dotted stream",
			giveConfig: func(c events.Config) events.Config { c.Stream = "a.b"; return c },
			wantErrSub: "stream name",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.giveConfig(events.Config{URL: "nats://127.0.0.1:4222"})

			_, err := events.Connect(context.Background(), cfg, slog.New(slog.DiscardHandler))

			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErrSub)
		})
	}
}

func TestConnectRefusesOverlappingStream(t *testing.T) {
	cfg := testConfig(t)
	connect(t, cfg)
	other := cfg
	other.Stream = cfg.Stream + "_OTHER"

	_, err := events.Connect(context.Background(), other, slog.New(slog.DiscardHandler))

	require.Error(t, err, "a second stream cannot claim the same subjects")
}

func TestPublishRejectsBadSubjects(t *testing.T) {
	b := connect(t, testConfig(t))
	for _, subject := range []string{"", "results.*", "results.>", "a..b", "has space"} {
		err := b.Publish(context.Background(), subject, graded{})
		assert.ErrorIs(t, err, events.ErrInvalidSubject, subject)
	}
}

func TestPublishRejectsUnencodable(t *testing.T) {
	b := connect(t, testConfig(t))

	err := b.Publish(context.Background(), events.SubjectResultGraded, func() {})

	require.Error(t, err)
	assert.Contains(t, err.Error(), "encode event")
}

// A follower of one new batch starts near the batch's creation, not at the
// stream's first event; one that reconnects resumes after its last id.
func TestFollowStartsSinceATimeOrAfterASequence(t *testing.T) {
	cfg := testConfig(t)
	b := connect(t, cfg)
	ctx := t.Context()
	require.NoError(t, b.Publish(ctx, events.SubjectResultGraded, graded{DeliveryID: "old"}))
	// The stream stamps events with the server's clock: take the boundary
	// from the stored event itself, not from this process's clock.
	old, err := stream(t, cfg).GetLastMsgForSubject(ctx, cfg.SubjectPrefix+".results.graded")
	require.NoError(t, err)
	require.NoError(t, b.Publish(ctx, events.SubjectResultGraded, graded{DeliveryID: "new"}))

	first := func(from events.From) events.Record {
		var rec events.Record
		fctx, cancel := context.WithTimeout(ctx, waitTimeout)
		defer cancel()
		stop := errors.New("stop")
		err := b.Follow(fctx, []string{">"}, from, func(r events.Record) error { rec = r; return stop })
		require.ErrorIs(t, err, stop)
		return rec
	}
	assert.Contains(t, string(first(events.From{}).Data), `"old"`, "from the first event")
	assert.Contains(t, string(first(events.From{Since: old.Time.Add(time.Nanosecond)}).Data), `"new"`, "from a time")
	assert.Contains(t, string(first(events.From{AfterSeq: old.Sequence}).Data), `"new"`, "after a sequence")
}
