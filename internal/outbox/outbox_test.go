package outbox_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/propagation"

	"github.com/zinc-edu/orchestrator/internal/devstack"
	"github.com/zinc-edu/orchestrator/internal/events"
	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/outbox"
	"github.com/zinc-edu/orchestrator/internal/store"
	"github.com/zinc-edu/orchestrator/internal/store/storetest"
)

// The child process of TestEventSurvivesSIGKILL: it is this test binary run
// again with these variables set.
const (
	childEnv    = "ZINC_OUTBOX_CHILD" // "commit" or "publish"
	childDBEnv  = "ZINC_OUTBOX_CHILD_DB"
	childBusEnv = "ZINC_OUTBOX_CHILD_NATS"
	childStream = "ZINC_OUTBOX_CHILD_STREAM"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		if err := child(mode); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// child stores one result the way the pipeline worker does, in one
// transaction with its event, says so on stdout and then waits to be
// killed. In "commit" mode it runs no relay, so it dies between the row and
// the publish; in "publish" mode its relay publishes the event and it dies
// before the event is marked sent.
func child(mode string) error {
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	s, err := store.Open(ctx, os.Getenv(childDBEnv), log)
	if err != nil {
		return err
	}
	bus, err := events.Connect(ctx, busConfig(os.Getenv(childBusEnv), os.Getenv(childStream)), log)
	if err != nil {
		return err
	}
	seed, err := seedResult(ctx, s)
	if err != nil {
		return err
	}
	enc := outbox.NewEncoder(propagation.TraceContext{})
	saved, err := s.SaveResultAnnounced(ctx, seed, func(r grading.Result) (store.Event, error) {
		return enc.Encode(ctx, events.NewResultGraded(r))
	})
	if err != nil {
		return err
	}
	fmt.Printf("committed %s\n", events.NewResultGraded(saved).ID)
	if mode == "publish" {
		published := make(chan string)
		relay := outbox.NewRelay(s, stallAfterSend{bus: bus, published: published}, outbox.Config{}, log)
		relay.Start()
		fmt.Printf("published %s\n", <-published)
	}
	select {} // SIGKILL ends this process
}

// stallAfterSend publishes, reports it, then never returns, so the relay
// never marks the event sent.
type stallAfterSend struct {
	bus       *events.Bus
	published chan<- string
}

func (s stallAfterSend) Send(ctx context.Context, id, subject string, data []byte, header map[string]string) error {
	if err := s.bus.Send(ctx, id, subject, data, header); err != nil {
		return err
	}
	s.published <- id
	select {}
}

// seedResult stores the collection, delivery, config and batch a result
// needs and returns the result to save.
func seedResult(ctx context.Context, s *store.Store) (grading.Result, error) {
	col, err := s.CreateCollection(ctx, grading.Collection{Name: "kill"})
	if err != nil {
		return grading.Result{}, err
	}
	d, err := s.CreateDelivery(ctx, grading.Delivery{CollectionID: col.ID, User: "ada", ObjectKey: "k", Checksum: strings.Repeat("0", 64)})
	if err != nil {
		return grading.Result{}, err
	}
	cfg, err := s.CreateConfig(ctx, grading.Config{Name: "kill", Source: "version: 1"})
	if err != nil {
		return grading.Result{}, err
	}
	b, err := s.CreateBatch(ctx, grading.Batch{WorkflowID: "wf", CollectionID: col.ID, ConfigID: cfg.ID})
	if err != nil {
		return grading.Result{}, err
	}
	return grading.Result{DeliveryID: d.ID, ConfigID: cfg.ID, BatchID: b.ID, User: d.User, Status: grading.StatusGraded, Score: 3, MaxScore: 4}, nil
}

func busConfig(url, stream string) events.Config {
	return events.Config{URL: url, Stream: stream, SubjectPrefix: strings.ToLower(stream)}
}

// natsURL is the machine's NATS when NATS_URL is set, else an embedded one.
func natsURL(t *testing.T) string {
	t.Helper()
	if u := os.Getenv("NATS_URL"); u != "" {
		return u
	}
	n, err := devstack.StartNATS(t.Context(), devstack.NATSOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, n.Stop()) })
	return n.URL()
}

