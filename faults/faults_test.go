package faults

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/demo"
)

// size is how big a fault run is: the small form in CI, the full size
// (ZINC_FAULTS_FULL=1) for RELIABILITY.md.
type size struct {
	copies  int           // copies of the nine demo deliveries
	kills   int           // SIGKILLs of the pipeline worker in one batch
	outage  time.Duration // how long the database or NATS stays unreachable
	timeout time.Duration // how long one batch may take, faults included
}

func runSize() size {
	if os.Getenv("ZINC_FAULTS_FULL") == "1" {
		return size{copies: 12, kills: 5, outage: 20 * time.Second, timeout: 20 * time.Minute}
	}
	return size{copies: 2, kills: 2, outage: 20 * time.Second, timeout: 8 * time.Minute}
}

// faultCase is one row of the suite: a fault injected into a running batch.
type faultCase struct {
	name     string
	postgres bool // the fault needs PostgreSQL behind the proxy
	poison   bool // one delivery's files are corrupt: it must fail, visibly
	// inject runs while the batch grades and returns what it did.
	inject func(t *testing.T, s *stack, r *run) []fault
}

// fault is one injected fault and how long grading took to resume after it.
type fault struct {
	what     string
	recovery time.Duration
}

func TestFaults(t *testing.T) {
	sz := runSize()
	cases := []faultCase{
		{name: "pipeline worker SIGKILL repeated", inject: func(t *testing.T, s *stack, r *run) []fault {
			var fs []fault
			for i := range sz.kills {
				if r.status() != "running" {
					break // the batch outran the faults: verify checks it all the same
				}
				r.waitDone(t, r.done()+1)
				s.kill(pipelineName)
				s.start(t.Context(), pipelineName)
				fs = append(fs, fault{what: fmt.Sprintf("SIGKILL pipeline-worker #%d", i+1), recovery: r.recovery(t)})
			}
			return fs
		}},
		{name: "api SIGKILL", inject: func(t *testing.T, s *stack, r *run) []fault {
			r.waitDone(t, 1)
			s.kill(apiName)
			s.start(t.Context(), apiName)
			return []fault{{what: "SIGKILL api", recovery: r.recovery(t)}}
		}},
		{name: "PostgreSQL unreachable", postgres: true, inject: func(t *testing.T, s *stack, r *run) []fault {
			r.waitDone(t, 1)
			s.db.cut()
			<-time.After(sz.outage) // the outage itself, not a wait for a result
			s.db.restore()
			return []fault{{what: fmt.Sprintf("PostgreSQL unreachable %s", sz.outage), recovery: r.recovery(t)}}
		}},
		{name: "NATS unreachable", inject: func(t *testing.T, s *stack, r *run) []fault {
			r.waitDone(t, 1)
			s.nats.cut()
			<-time.After(sz.outage)
			s.nats.restore()
			return []fault{{what: fmt.Sprintf("NATS unreachable %s", sz.outage), recovery: r.recovery(t)}}
		}},
		{name: "poison delivery", poison: true, inject: func(*testing.T, *stack, *run) []fault {
			return []fault{{what: "poison delivery"}}
		}},
		// The cluster topology (apphost --temporal-db) has its own case,
		// TestClusterFrontendThenHistoryKilled.
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			s := startStack(t, tt.postgres)
			r := seed(t, s, sz.copies, tt.poison)
			r.start(t)
			faults := tt.inject(t, s, r)
			r.verify(t, sz.timeout)
			r.checkEvents(t, s.natsURL)
			s.checkNothingLeft()
			for _, f := range faults {
				t.Logf("figure: case=%q deliveries=%d fault=%q recovery=%s lost=0 duplicated=0 batch=%s",
					tt.name, len(r.want), f.what, f.recovery.Round(100*time.Millisecond), r.elapsed().Round(time.Second))
			}
		})
	}
}

// want is a delivery's expected result.
type want struct {
	user   string
	status string
	score  float64
}

// run is one batch of a test: its deliveries and what each must end as.
type run struct {
	s          *stack
	collection string
	config     string
	batch      string
	want       map[string]want // by delivery id
	started    time.Time
	finished   time.Time
}

// seed uploads copies of the demo deliveries (users alice-01, …) and the
// demo config. With poison, the stored files of one delivery are replaced
// by bytes that are no archive.
func seed(t *testing.T, s *stack, copies int, poison bool) *run {
	t.Helper()
	ctx := t.Context()
	configYAML, deliveries := demo.Assignment()
	r := &run{s: s, want: map[string]want{}}
	var col struct{ ID string }
	require.NoError(t, s.api.postJSON(ctx, "/v1/collections", map[string]string{"name": t.Name()}, http.StatusCreated, &col))
	r.collection = col.ID
	for i := range copies {
		for _, d := range deliveries {
			user := fmt.Sprintf("%s-%02d", d.User, i+1)
			var got struct {
				ID        string `json:"id"`
				ObjectKey string `json:"object_key"`
			}
			require.NoError(t, s.api.upload(ctx, r.collection, user, d.Files, &got))
			r.want[got.ID] = want{user: user, status: "graded", score: d.WantScore}
			if poison && len(r.want) == 1 {
				require.NotEmpty(t, got.ObjectKey)
				require.NoError(t, os.WriteFile(filepath.Join(s.blobDir, filepath.FromSlash(got.ObjectKey)), []byte("not an archive"), 0o644))
				r.want[got.ID] = want{user: user, status: "error"}
			}
		}
	}
	var cfg struct{ ID string }
	require.NoError(t, s.api.post(ctx, "/v1/grading-configs", "application/yaml", strings.NewReader(configYAML), http.StatusCreated, &cfg))
	r.config = cfg.ID
	return r
}

