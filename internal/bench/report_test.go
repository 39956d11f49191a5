package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseInts(t *testing.T) {
	tests := []struct {
		give string
		want []int
	}{
		{give: "2000,10000", want: []int{2000, 10000}},
		{give: " 1 , 50 ", want: []int{1, 50}},
		{give: "40,", want: []int{40}},
		{give: "", want: nil},
		{give: " , ", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			got, err := ParseInts(tt.give)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseIntsRejectsBadLists(t *testing.T) {
	for _, give := range []string{"0", "x", "1,-2", "1.5"} {
		t.Run(give, func(t *testing.T) {
			_, err := ParseInts(give)
			assert.Error(t, err)
		})
	}
}

func TestPhaseArithmetic(t *testing.T) {
	tests := []struct {
		name         string
		give         Phase
		wantMode     string
		wantRate     float64
		wantCores    float64
		wantActs     int
		wantInFlight int
	}{
		{
			name:     "pool",
			give:     Phase{N: 2000, Concurrency: 100, Wall: 4 * time.Second, CPU: 6 * time.Second},
			wantMode: "plain pool", wantRate: 500, wantCores: 1.5, wantActs: 0, wantInFlight: 100,
		},
		{
			name:     "one per activity",
			give:     Phase{N: 2000, Chunk: 1, Concurrency: 100, Wall: 10 * time.Second, CPU: 15 * time.Second, ChildCPU: 5 * time.Second},
			wantMode: "Temporal, 1 per activity", wantRate: 200, wantCores: 2, wantActs: 2000, wantInFlight: 100,
		},
		{
			name:     "chunks fewer than the window",
			give:     Phase{N: 2001, Chunk: 50, Concurrency: 100, Wall: 3 * time.Second},
			wantMode: "Temporal, 50 per activity", wantRate: 667, wantCores: 0, wantActs: 41, wantInFlight: 41,
		},
		{
			name:     "no wall time",
			give:     Phase{N: 10, Chunk: 1, Concurrency: 100},
			wantMode: "Temporal, 1 per activity", wantRate: 0, wantCores: 0, wantActs: 10, wantInFlight: 10,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.wantMode, tt.give.Mode())
			assert.InDelta(t, tt.wantRate, tt.give.Rate(), 0.5)
			assert.InDelta(t, tt.wantCores, tt.give.Cores(), 0.001)
			assert.Equal(t, tt.wantActs, tt.give.Activities())
			assert.Equal(t, tt.wantInFlight, tt.give.InFlight())
		})
	}
}

func TestOthersCores(t *testing.T) {
	p := Phase{Wall: 10 * time.Second, CPU: 8 * time.Second, ChildCPU: 2 * time.Second, MachineCPU: 15 * time.Second}
	assert.InDelta(t, 0.5, p.OthersCores(), 1e-9)
	p.MachineCPU = 9 * time.Second // sampling skew: never negative
	assert.Equal(t, 0.0, p.OthersCores())
	p.MachineCPU = 0 // unknown
	assert.Equal(t, 0.0, p.OthersCores())
}

func TestParseBusyCountsAllButIdleAndIOWait(t *testing.T) {
	stat := "cpu  100 10 50 1000 40 5 5 2 7 0\ncpu0 50 5 25 500 20 2 3 1 0 0\n"
	// user+nice+system+irq+softirq+steal = 172 ticks of 10 ms.
	assert.Equal(t, 1720*time.Millisecond, parseBusy([]byte(stat)))
	assert.Equal(t, time.Duration(0), parseBusy([]byte("intr 1 2 3\n")))
	assert.Equal(t, time.Duration(0), parseBusy([]byte("cpu 1 x 3 4 5\n")))
}

func TestRatioOfZeroIsZero(t *testing.T) {
	assert.Equal(t, 0.0, Ratio(3, 0))
	assert.Equal(t, 0.5, Ratio(1, 2))
}

func TestHistoryAddSumsRunsAndKeepsMaxima(t *testing.T) {
	var h History
	h.Add(4200, 1<<20)
	h.Add(900, 3<<20)
	assert.Equal(t, History{Runs: 2, Events: 5100, MaxEvents: 4200, Bytes: 4 << 20, MaxBytes: 3 << 20}, h)
}

func TestHistoryVerdict(t *testing.T) {
	tests := []struct {
		give History
		want string
	}{
		{give: History{MaxEvents: 4096, MaxBytes: 1 << 20}, want: "within the continue-as-new suggestion"},
		{give: History{MaxEvents: 4400}, want: "past the continue-as-new suggestion, below warning"},
		{give: History{MaxEvents: 100, MaxBytes: 5 << 20}, want: "past the continue-as-new suggestion, below warning"},
		{give: History{MaxEvents: 10240}, want: "over the warning threshold"},
		{give: History{MaxBytes: 11 << 20}, want: "over the warning threshold"},
		{give: History{MaxEvents: 51200}, want: "over the hard limit"},
		{give: History{MaxBytes: 50 << 20}, want: "over the hard limit"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.give.Verdict())
		})
	}
}