// TestEventSurvivesSIGKILL kills a real process that stored a result and its
// event — once before anything was published, once after the publish but
// before the event was marked sent — and checks that a relay in another
// process brings the event to the stream exactly once. The child is the
// write path of the pipeline worker (store.SaveResultAnnounced with the
// outbox encoder) without the Temporal worker around it: what matters is
// that the commit and the publish are decoupled, which the kill shows.
func TestEventSurvivesSIGKILL(t *testing.T) {
	dbs := map[string]string{"sqlite": storetest.SQLiteURL(t)}
	if os.Getenv("DATABASE_URL") != "" {
		dbs["postgres"] = storetest.PostgresURL(t)
	}
	nats := natsURL(t)
	for name, dbURL := range dbs {
		for _, mode := range []string{"commit", "publish"} {
			t.Run(name+"/"+mode, func(t *testing.T) {
				ctx := t.Context()
				log := slog.New(slog.DiscardHandler)
				s, err := store.Open(ctx, dbURL, log)
				require.NoError(t, err)
				t.Cleanup(func() { assert.NoError(t, s.Close()) })
				require.NoError(t, s.Migrate(ctx))
				stream := fmt.Sprintf("KILL%s%s%d", strings.ToUpper(name), strings.ToUpper(mode), time.Now().UnixNano())
				bus, err := events.Connect(ctx, busConfig(nats, stream), log)
				require.NoError(t, err)
				t.Cleanup(func() {
					assert.NoError(t, bus.DeleteStream(context.Background()))
					assert.NoError(t, bus.Close())
				})

				cmd := exec.Command(os.Args[0], "-test.run=^$")
				cmd.Env = append(os.Environ(), childEnv+"="+mode, childDBEnv+"="+dbURL, childBusEnv+"="+nats, childStream+"="+stream)
				out, err := cmd.StdoutPipe()
				require.NoError(t, err)
				cmd.Stderr = os.Stderr
				require.NoError(t, cmd.Start())
				lines := bufio.NewScanner(out)
				require.True(t, lines.Scan(), "the child reports its commit")
				id, ok := strings.CutPrefix(lines.Text(), "committed ")
				require.True(t, ok, lines.Text())
				if mode == "publish" {
					require.True(t, lines.Scan(), "the child reports its publish")
					require.Equal(t, "published "+id, lines.Text())
				}
				require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
				err = cmd.Wait()
				require.Error(t, err)
				require.Equal(t, "signal: killed", err.Error())

				pending, err := s.PendingEvents(ctx, 10)
				require.NoError(t, err)
				require.Len(t, pending, 1, "the event outlived the process, unsent")
				require.Equal(t, id, pending[0].ID)

				relay := outbox.NewRelay(s, bus, outbox.Config{PollInterval: 50 * time.Millisecond}, log)
				relay.Start()
				t.Cleanup(relay.Stop)
				require.EventuallyWithT(t, func(c *assert.CollectT) {
					pending, err := s.PendingEvents(ctx, 10)
					assert.NoError(c, err)
					assert.Empty(c, pending)
				}, 20*time.Second, 50*time.Millisecond)

				recs := readStream(t, bus)
				require.Len(t, recs, 1, "the event is in the stream once")
				assert.Equal(t, events.SubjectResultGraded, recs[0].Subject)
				assert.Contains(t, string(recs[0].Data), `"id":"`+id+`"`)
			})
		}
	}
}

// readStream returns every event stored in the bus's stream.
func readStream(t *testing.T, bus *events.Bus) []events.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	last, err := bus.LastSeq(ctx)
	require.NoError(t, err)
	var recs []events.Record
	if last == 0 {
		return nil
	}
	errDone := fmt.Errorf("read up to %d", last)
	err = bus.Follow(ctx, []string{">"}, events.From{}, func(r events.Record) error {
		recs = append(recs, r)
		if r.Seq >= last {
			return errDone
		}
		return nil
	})
	require.ErrorIs(t, err, errDone)
	return recs
}

