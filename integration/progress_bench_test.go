package integration

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/batches"
	"github.com/zinc-edu/orchestrator/internal/definition"
	"github.com/zinc-edu/orchestrator/internal/engine"
	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/harness"
	"github.com/zinc-edu/orchestrator/internal/store/storetest"
)

// sleepEngine grades every delivery after a fixed pause: grading that
// takes time without taking CPU.
type sleepEngine struct{ d time.Duration }

func (r sleepEngine) Run(ctx context.Context, _ *definition.Definition, _ engine.Input) (engine.Report, error) {
	select {
	case <-time.After(r.d):
	case <-ctx.Done():
		return engine.Report{}, ctx.Err()
	}
	return engine.Report{Result: grading.Result{Status: grading.StatusGraded, Score: 1, MaxScore: 1}}, nil
}

// BenchmarkBatchProgressPolling measures GET /v1/batches/{id}'s service
// call (batches.Service.Get) while 20 clients poll a running batch, each
// every 100 ms (200 requests/s offered, five times the load of issue 11's
// report), and the batch's grading rate with and without them. Two gradings:
// "paced", deliveries that take a second each, as sandboxed stages do, so the
// grading leaves CPU to spare; "saturated", 100 ms each, where the whole
// stack in this one process is CPU-bound on two cores and the latencies show
// scheduling as much as the read. The store is SQLite, or PostgreSQL when
// DATABASE_URL is set. Run it once:
// go test -run '^$' -bench BatchProgressPolling -benchtime 1x ./integration/
func BenchmarkBatchProgressPolling(b *testing.B) {
	for _, tc := range []struct {
		name       string
		each       time.Duration
		deliveries int
	}{
		{"paced", time.Second, 200},
		{"saturated", 100 * time.Millisecond, 300},
	} {
		b.Run(tc.name, func(b *testing.B) { benchmarkPolling(b, tc.each, tc.deliveries) })
	}
}

func benchmarkPolling(b *testing.B, each time.Duration, deliveries int) {
	const (
		clients     = 20
		pollEvery   = 100 * time.Millisecond
		concurrency = 20
	)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dbURL := ""
	if os.Getenv(storetest.EnvDatabaseURL) != "" {
		dbURL = storetest.PostgresURL(b)
	}
	st, err := harness.Start(ctx, harness.Options{
		Dir: b.TempDir(), Engine: sleepEngine{d: each}, DatabaseURL: dbURL,
		PipelineConcurrency: concurrency, Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(b, err)
	b.Cleanup(func() { _ = st.Stop() })

	grade := func(poll bool) (rate float64, latencies []time.Duration) {
		ds := make([]harness.Delivery, deliveries)
		for i := range ds {
			ds[i] = harness.Delivery{User: fmt.Sprintf("user%05d", i), Files: map[string][]byte{"main.c": []byte("int main(){}")}}
		}
		seeded, err := st.Seed(ctx, noopConfig, ds)
		require.NoError(b, err)
		began := time.Now()
		batch, err := st.Batches.Start(ctx, batches.StartRequest{CollectionID: seeded.CollectionID, ConfigID: seeded.ConfigID, Concurrency: concurrency})
		require.NoError(b, err)
		pollCtx, stopPolling := context.WithCancel(ctx)
		var (
			mu sync.Mutex
			wg sync.WaitGroup
		)
		if poll {
			for range clients {
				wg.Go(func() {
					var own []time.Duration
					tick := time.NewTicker(pollEvery)
					defer tick.Stop()
					for pollCtx.Err() == nil {
						t0 := time.Now()
						_, err := st.Batches.Get(pollCtx, batch.ID)
						if err == nil {
							own = append(own, time.Since(t0))
						}
						select {
						case <-tick.C:
						case <-pollCtx.Done():
						}
					}
					mu.Lock()
					latencies = append(latencies, own...)
					mu.Unlock()
				})
			}
		}
		res, err := st.Wait(ctx, batch)
		elapsed := time.Since(began)
		stopPolling()
		wg.Wait()
		require.NoError(b, err)
		require.Equal(b, deliveries, res.Summary.Counts.Graded)
		return float64(deliveries) / elapsed.Seconds(), latencies
	}

	b.ResetTimer()
	for b.Loop() {
		quietRate, _ := grade(false)
		polledRate, lat := grade(true)
		require.NotEmpty(b, lat)
		slices.Sort(lat)
		q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
		b.ReportMetric(q(0.50), "p50_ms")
		b.ReportMetric(q(0.99), "p99_ms")
		b.ReportMetric(float64(len(lat))/(float64(deliveries)/polledRate), "gets/s")
		b.ReportMetric(quietRate, "deliveries/s_quiet")
		b.ReportMetric(polledRate, "deliveries/s_polled")
	}
}
