package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/zinc-edu/orchestrator/extensions/pipeline"
	"github.com/zinc-edu/orchestrator/internal/batches"
	"github.com/zinc-edu/orchestrator/internal/demo"
	"github.com/zinc-edu/orchestrator/internal/devstack"
	"github.com/zinc-edu/orchestrator/internal/engine"
	"github.com/zinc-edu/orchestrator/internal/events"
	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/harness"
	"github.com/zinc-edu/orchestrator/internal/outbox"
	"github.com/zinc-edu/orchestrator/internal/sandbox"
	"github.com/zinc-edu/orchestrator/internal/store/storetest"
	"github.com/zinc-edu/orchestrator/workflows"
)

// server is the one embedded Temporal server of this test binary; tests
// isolate themselves with their own task-queue prefix and NATS stream.
var server struct {
	sync.Once
	t   *devstack.Temporal
	err error
}

func temporalAddress(t *testing.T) string {
	t.Helper()
	server.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		server.t, server.err = devstack.StartTemporal(ctx, devstack.TemporalOptions{
			UIPort: -1,
			// Small histories exercise continue-as-new in seconds.
			DynamicConfig: map[string]any{"limit.historyCount.suggestContinueAsNew": 300},
		})
	})
	require.NoError(t, server.err)
	return server.t.Address()
}

func TestMain(m *testing.M) {
	code := m.Run()
	if server.t != nil {
		_ = server.t.Stop()
	}
	os.Exit(code)
}

// startStack starts workers, store, bucket and events for one test; a nil
// runner means the real engine in the real sandbox.
func startStack(t *testing.T, dbURL string, runner pipeline.Engine) *harness.Stack {
	t.Helper()
	return startStackOn(t, dbURL, runner, os.Getenv("NATS_URL"), outbox.Config{})
}

// startStackOn is startStack with a given NATS (empty starts an embedded
// one) and outbox relay settings. When the test ends, every event it left in
// its stream is checked against the event's JSON Schema.
func startStackOn(t *testing.T, dbURL string, runner pipeline.Engine, natsURL string, relay outbox.Config) *harness.Stack {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	id := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	opts := harness.Options{
		Dir:             t.TempDir(),
		TemporalAddress: temporalAddress(t),
		TaskQueuePrefix: "it-" + id,
		DatabaseURL:     dbURL,
		NATSURL:         natsURL,
		Outbox:          relay,
		Stream:          "ZINCIT" + strings.ToUpper(strings.ReplaceAll(id, "-", "")),
		SubjectPrefix:   "zincit." + strings.ReplaceAll(id, "-", ""),
		Logger:          slog.New(slog.DiscardHandler),
	}
	opts.Engine = runner
	if runner == nil {
		sb, err := sandbox.New(sandbox.Config{}, opts.Logger)
		require.NoError(t, err)
		t.Cleanup(func() { _ = sb.Close() })
		opts.Engine = engine.New(sb, opts.Logger)
	}
	st, err := harness.Start(ctx, opts)
	require.NoError(t, err)
	t.Cleanup(func() {
		validateEvents(t, st.Bus)
		require.NoError(t, st.Stop())
		if natsURL != "" {
			deleteStream(t, natsURL, opts.Stream)
		}
	})
	return st
}