func TestGroup(t *testing.T) {
	tests := []struct {
		give int
		want string
	}{
		{0, "0"}, {999, "999"}, {1000, "1,000"}, {51200, "51,200"}, {1234567, "1,234,567"}, {-1234, "-1,234"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, group(tt.give))
	}
}

func sampleReport() Report {
	return Report{
		Machine:     Machine{CPUs: 2, GOMAXPROCS: 2, GoVersion: "go1.26.8", LoadBefore: "1.00 2.00 3.00", LoadAfter: "1.50 2.00 3.00"},
		Store:       "sqlite",
		Concurrency: 100,
		Started:     time.Date(2026, 11, 22, 4, 0, 0, 0, time.UTC),
		Took:        90 * time.Second,
		Idle:        Memory{PeakRSS: 200 << 20, PeakGo: 100 << 20},
		Noop: []Phase{
			{N: 2000, Concurrency: 100, Wall: 2 * time.Second, CPU: 3 * time.Second, MachineCPU: 4 * time.Second, Graded: 2000,
				Memory: Memory{PeakRSS: 300 << 20, PeakGo: 150 << 20, PeakHeap: 60 << 20, MaxRSS: 310 << 20}, Profile: "bench/pool.prof"},
			{N: 2000, Chunk: 1, Concurrency: 100, Wall: 8 * time.Second, CPU: 12 * time.Second, Graded: 2000,
				History: &History{Runs: 2, Events: 8000, MaxEvents: 4400, Bytes: 2 << 20, MaxBytes: 1 << 20},
				CPUBy: &Breakdown{Total: 10 * time.Second, By: map[string]time.Duration{
					CompGradeStore: 5 * time.Second, CompServerPersist: 4 * time.Second, CompSDK: time.Second,
				}}},
			{N: 2000, Chunk: 50, Concurrency: 100, Wall: 4 * time.Second, Graded: 2000,
				History: &History{Runs: 1, Events: 230, MaxEvents: 230, MaxBytes: 600 << 10}},
		},
		Realistic: []Phase{
			{Round: 1, N: 40, Concurrency: 100, Wall: 50 * time.Second, CPU: 5 * time.Second, ChildCPU: 35 * time.Second,
				MachineCPU: 60 * time.Second, Graded: 40},
			{Round: 1, N: 40, Chunk: 1, Concurrency: 100, Wall: 52 * time.Second, CPU: 6 * time.Second, ChildCPU: 35 * time.Second,
				Graded: 40, Mismatches: 1, History: &History{Runs: 1, Events: 130, MaxEvents: 130}},
			{Round: 2, N: 40, Chunk: 1, Concurrency: 100, Wall: 51 * time.Second, CPU: 6 * time.Second, ChildCPU: 35 * time.Second, Graded: 40},
			{Round: 2, N: 40, Concurrency: 100, Wall: 50 * time.Second, CPU: 5 * time.Second, ChildCPU: 35 * time.Second, Graded: 40},
		},
	}
}

