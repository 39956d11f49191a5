package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/batches"
	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/harness"
	"github.com/zinc-edu/orchestrator/workflows"
)

// noopConfig is any valid definition: the noop runner ignores it.
const noopConfig = `version: 1
name: noop
stages:
  - name: noop
    command: ["true"]
    points: 1
`

func seedNoop(t *testing.T, st *harness.Stack, n int, failing ...int) harness.Seeded {
	t.Helper()
	ds := make([]harness.Delivery, n)
	fail := map[int]bool{}
	for _, i := range failing {
		fail[i] = true
	}
	for i := range ds {
		files := map[string][]byte{"main.c": []byte("int main(){}")}
		if fail[i] {
			files["fail-once"] = []byte(fmt.Sprintf("%s-%d", t.Name(), i))
		}
		ds[i] = harness.Delivery{User: fmt.Sprintf("user%05d", i), Files: files}
	}
	s, err := st.Seed(context.Background(), noopConfig, ds)
	require.NoError(t, err)
	return s
}

// TestLargeBatchContinuesAsNew runs the scale path in CI size: the test
// server suggests continue-as-new at 300 events, so a few hundred
// deliveries take several runs, which must neither lose nor repeat any.
func TestLargeBatchContinuesAsNew(t *testing.T) {
	st := startStack(t, "", &harness.NoopEngine{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const n = 400
	seeded := seedNoop(t, st, n)

	b, err := st.Batches.Start(ctx, batches.StartRequest{CollectionID: seeded.CollectionID, ConfigID: seeded.ConfigID, Concurrency: 20})
	require.NoError(t, err)
	res, err := st.Wait(ctx, b)
	require.NoError(t, err)

	require.Equal(t, n, res.Summary.Total)
	require.Equal(t, n, res.Summary.Counts.Graded)
	rows, err := st.Store.BatchResults(ctx, b.ID)
	require.NoError(t, err)
	require.Len(t, rows, n)
	for _, r := range rows {
		require.Equal(t, 1, r.Attempt, "delivery %s graded more than once", r.User)
	}
	runs := historyLengths(t, ctx, st, b)
	t.Logf("events per run: %v", runs)
	require.Greater(t, len(runs), 1, "expected continue-as-new")
	for _, events := range runs {
		// The server suggests at 300; a run stops dispatching then and only
		// drains what is in flight.
		require.Less(t, events, 600)
	}
}

func TestPauseResumeAndResize(t *testing.T) {
	st := startStack(t, "", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	seeded, err := st.Seed(ctx, sleepConfig("1"), textDeliveries(6))
	require.NoError(t, err)
	b, err := st.Batches.Start(ctx, batches.StartRequest{CollectionID: seeded.CollectionID, ConfigID: seeded.ConfigID, Concurrency: 1})
	require.NoError(t, err)
	// Readers are served from the store from the start, not by a query.
	_, _, err = st.Store.BatchProgress(ctx, b.ID)
	require.NoError(t, err, "a progress row as soon as the batch started")

	// Pause once a delivery is in flight: a batch paused before its first
	// page has not counted its deliveries yet.
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		v, err := st.Batches.Get(ctx, b.ID)
		require.NoError(c, err)
		assert.Equal(c, 1, v.Progress.InFlight)
	}, 30*time.Second, 50*time.Millisecond)
	require.ErrorIs(t, st.Batches.Resume(ctx, b.ID), grading.ErrConflict, "resume a running batch")
	require.NoError(t, st.Batches.Pause(ctx, b.ID))
	require.ErrorIs(t, st.Batches.Pause(ctx, b.ID), grading.ErrConflict, "pause twice")
	require.ErrorIs(t, st.Batches.SetConcurrency(ctx, b.ID, 501), batches.ErrInvalid)
	require.NoError(t, st.Batches.SetConcurrency(ctx, b.ID, 3))

	// Paused: the delivery in flight finishes and nothing else starts.
	var p workflows.Progress
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		v, err := st.Batches.Get(ctx, b.ID)
		require.NoError(c, err)
		p = v.Progress
		assert.Zero(c, p.InFlight)
	}, 30*time.Second, 100*time.Millisecond)
	require.True(t, p.Paused)
	require.Equal(t, 3, p.Concurrency)
	require.Equal(t, 6, p.Total)
	require.Less(t, p.Done, 6)
	done := p.Done

	v, err := st.Batches.Get(ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, done, v.Progress.Done, "a paused batch made progress")
	// A paused workflow writes no progress row until it resumes: a change
	// made now is seen at once all the same.
	require.NoError(t, st.Batches.SetConcurrency(ctx, b.ID, 2))
	v, err = st.Batches.Get(ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, 2, v.Progress.Concurrency, "the new window, not the paused row's")

	require.NoError(t, st.Batches.Resume(ctx, b.ID))
	res, err := st.Wait(ctx, b)
	require.NoError(t, err)
	require.Equal(t, 6, res.Summary.Counts.Graded)

	v, err = st.Batches.Get(ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, grading.BatchCompleted, v.Status)
	require.Equal(t, 6, v.Progress.Done)
	require.ErrorIs(t, st.Batches.Pause(ctx, b.ID), grading.ErrConflict, "pause a finished batch")
}