func TestBatchGradesDemoAssignmentAcrossQueues(t *testing.T) {
	engines := map[string]string{"sqlite": ""}
	if os.Getenv("DATABASE_URL") != "" {
		engines["postgres"] = storetest.PostgresURL(t)
	}
	for name, dbURL := range engines {
		t.Run(name, func(t *testing.T) {
			st := startStack(t, dbURL, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()

			configYAML, deliveries := demo.Assignment()
			seeded, err := st.Seed(ctx, configYAML, toHarness(deliveries))
			require.NoError(t, err)

			graded := make(chan pipelineEvent, len(deliveries))
			stop, err := st.Bus.Subscribe(ctx, events.SubjectResultGraded, "it-results", func(_ context.Context, data []byte) error {
				var ev pipelineEvent
				if err := json.Unmarshal(data, &ev); err != nil {
					return err
				}
				graded <- ev
				return nil
			})
			require.NoError(t, err)
			defer stop()

			b, err := st.Batches.Start(ctx, batches.StartRequest{CollectionID: seeded.CollectionID, ConfigID: seeded.ConfigID, Concurrency: 3})
			require.NoError(t, err)
			res, err := st.Wait(ctx, b)
			require.NoError(t, err)

			// Every delivery got its known score, in the result and in the rows.
			rows, err := st.Store.BatchResults(ctx, b.ID)
			require.NoError(t, err)
			require.Len(t, rows, len(deliveries))
			byUser := map[string]grading.Result{}
			for _, r := range rows {
				byUser[r.User] = r
			}
			var wantGraded int
			for _, d := range deliveries {
				r, ok := byUser[d.User]
				require.True(t, ok, "no result row for %s", d.User)
				require.Equal(t, grading.StatusGraded, r.Status, "%s: %s", d.User, r.Diagnostic)
				require.Equal(t, d.WantScore, r.Score, "score of %s", d.User)
				require.Equal(t, 1, r.Attempt)
				require.NotEmpty(t, r.Steps)
				wantGraded++
			}
			require.Equal(t, grading.BatchCompleted, res.Status)
			require.Equal(t, len(deliveries), res.Summary.Total)
			require.Equal(t, wantGraded, res.Summary.Counts.Graded)

			// The batch row carries the recorded outcome.
			v, err := st.Batches.Get(ctx, b.ID)
			require.NoError(t, err)
			require.Equal(t, grading.BatchCompleted, v.Status)
			require.NotNil(t, v.Summary)
			require.Equal(t, res.Summary, *v.Summary)

			// One event per graded delivery reached NATS.
			for range deliveries {
				select {
				case ev := <-graded:
					require.Equal(t, byUser[ev.User].Score, ev.Score)
				case <-ctx.Done():
					t.Fatal("missing results.graded events")
				}
			}

			// The history shows activities on both extension queues.
			queues := activityQueues(t, ctx, st, b)
			require.Contains(t, queues, st.Client.FormatTaskQueue(workflows.SubmissionTaskQueue))
			require.Contains(t, queues, st.Client.FormatTaskQueue(workflows.PipelineTaskQueue))
		})
	}
}

func activityQueues(t *testing.T, ctx context.Context, st *harness.Stack, b grading.Batch) map[string]bool {
	t.Helper()
	queues := map[string]bool{}
	it := st.Client.GetWorkflowHistory(ctx, b.WorkflowID, b.RunID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil {
			queues[a.GetTaskQueue().GetName()] = true
		}
	}
	return queues
}

// deleteStream removes a test's stream from a shared NATS server.
func deleteStream(t *testing.T, url, stream string) {
	t.Helper()
	nc, err := nats.Connect(url)
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	require.NoError(t, js.DeleteStream(context.Background(), stream))
}

type pipelineEvent struct {
	User  string  `json:"user"`
	Score float64 `json:"score"`
}

func toHarness(ds []demo.Delivery) []harness.Delivery {
	out := make([]harness.Delivery, len(ds))
	for i, d := range ds {
		out[i] = harness.Delivery{User: d.User, Files: d.Files}
	}
	return out
}

func TestSecondBatchForSamePairIsRefused(t *testing.T) {
	st := startStack(t, "", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	seeded, err := st.Seed(ctx, sleepConfig("30"), textDeliveries(1))
	require.NoError(t, err)

	b, err := st.Batches.Start(ctx, batches.StartRequest{CollectionID: seeded.CollectionID, ConfigID: seeded.ConfigID})
	require.NoError(t, err)
	_, err = st.Batches.Start(ctx, batches.StartRequest{CollectionID: seeded.CollectionID, ConfigID: seeded.ConfigID})
	require.ErrorIs(t, err, grading.ErrConflict)
	require.Contains(t, err.Error(), "already running")

	require.NoError(t, st.Batches.Cancel(ctx, b.ID))
	_, err = st.Wait(ctx, b)
	require.Error(t, err)
	v, err := st.Batches.Get(ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, grading.BatchCancelled, v.Status)
	// A cancelled batch cannot be cancelled again.
	require.ErrorIs(t, st.Batches.Cancel(ctx, b.ID), grading.ErrConflict)
}

func TestCancelKillsRunningPipelines(t *testing.T) {
	st := startStack(t, "", nil)
	cancelWhileSleeping(t, st, 4000, batches.StartRequest{}, 2)
}

// cancelWhileSleeping starts a batch of two deliveries whose pipeline
// sleeps, waits until running sandboxed processes are seen, cancels the
// batch and checks that it ends cancelled with every process killed:
// thanks to WaitForCancellation the workflow closes only after its
// activities killed their processes.
func cancelWhileSleeping(t *testing.T, st *harness.Stack, base int, req batches.StartRequest, running int) grading.Batch {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	marker := fmt.Sprintf("%d", base+os.Getpid()%1000)
	seeded, err := st.Seed(ctx, sleepConfig(marker), textDeliveries(2))
	require.NoError(t, err)
	req.CollectionID, req.ConfigID = seeded.CollectionID, seeded.ConfigID
	b, err := st.Batches.Start(ctx, req)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(processesWith("sleep", marker)) == running }, 30*time.Second, 50*time.Millisecond)

	require.NoError(t, st.Batches.Cancel(ctx, b.ID))
	_, err = st.Wait(ctx, b)
	require.Error(t, err)
	require.Empty(t, processesWith("sleep", marker))
	v, err := st.Batches.Get(ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, grading.BatchCancelled, v.Status)
	return b
}