func TestMarkdownHasOneRowPerPhaseWithRatios(t *testing.T) {
	md := sampleReport().Markdown()

	assert.Contains(t, md, "Machine: 2 CPUs (GOMAXPROCS 2), go1.26.8; load average 1.00 2.00 3.00 before, 1.50 2.00 3.00 after. Store: sqlite. Concurrency: 100. Idle stack (server, NATS, workers, store): RSS 200 MiB, Go runtime 100 MiB.")
	assert.Contains(t, md, "| 2,000 | plain pool | 100 | – | 2.0 s | 1000 | 1 | 1.50 | 0.50 | 2,000 | 0 |")
	assert.Contains(t, md, "| 2,000 | Temporal, 1 per activity | 100 | 2,000 | 8.0 s | 250 | 0.25 | 1.50 | 0.00 | 2,000 | 0 |")
	assert.Contains(t, md, "| 2,000 | Temporal, 50 per activity | 40 | 40 | 4.0 s | 500 | 0.50 | 0.00 | 0.00 | 2,000 | 0 |")
	assert.Contains(t, md, "| 2,000 | Temporal, 1 per activity | 2 | 8,000 | 4,400 (9% of 51,200) | 1.00 MiB | past the continue-as-new suggestion, below warning |")
	assert.Contains(t, md, "| 2,000 | plain pool | – | – | – | – | – | 300 MiB | 150 MiB | 60 MiB | 310 MiB |")
	assert.Contains(t, md, "Target 300 deliveries/s through Temporal: N = 2,000: best 500/s (Temporal, 50 per activity) — reached.")
	assert.Contains(t, md, "| 1 | 40 | plain pool | 40 | 50.0 s | 0.80 | 40.0 s | 0.80 | 0.40 | 40 | – |")
	assert.Contains(t, md, "| 1 | 40 | Temporal, 1 per activity | 40 | 52.0 s | 0.77 | 41.0 s | 0.79 | 0.00 | 40 | 1 |")
	assert.Contains(t, md, "| 2 | 40 | Temporal, 1 per activity | 40 | 51.0 s | 0.78 | 41.0 s | 0.80 | 0.00 | 40 | 0 |")
	assert.Contains(t, md, "all rounds: 103.0 s / 100.0 s = 1.030 (target ≤ 1.05: met). "+
		"CPU time, which depends far less on the rest of the machine: 82.0 s / 80.0 s = 1.025.")
	assert.Contains(t, md, "| N | mode | CPU | CPU per delivery | grading: store | grading: bucket + archive |")
	assert.Contains(t, md, "| 2,000 | Temporal, 1 per activity | 10.0 s | 5.00 ms | 50% | 0% | 0% | 40% | 0% | 0% | 10% | 0% | 0% | 0% |")
	assert.Contains(t, md, "CPU profiles: `bench/pool.prof`.")
	assert.Equal(t, 5, strings.Count(md, "| 2,000 | Temporal"), "two Temporal rows in each no-op table, one profiled")
}

func TestMarkdownSaysWhenTheTargetIsMissed(t *testing.T) {
	r := sampleReport()
	r.Noop = r.Noop[:2]
	assert.Contains(t, r.Markdown(), "N = 2,000: best 250/s (Temporal, 1 per activity) — not reached.")
}

func TestMarkdownSaysWhenTheRealisticTargetIsMissed(t *testing.T) {
	r := sampleReport()
	r.Realistic[1].Wall = 60 * time.Second
	assert.Contains(t, r.Markdown(), "all rounds: 111.0 s / 100.0 s = 1.110 (target ≤ 1.05: missed).")
}

func TestReplaceSectionKeepsTheRestOfTheDocument(t *testing.T) {
	doc := "# Title\n\nprose\n" + BeginMarker + "\nold figures\n" + EndMarker + "\nmore prose\n"
	got, err := ReplaceSection(doc, "new figures\n\n")
	require.NoError(t, err)
	assert.Equal(t, "# Title\n\nprose\n"+BeginMarker+"\nnew figures\n"+EndMarker+"\nmore prose\n", got)
}

func TestReplaceSectionNeedsBothMarkersInOrder(t *testing.T) {
	for name, doc := range map[string]string{
		"none":     "# Title\n",
		"no end":   BeginMarker + "\n",
		"reversed": EndMarker + "\n" + BeginMarker + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ReplaceSection(doc, "x")
			assert.ErrorIs(t, err, ErrNoMarkers)
		})
	}
}

func TestWriteSectionCreatesThenReplaces(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bench", "report.md")
	require.NoError(t, WriteSection(path, "first"))
	require.NoError(t, WriteSection(path, "second"))
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, BeginMarker+"\nsecond\n"+EndMarker+"\n", string(got))
}

func TestWriteSectionLeavesAFileWithoutMarkersAlone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	require.NoError(t, os.WriteFile(path, []byte("hand-written\n"), 0o644))
	err := WriteSection(path, "figures")
	require.ErrorIs(t, err, ErrNoMarkers)
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "hand-written\n", string(got))
}