func (r *run) start(t *testing.T) {
	t.Helper()
	var b struct{ ID string }
	require.NoError(t, r.s.api.postJSON(t.Context(), "/v1/batches",
		map[string]any{"collection_id": r.collection, "config_id": r.config, "concurrency": 4}, http.StatusAccepted, &b))
	r.batch, r.started = b.ID, time.Now()
}

// done counts the batch's result rows. It reads the results, which come
// from the store, so it is the truth whatever the progress shows; while
// the stack is down it counts nothing.
func (r *run) done() int {
	var rows []resultRow
	if err := r.s.api.getJSON(context.Background(), "/v1/batches/"+r.batch+"/results", &rows); err != nil {
		return 0
	}
	return len(rows)
}

// waitDone waits until the batch has at least n result rows.
func (r *run) waitDone(t *testing.T, n int) {
	t.Helper()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.GreaterOrEqual(c, r.done(), n)
	}, 5*time.Minute, 200*time.Millisecond, "batch %s reaches %d results", r.batch, n)
}

// recovery measures how long after a fault ended grading made progress
// again: a new result row, or the batch finishing.
func (r *run) recovery(t *testing.T) time.Duration {
	t.Helper()
	from, before := time.Now(), r.done()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.True(c, r.done() > before || r.status() != "running")
	}, 5*time.Minute, 200*time.Millisecond, "grading resumes")
	return time.Since(from)
}

func (r *run) status() string {
	var v batchView
	if err := r.s.api.getJSON(context.Background(), "/v1/batches/"+r.batch, &v); err != nil {
		return "running"
	}
	return v.Status
}

func (r *run) elapsed() time.Duration { return r.finished.Sub(r.started) }

// resultRow is a row of GET /v1/batches/{id}/results.
type resultRow struct {
	DeliveryID string   `json:"delivery_id"`
	User       string   `json:"user"`
	Status     string   `json:"status"`
	Score      *float64 `json:"score"`
}

// batchView is GET /v1/batches/{id}.
type batchView struct {
	Status  string `json:"status"`
	Summary *struct {
		Total  int `json:"total"`
		Counts struct {
			Graded, Ungraded, Error int
		} `json:"counts"`
		Failures []struct {
			DeliveryID string `json:"delivery_id"`
			Reason     string `json:"reason"`
		} `json:"failures"`
	} `json:"summary"`
}

// verify waits for the batch to finish and checks it lost and duplicated
// nothing: completed, one row per delivery with the expected status and
// score, and a summary that agrees.
func (r *run) verify(t *testing.T, timeout time.Duration) {
	t.Helper()
	var v batchView
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		require.NoError(c, r.s.api.getJSON(t.Context(), "/v1/batches/"+r.batch, &v))
		assert.NotEqual(c, "running", v.Status)
	}, timeout, 500*time.Millisecond, "batch %s finishes", r.batch)
	r.finished = time.Now()
	require.Equal(t, "completed", v.Status)

	var rows []resultRow
	require.NoError(t, r.s.api.getJSON(t.Context(), "/v1/batches/"+r.batch+"/results", &rows))
	seen := map[string]int{}
	for _, row := range rows {
		seen[row.DeliveryID]++
		w, ok := r.want[row.DeliveryID]
		if !assert.True(t, ok, "result for a delivery not in the batch: %+v", row) {
			continue
		}
		assert.Equal(t, w.user, row.User)
		assert.Equal(t, w.status, row.Status, "status of %s", w.user)
		if w.status == "graded" && assert.NotNil(t, row.Score, w.user) {
			assert.Equal(t, w.score, *row.Score, "score of %s", w.user)
		}
	}
	var lost, duplicated []string
	graded := 0
	for id, w := range r.want {
		switch seen[id] {
		case 0:
			lost = append(lost, w.user)
		case 1:
		default:
			duplicated = append(duplicated, w.user)
		}
		if w.status == "graded" {
			graded++
		}
	}
	assert.Empty(t, lost, "deliveries without a result row")
	assert.Empty(t, duplicated, "deliveries with more than one result row")

	require.NotNil(t, v.Summary)
	assert.Equal(t, len(r.want), v.Summary.Total, "summary total")
	assert.Equal(t, graded, v.Summary.Counts.Graded, "summary graded")
	assert.Len(t, v.Summary.Failures, len(r.want)-graded, "summary failures")
	for _, f := range v.Summary.Failures {
		assert.Equal(t, "error", r.want[f.DeliveryID].status, "listed as failed: %s", f.DeliveryID)
		assert.NotEmpty(t, f.Reason)
		assert.LessOrEqual(t, len(f.Reason), 200, "a short reason: %q", f.Reason)
	}
}