func TestMissingFilesAreRecordedNotRetried(t *testing.T) {
	st := startStack(t, "", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	seeded, err := st.Seed(ctx, sleepConfig("0"), textDeliveries(2))
	require.NoError(t, err)
	d, err := st.Store.Delivery(ctx, seeded.DeliveryIDs["u1"])
	require.NoError(t, err)
	require.NoError(t, st.Bucket.Delete(ctx, d.ObjectKey))

	b, err := st.Batches.Start(ctx, batches.StartRequest{CollectionID: seeded.CollectionID, ConfigID: seeded.ConfigID})
	require.NoError(t, err)
	res, err := st.Wait(ctx, b)
	require.NoError(t, err)

	require.Equal(t, grading.Counts{Graded: 1, Error: 1}, res.Summary.Counts)
	require.Len(t, res.Summary.Failures, 1)
	require.Equal(t, "u1", res.Summary.Failures[0].User)
	require.Contains(t, res.Summary.Failures[0].Reason, "not found")
	r, err := st.Store.Result(ctx, d.ID, seeded.ConfigID)
	require.NoError(t, err)
	require.Equal(t, grading.StatusError, r.Status)
	require.Equal(t, 1, r.Attempt, "a business failure is not retried")
}

func TestUnknownCollectionFailsTheBatch(t *testing.T) {
	st := startStack(t, "", nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := st.Batches.Start(ctx, batches.StartRequest{CollectionID: "nope", ConfigID: "nope"})
	require.ErrorIs(t, err, grading.ErrNotFound)
	require.True(t, errors.Is(err, grading.ErrNotFound))
}

// textDeliveries returns n deliveries of users u0, u1, … holding one text
// file each: enough for pipelines that never look at it.
func textDeliveries(n int) []harness.Delivery {
	ds := make([]harness.Delivery, n)
	for i := range ds {
		ds[i] = harness.Delivery{User: fmt.Sprintf("u%d", i), Files: map[string][]byte{"a.txt": []byte("x")}}
	}
	return ds
}

// sleepConfig is a one-stage pipeline sleeping for secs seconds.
func sleepConfig(secs string) string {
	return fmt.Sprintf(`version: 1
name: sleeper
stages:
  - name: nap
    command: ["sleep", %q]
    timeout: 2m
    points: 1
`, secs)
}

// processesWith lists pids whose command line has every given argument.
func processesWith(args ...string) []string {
	var pids []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		parts := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		match := len(parts) == len(args)
		for i := 0; match && i < len(args); i++ {
			match = filepath.Base(parts[i]) == args[i] || parts[i] == args[i]
		}
		if match {
			pids = append(pids, e.Name())
		}
	}
	return pids
}
