package store_test

import (
	"fmt"
	"testing"

	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/store/storetest"
)

// BenchmarkSaveResults measures SaveResults on SQLite in batches of 500
// rows, each a realistic result with steps, and reports rows/s. Every
// iteration after the first overwrites the same rows, the retry path.
func BenchmarkSaveResults(b *testing.B) {
	const rows = 500
	s := storetest.Open(b)
	ctx := b.Context()
	c, err := s.CreateCollection(ctx, grading.Collection{Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	cfg, err := s.CreateConfig(ctx, grading.Config{Name: "bench", Source: "version: 1\n"})
	if err != nil {
		b.Fatal(err)
	}
	exit0 := 0
	results := make([]grading.Result, rows)
	for i := range results {
		d, err := s.CreateDelivery(ctx, grading.Delivery{CollectionID: c.ID, User: fmt.Sprintf("user%04d", i)})
		if err != nil {
			b.Fatal(err)
		}
		results[i] = grading.Result{
			DeliveryID: d.ID, ConfigID: cfg.ID, Status: grading.StatusGraded, Score: 8, MaxScore: 10,
			Steps: []grading.Step{
				{Stage: "compile", State: grading.StepSuccess, ExitCode: &exit0, DurationMS: 310},
				{Stage: "run", State: grading.StepSuccess, ExitCode: &exit0, DurationMS: 12, Points: 8, MaxPoints: 10},
			},
		}
	}

	saved := 0
	for b.Loop() {
		if err := s.SaveResults(ctx, results); err != nil {
			b.Fatal(err)
		}
		saved += rows
	}
	b.ReportMetric(float64(saved)/b.Elapsed().Seconds(), "rows/s")
}