func TestRegradeFailedGradesOnlyTheFailures(t *testing.T) {
	st := startStack(t, "", &harness.NoopEngine{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	seeded := seedNoop(t, st, 10, 2, 7)

	first, err := st.Batches.Start(ctx, batches.StartRequest{CollectionID: seeded.CollectionID, ConfigID: seeded.ConfigID})
	require.NoError(t, err)
	_, err = st.Batches.RegradeFailed(ctx, first.ID)
	require.ErrorIs(t, err, grading.ErrConflict, "regrade a running batch")
	res, err := st.Wait(ctx, first)
	require.NoError(t, err)
	require.Equal(t, grading.Counts{Graded: 8, Ungraded: 2}, res.Summary.Counts)

	second, err := st.Batches.RegradeFailed(ctx, first.ID)
	require.NoError(t, err)
	res2, err := st.Wait(ctx, second)
	require.NoError(t, err)
	require.Equal(t, 2, res2.Summary.Total)
	require.Equal(t, 2, res2.Summary.Counts.Graded)

	// The regraded rows moved to the new batch, each graded twice in all.
	rows, err := st.Store.BatchResults(ctx, second.ID)
	require.NoError(t, err)
	require.Len(t, rows, 2)
	for _, r := range rows {
		require.Equal(t, grading.StatusGraded, r.Status)
		require.Equal(t, 2, r.Attempt)
	}
	// The original batch still shows every delivery, the regraded ones
	// from the regrade, and its summary counts them as they are now.
	orig, err := st.Store.BatchResults(ctx, first.ID)
	require.NoError(t, err)
	require.Len(t, orig, 10)
	moved := 0
	for _, r := range orig {
		if r.BatchID == second.ID {
			moved++
		}
	}
	require.Equal(t, 2, moved)
	view, err := st.Batches.Get(ctx, first.ID)
	require.NoError(t, err)
	require.Equal(t, grading.Counts{Graded: 10}, view.Summary.Counts)

	queues := activityQueues(t, ctx, st, second)
	require.Contains(t, queues, st.Client.FormatTaskQueue(workflows.PipelineRegradeQueue))

	_, err = st.Batches.RegradeFailed(ctx, second.ID)
	require.ErrorIs(t, err, grading.ErrConflict, "nothing left to regrade")
}

// historyLengths returns the number of events of each run of the batch's
// continue-as-new chain, first run first.
func historyLengths(t *testing.T, ctx context.Context, st *harness.Stack, b grading.Batch) []int {
	t.Helper()
	var lengths []int
	run := b.RunID
	for run != "" {
		n, next := 0, ""
		it := st.Client.GetWorkflowHistory(ctx, b.WorkflowID, run, false, 0)
		for it.HasNext() {
			ev, err := it.Next()
			require.NoError(t, err)
			n++
			if a := ev.GetWorkflowExecutionContinuedAsNewEventAttributes(); a != nil {
				next = a.GetNewExecutionRunId()
			}
		}
		lengths = append(lengths, n)
		run = next
	}
	return lengths
}

// TestPartitionedBatch grades a batch as child workflows on the real
// server: every delivery once, controls reach the running partition, and
// progress adds the partition's work to the batch's.
func TestPartitionedBatch(t *testing.T) {
	st := startStack(t, "", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	seeded, err := st.Seed(ctx, sleepConfig("1"), textDeliveries(5))
	require.NoError(t, err)
	b, err := st.Batches.Start(ctx, batches.StartRequest{
		CollectionID: seeded.CollectionID, ConfigID: seeded.ConfigID, Concurrency: 1, PartitionSize: 2,
	})
	require.NoError(t, err)

	// Pause the batch while its first partition runs: the partition stops
	// dispatching, and the batch's progress shows the partition's state.
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		v, err := st.Batches.Get(ctx, b.ID)
		require.NoError(c, err)
		assert.NotEmpty(c, v.Progress.Partition)
		assert.Equal(c, 1, v.Progress.InFlight)
	}, 30*time.Second, 50*time.Millisecond)
	require.NoError(t, st.Batches.Pause(ctx, b.ID))
	var p workflows.Progress
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		v, err := st.Batches.Get(ctx, b.ID)
		require.NoError(c, err)
		p = v.Progress
		assert.Zero(c, p.InFlight)
	}, 30*time.Second, 50*time.Millisecond)
	require.True(t, p.Paused)
	require.Equal(t, 5, p.Total)
	require.Less(t, p.Done, 5)
	require.NoError(t, st.Batches.SetConcurrency(ctx, b.ID, 4))
	require.NoError(t, st.Batches.Resume(ctx, b.ID))

	res, err := st.Wait(ctx, b)
	require.NoError(t, err)
	require.Equal(t, 5, res.Summary.Counts.Graded)
	rows, err := st.Store.BatchResults(ctx, b.ID)
	require.NoError(t, err)
	require.Len(t, rows, 5)
	for _, r := range rows {
		require.Equal(t, 1, r.Attempt, "%s graded once", r.User)
	}
	for _, part := range []string{"/partition-1", "/partition-2", "/partition-3"} {
		desc, err := st.Client.DescribeWorkflowExecution(ctx, b.WorkflowID+part, "")
		require.NoError(t, err, part)
		require.Equal(t, "Completed", desc.GetWorkflowExecutionInfo().GetStatus().String())
	}
	v, err := st.Batches.Get(ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, grading.BatchCompleted, v.Status)
}

func TestCancelPartitionedBatchStopsItsPartition(t *testing.T) {
	st := startStack(t, "", nil)
	b := cancelWhileSleeping(t, st, 5000, batches.StartRequest{PartitionSize: 1}, 1)
	desc, err := st.Client.DescribeWorkflowExecution(context.Background(), b.WorkflowID+"/partition-1", "")
	require.NoError(t, err)
	require.Equal(t, "Canceled", desc.GetWorkflowExecutionInfo().GetStatus().String())
}
