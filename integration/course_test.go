package integration

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/archive"
	"github.com/zinc-edu/orchestrator/internal/batches"
	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/harness"
)

// courseConfig is what an instructor writes for an assignment whose tests
// are files: the course's own compile command, a regex rule and a batch
// checker, scenarios generated from the archive's folder of tests.
const courseConfig = `version: 2
files: [{name: tests.tar.gz, source: upload}]
stages:
  - {name: build, kind: compile, command: [cc, main.c, -o, main, -lm]}
  - name: blackbox
    command: [./main]
    timeout: 2
    exit_status: ignore
    compare: {regex: "^sum = {expected}$"}
    scenarios_from: &tests {glob: "tests/blackbox/*.in", expected: "{dir}/{stem}.out", points: 1}
  - {name: judged, depends_on: [build], kind: checker, command: [./main], timeout: 2, exit_status: ignore,
     checker: {command: [python3, tests/check.py], files: [tests/check.py], protocol: batch}, scenarios_from: *tests}
`

// courseChecker accepts an output whose last token is the expected sum.
const courseChecker = `import json, sys
for line in sys.stdin:
    c = json.loads(line)
    got = c["actual"].split()
    print(json.dumps({"scenario": c["scenario"], "pass": bool(got) and got[-1] == c["expected"].strip()}))
`

// courseProgram returns 43, as the course's reference harness allows; the
// slow variant never ends on its largest test.
func courseProgram(op, spinOn string) string {
	return `#include <stdio.h>
int main(void) { long a, b; if (scanf("%ld %ld", &a, &b) != 2) return 2;
  while (a == ` + spinOn + `) {}
  printf("sum = %ld\n", a ` + op + ` b); return 43; }
`
}

func TestCourseAssignmentGradesThroughTemporal(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles and runs C programs")
	}
	st := startStack(t, "", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	var tests bytes.Buffer
	_, err := archive.Pack(&tests, []archive.File{
		{Name: "tests/blackbox/1.in", Data: []byte("1 2\n")}, {Name: "tests/blackbox/1.out", Data: []byte("3\n")},
		{Name: "tests/blackbox/2.in", Data: []byte("2 2\n")}, {Name: "tests/blackbox/2.out", Data: []byte("4\n")},
		{Name: "tests/blackbox/10.in", Data: []byte("50 50\n")}, {Name: "tests/blackbox/10.out", Data: []byte("100\n")},
		{Name: "tests/check.py", Data: []byte(courseChecker)},
	}, archive.Limits{})
	require.NoError(t, err)
	seeded, err := st.SeedWithAssets(ctx, courseConfig, map[string][]byte{"tests.tar.gz": tests.Bytes()}, []harness.Delivery{
		{User: "right", Files: map[string][]byte{"main.c": []byte(courseProgram("+", "-1"))}},
		{User: "wrong", Files: map[string][]byte{"main.c": []byte(courseProgram("-", "-1"))}},
		{User: "slow", Files: map[string][]byte{"main.c": []byte(courseProgram("+", "50"))}},
		{User: "broken", Files: map[string][]byte{"main.c": []byte("int main(void) { return }")}},
	})
	require.NoError(t, err)

	b, err := st.Batches.Start(ctx, batches.StartRequest{CollectionID: seeded.CollectionID, ConfigID: seeded.ConfigID, Concurrency: 4})
	require.NoError(t, err)
	res, err := st.Wait(ctx, b)
	require.NoError(t, err)
	require.Equal(t, grading.BatchCompleted, res.Status)

	view, err := st.Batches.Get(ctx, b.ID)
	require.NoError(t, err)
	assert.Equal(t, grading.BatchCompleted, view.Status)
	assert.Positive(t, view.Progress.PerSecond, "a completed batch keeps its final rate")
	assert.Positive(t, view.Progress.DurationP50MS, "and its percentiles")

	rows, err := st.Store.BatchResults(ctx, b.ID)
	require.NoError(t, err)
	got := map[string]grading.Result{}
	for _, r := range rows {
		got[r.User] = r
	}
	want := map[string]float64{"right": 6, "wrong": 0, "slow": 4, "broken": 0}
	for user, score := range want {
		r := got[user]
		assert.Equal(t, grading.StatusGraded, r.Status, "%s: %s", user, r.Diagnostic)
		assert.Equal(t, score, r.Score, user)
		assert.Equal(t, 6.0, r.MaxScore, user)
	}
	steps := map[string]grading.Step{}
	for _, s := range got["slow"].Steps {
		steps[s.Stage+"/"+s.Scenario] = s
	}
	assert.True(t, steps["blackbox/10"].TimedOut, "the timeout fails only its scenario")
	assert.Equal(t, []string{"cc", "main.c", "-o", "main", "-lm"}, steps["build/"].Command)
	assert.Equal(t, grading.StepSuccess, steps["judged/2"].State)
}
