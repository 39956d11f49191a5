package grading

import "math/bits"

// histogramBuckets is the number of power-of-two millisecond buckets: the
// last one holds everything from 2^(n-2) ms (about 35 minutes) up.
const histogramBuckets = 24

// Histogram counts durations in power-of-two millisecond buckets. It has a
// fixed small size so a batch can carry it through continue-as-new, and
// every operation is deterministic, so workflows may use it.
type Histogram struct {
	Counts [histogramBuckets]int64 `json:"counts"`
	N      int64                   `json:"n"`
}

// Observe adds one duration in milliseconds.
func (h *Histogram) Observe(ms int64) {
	h.Counts[bucketOf(ms)]++
	h.N++
}

// Quantile estimates the q-quantile (0 < q ≤ 1) in milliseconds, linearly
// interpolated inside its bucket; 0 when nothing was observed.
func (h *Histogram) Quantile(q float64) float64 {
	if h.N == 0 {
		return 0
	}
	rank := q * float64(h.N)
	var seen float64
	for i, c := range h.Counts {
		if c == 0 {
			continue
		}
		if seen+float64(c) >= rank {
			lo, hi := bucketBounds(i)
			return lo + (hi-lo)*(rank-seen)/float64(c)
		}
		seen += float64(c)
	}
	_, hi := bucketBounds(histogramBuckets - 1)
	return hi
}

// bucketOf maps 0 ms to bucket 0, [2^(i-1), 2^i) ms to bucket i.
func bucketOf(ms int64) int {
	if ms <= 0 {
		return 0
	}
	return min(bits.Len64(uint64(ms)), histogramBuckets-1)
}

func bucketBounds(i int) (lo, hi float64) {
	if i == 0 {
		return 0, 1
	}
	return float64(uint64(1) << (i - 1)), float64(uint64(1) << i)
}

// Merge adds another histogram's observations to h.
func (h *Histogram) Merge(o Histogram) {
	for i, c := range o.Counts {
		h.Counts[i] += c
	}
	h.N += o.N
}