// An event committed by this process is published at once, not at the
// relay's next poll (an hour away here).
func TestCommittedEventIsPublishedWithoutWaitingForThePoll(t *testing.T) {
	ctx := t.Context()
	log := slog.New(slog.DiscardHandler)
	s := storetest.Open(t)
	bus, err := events.Connect(ctx, busConfig(natsURL(t), fmt.Sprintf("NOTIFY%d", time.Now().UnixNano())), log)
	require.NoError(t, err)
	t.Cleanup(func() {
		assert.NoError(t, bus.DeleteStream(context.Background()))
		assert.NoError(t, bus.Close())
	})
	relay := outbox.NewRelay(s, bus, outbox.Config{PollInterval: time.Hour}, log)
	s.OnAnnounce(relay.Notify)
	relay.Start()
	t.Cleanup(relay.Stop)

	seed, err := seedResult(ctx, s)
	require.NoError(t, err)
	enc := outbox.NewEncoder(propagation.TraceContext{})
	saved, err := s.SaveResultAnnounced(ctx, seed, func(r grading.Result) (store.Event, error) {
		return enc.Encode(ctx, events.NewResultGraded(r))
	})
	require.NoError(t, err)
	want := events.NewResultGraded(saved).ID
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		pending, err := s.PendingEvents(ctx, 10)
		assert.NoError(c, err)
		assert.Empty(c, pending)
	}, 20*time.Second, 10*time.Millisecond)
	recs := readStream(t, bus)
	require.Len(t, recs, 1)
	assert.Contains(t, string(recs[0].Data), `"id":"`+want+`"`)
}

// smallPayloadNATS starts a JetStream server whose max_payload is limit, as
// an operator may configure one, and returns its URL.
func smallPayloadNATS(t *testing.T, limit int32) string {
	t.Helper()
	srv, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true, StoreDir: t.TempDir(),
		MaxPayload: limit, NoLog: true, NoSigs: true,
	})
	require.NoError(t, err)
	srv.Start()
	t.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	require.True(t, srv.ReadyForConnections(10*time.Second), "embedded nats ready")
	return srv.ClientURL()
}

// One event the server can never take (here a batch summary listing 100
// failures of users with long names, larger than a NATS configured with
// max_payload 64 KiB) held up every later event of every course: each round
// stopped at it and began again with it. It is now set aside with its error
// and the events behind it are published.
func TestOversizeEventDoesNotBlockTheOutbox(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		log := slog.New(slog.DiscardHandler)
		bus, err := events.Connect(ctx, busConfig(smallPayloadNATS(t, 64<<10), "POISON"), log)
		require.NoError(t, err)
		t.Cleanup(func() { assert.NoError(t, bus.Close()) })
		enc := outbox.NewEncoder(propagation.TraceContext{})

		big, err := seedResult(ctx, s)
		require.NoError(t, err)
		var summary grading.Summary
		for i := range grading.MaxListedFailures {
			summary.Add(grading.Outcome{
				DeliveryID: fmt.Sprint("d", i), User: strings.Repeat("名", 200),
				Status: grading.StatusError, Reason: strings.Repeat("x", 500),
			})
		}
		poison, err := enc.Encode(ctx, events.NewBatchCompleted(big.BatchID, grading.BatchCompleted, summary))
		require.NoError(t, err)
		require.Greater(t, len(poison.Payload), 64<<10)
		require.NoError(t, s.RecordBatchOutcomeAnnounced(ctx, big.BatchID, grading.BatchCompleted, summary, &poison))

		seed, err := seedResult(ctx, s)
		require.NoError(t, err)
		saved, err := s.SaveResultAnnounced(ctx, seed, func(r grading.Result) (store.Event, error) {
			return enc.Encode(ctx, events.NewResultGraded(r))
		})
		require.NoError(t, err)

		relay := outbox.NewRelay(s, bus, outbox.Config{PollInterval: 20 * time.Millisecond}, log)
		relay.Start()
		t.Cleanup(relay.Stop)
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			pending, err := s.PendingEvents(ctx, 10)
			assert.NoError(c, err)
			var ids []string
			for _, p := range pending {
				ids = append(ids, p.ID)
			}
			assert.Empty(c, ids, "pending events")
		}, 10*time.Second, 20*time.Millisecond)
		recs := readStream(t, bus)
		require.Len(t, recs, 1, "the event behind the oversize one is published")
		assert.Contains(t, string(recs[0].Data), `"id":"`+events.NewResultGraded(saved).ID+`"`)
	})
}

