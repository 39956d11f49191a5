package grading

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSummaryAddKeepsScoreStatisticsToGradedDeliveries(t *testing.T) {
	var s Summary
	s.Add(Outcome{User: "a", Status: StatusGraded, Score: 4, MaxScore: 10})
	s.Add(Outcome{User: "b", Status: StatusUngraded, Reason: "rubric: timeout"})
	s.Add(Outcome{User: "c", Status: StatusGraded, Score: 10, MaxScore: 10})
	s.Add(Outcome{User: "d", Status: StatusError, Reason: "missing files"})

	require.Equal(t, 4, s.Total)
	require.Equal(t, Counts{Graded: 2, Ungraded: 1, Error: 1}, s.Counts)
	require.Equal(t, 7.0, s.MeanScore, "an ungraded delivery is not a 0")
	require.Equal(t, 4.0, s.MinScore)
	require.Equal(t, 10.0, s.MaxScore)
	require.Equal(t, 2, s.Failed())
	require.Equal(t, []Failure{
		{User: "b", Status: StatusUngraded, Reason: "rubric: timeout"},
		{User: "d", Status: StatusError, Reason: "missing files"},
	}, s.Failures)
}

func TestSummaryMergeEqualsAddingEverything(t *testing.T) {
	var whole, left, right Summary
	for i := range 250 {
		o := Outcome{User: fmt.Sprint(i), Status: StatusGraded, Score: float64(i % 7), MaxScore: 6}
		if i%2 == 0 {
			o = Outcome{User: fmt.Sprint(i), Status: StatusError, Reason: "boom"}
		}
		whole.Add(o)
		if i < 100 {
			left.Add(o)
		} else {
			right.Add(o)
		}
	}
	left.Merge(right)
	require.Equal(t, whole.Total, left.Total)
	require.Equal(t, whole.Counts, left.Counts)
	require.InDelta(t, whole.MeanScore, left.MeanScore, 1e-9)
	require.Equal(t, whole.MinScore, left.MinScore)
	require.Equal(t, whole.MaxScore, left.MaxScore)
	require.Len(t, left.Failures, MaxListedFailures)
	require.Equal(t, whole.FailuresOmitted, left.FailuresOmitted)
}

func TestHistogramQuantiles(t *testing.T) {
	var h Histogram
	require.Zero(t, h.Quantile(0.5))
	for ms := int64(1); ms <= 100; ms++ {
		h.Observe(ms)
	}
	require.InDelta(t, 50, h.Quantile(0.5), 16, "p50 within its power-of-two bucket")
	require.InDelta(t, 95, h.Quantile(0.95), 32)
	var a, b Histogram
	a.Observe(3)
	b.Observe(3000)
	a.Merge(b)
	require.Equal(t, int64(2), a.N)
	require.Greater(t, a.Quantile(1), 2048.0)
}
