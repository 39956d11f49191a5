package bench

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/archive"
	"github.com/zinc-edu/orchestrator/internal/definition"
)

func TestCourseConfigValidate(t *testing.T) {
	require.NoError(t, CourseConfig{Deliveries: 16, Tests: 10, Concurrency: 4}.Validate())
	err := CourseConfig{}.Validate()
	require.Error(t, err)
	for _, want := range []string{"deliveries 0", "tests 0", "concurrency 0"} {
		assert.Contains(t, err.Error(), want)
	}
}

// TestCourseConfigParsesWithItsTests: the config the orchestrator gets
// expands to one scenario per test file, in natural order.
func TestCourseConfigParsesWithItsTests(t *testing.T) {
	tests := courseTests(12)
	var names []string
	for _, f := range tests {
		names = append(names, f.Name)
	}
	var packed bytes.Buffer
	_, err := archive.Pack(&packed, tests, archive.Limits{})
	require.NoError(t, err)
	def, err := definition.ParseWithArchives([]byte(courseConfig), map[string][]string{"tests.tar.gz": names})
	require.NoError(t, err)
	require.Len(t, def.Stages, 2)
	sc := def.Stages[1].Scenarios
	require.Len(t, sc, 12)
	assert.Equal(t, "1", sc[0].Name)
	assert.Equal(t, "2", sc[1].Name)
	assert.Equal(t, "12", sc[11].Name)
}

// TestDirectGradeAppliesTheRule: the direct side compiles with the
// course's command, ignores the exit status (43) and applies the regex.
func TestDirectGradeAppliesTheRule(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles C programs")
	}
	tests := courseTests(4)
	want := map[int]float64{0: 4, 1: 0, 3: 0}
	for variant, score := range want {
		got, err := directGrade(t.Context(), courseProgram(variant), tests)
		require.NoError(t, err)
		assert.Equal(t, score, got, "variant %d", variant)
	}
	partial, err := directGrade(t.Context(), courseProgram(2), courseTests(10))
	require.NoError(t, err)
	assert.Greater(t, partial, 0.0)
	assert.Less(t, partial, 10.0)
}

func TestCourseReportMarkdown(t *testing.T) {
	r := CourseReport{
		Config:       CourseConfig{Deliveries: 16, Tests: 10, Concurrency: 4},
		Started:      time.Date(2026, 11, 30, 22, 0, 0, 0, time.UTC),
		Machine:      Machine{CPUs: 2, GOMAXPROCS: 2, GoVersion: "go1.26", LoadBefore: "1 2 3", LoadAfter: "4 5 6"},
		Direct:       CoursePhase{Wall: 4 * time.Second, CPU: time.Second, ChildCPU: 5 * time.Second, MachineCPU: 8 * time.Second, Graded: 16, ScoreSum: 70},
		Orchestrated: CoursePhase{Wall: 10 * time.Second, Graded: 16, ScoreSum: 70},
	}
	md := r.Markdown()
	assert.InDelta(t, 2.5, r.Ratio(), 1e-9)
	assert.Contains(t, md, "M = 16 deliveries × (1 compile + N = 10 tests), concurrency 4")
	assert.Contains(t, md, "| direct pool (os/exec, rule in Go) | 4.0 s | 6.0 s | 0.50 | 16 | 70 |")
	assert.Contains(t, md, "10.0 s / 4.0 s = **2.50** (target ≤ 2: not met)")
}