// failingMarks is the store whose MarkEventsSent fails while fail is
// positive, as when the database goes away between a publish and its mark.
type failingMarks struct {
	*store.Store
	fail atomic.Int32
}

func (f *failingMarks) MarkEventsSent(ctx context.Context, ids []string) error {
	if f.fail.Add(-1) >= 0 {
		return errors.New("database unreachable")
	}
	return f.Store.MarkEventsSent(ctx, ids)
}

// An event published but not marked sent, because the database went away
// just then, was published again once the database was back. When that
// took longer than the stream's dedup window (two minutes; shortened here
// to stand for a longer outage), the stream stored it twice. The relay now
// remembers what it published and marks it first.
func TestPublishedButUnmarkedEventIsNotPublishedAgain(t *testing.T) {
	ctx := t.Context()
	log := slog.New(slog.DiscardHandler)
	s := &failingMarks{Store: storetest.Open(t)}
	cfg := busConfig(natsURL(t), fmt.Sprintf("UNMARKED%d", time.Now().UnixNano()))
	bus, err := events.Connect(ctx, cfg, log)
	require.NoError(t, err)
	t.Cleanup(func() {
		assert.NoError(t, bus.DeleteStream(context.Background()))
		assert.NoError(t, bus.Close())
	})
	seed, err := seedResult(ctx, s.Store)
	require.NoError(t, err)
	enc := outbox.NewEncoder(propagation.TraceContext{})
	_, err = s.SaveResultAnnounced(ctx, seed, func(r grading.Result) (store.Event, error) {
		return enc.Encode(ctx, events.NewResultGraded(r))
	})
	require.NoError(t, err)

	relay := outbox.NewRelay(s, bus, outbox.Config{}, log)
	s.fail.Store(1)
	_, err = relay.Round(ctx)
	require.ErrorContains(t, err, "database unreachable")
	require.Len(t, readStream(t, bus), 1)

	// The outage outlasts the dedup window.
	nc, err := nats.Connect(cfg.URL)
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	st, err := js.Stream(ctx, cfg.Stream)
	require.NoError(t, err)
	sc := st.CachedInfo().Config
	sc.Duplicates = 100 * time.Millisecond
	_, err = js.UpdateStream(ctx, sc)
	require.NoError(t, err)
	// Wait until a probe published after the event is no longer taken for a
	// duplicate: the stream forgets ids in publication order, so by then it
	// would store the event again.
	probe := func() (fresh bool, err error) {
		ack, err := js.Publish(ctx, cfg.SubjectPrefix+".probe", nil, jetstream.WithMsgID("probe"))
		if err != nil {
			return false, err
		}
		return !ack.Duplicate, nil
	}
	fresh, err := probe()
	require.NoError(t, err)
	require.True(t, fresh, "the first probe is stored")
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		fresh, err := probe()
		require.NoError(c, err)
		assert.True(c, fresh, "the probe's id is still remembered")
	}, 10*time.Second, 20*time.Millisecond)

	_, err = relay.Round(ctx)
	require.NoError(t, err)
	pending, err := s.PendingEvents(ctx, 10)
	require.NoError(t, err)
	assert.Empty(t, pending)
	var graded int
	for _, r := range readStream(t, bus) {
		if r.Subject == events.SubjectResultGraded {
			graded++
		}
	}
	assert.Equal(t, 1, graded, "the event is in the stream once")
}
