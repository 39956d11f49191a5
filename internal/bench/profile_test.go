package bench

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		give []string
		want string
	}{
		{[]string{"runtime.scanobject", "runtime.gcBgMarkWorker"}, CompGC},
		{[]string{"modernc.org/sqlite/lib._sqlite3VdbeExec", "github.com/zinc-edu/orchestrator/internal/store.(*Store).SaveResult",
			"github.com/zinc-edu/orchestrator/extensions/pipeline.(*Grader).save"}, CompGradeStore},
		{[]string{"os.Mkdir", "gocloud.dev/blob/fileblob.(*bucket).NewTypedWriter", "github.com/zinc-edu/orchestrator/extensions/pipeline.(*Grader).save"}, CompGradeBucket},
		{[]string{"github.com/zinc-edu/orchestrator/internal/archive.Unpack", "github.com/zinc-edu/orchestrator/extensions/pipeline.(*Grader).run"}, CompGradeBucket},
		{[]string{"os.MkdirTemp", "github.com/zinc-edu/orchestrator/extensions/pipeline.(*Grader).run"}, CompGradeOther},
		{[]string{"modernc.org/sqlite/lib._sqlite3Step", "go.temporal.io/server/service/history.(*historyEngineImpl).RespondActivityTaskCompleted"}, CompServerPersist},
		{[]string{"go.temporal.io/server/common/persistence.(*executionManagerImpl).UpdateWorkflowExecution"}, CompServerPersist},
		{[]string{"go.temporal.io/server/service/history/workflow.(*MutableStateImpl).AddActivityTaskCompletedEvent"}, CompServerHistory},
		{[]string{"go.temporal.io/server/service/matching.(*matchingEngineImpl).PollActivityTaskQueue"}, CompServerOther},
		{[]string{"google.golang.org/grpc.(*Server).handleStream", "go.temporal.io/server/service/frontend.(*WorkflowHandler).PollActivityTaskQueue"}, CompServerOther},
		{[]string{"go.temporal.io/sdk/internal.(*workflowExecutionEventHandlerImpl).ProcessEvent"}, CompSDK},
		{[]string{"google.golang.org/grpc/internal/transport.(*http2Client).reader"}, CompTransport},
		{[]string{"runtime.futex", "runtime.findRunnable"}, CompOther},
		{nil, CompOther},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			assert.Equal(t, tt.want, classify(tt.give))
		})
	}
}

// writeProfile writes p as runtime/pprof does (gzipped profile.proto).
func writeProfile(t *testing.T, p *profile.Profile) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cpu.prof")
	f, err := os.Create(path)
	require.NoError(t, err)
	require.NoError(t, p.Write(f))
	require.NoError(t, f.Close())
	return path
}

func TestBreakdownOfChargesEachSampleOnce(t *testing.T) {
	var funcs []*profile.Function
	for i, name := range []string{
		"runtime.gcBgMarkWorker",
		"github.com/zinc-edu/orchestrator/internal/store.(*Store).SaveResult",
		"github.com/zinc-edu/orchestrator/extensions/pipeline.(*Grader).Grade",
		"go.temporal.io/server/service/history.(*Handler).RecordActivityTaskStarted",
	} {
		funcs = append(funcs, &profile.Function{ID: uint64(i + 1), Name: name})
	}
	locs := []*profile.Location{
		{ID: 1, Line: []profile.Line{{Function: funcs[0]}}},
		// An inlined call: two lines, store inside Grade.
		{ID: 2, Line: []profile.Line{{Function: funcs[1]}, {Function: funcs[2]}}},
		{ID: 3, Line: []profile.Line{{Function: funcs[3]}}},
	}
	ms := int64(time.Millisecond)
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		Sample: []*profile.Sample{
			{Location: locs[0:1], Value: []int64{1, 10 * ms}},
			{Location: locs[1:2], Value: []int64{3, 30 * ms}},
			{Location: []*profile.Location{locs[2], locs[2], locs[2]}, Value: []int64{6, 60 * ms}},
		},
		Location: locs,
		Function: funcs,
	}

	b, err := BreakdownOf(writeProfile(t, p))
	require.NoError(t, err)
	assert.Equal(t, 100*time.Millisecond, b.Total)
	assert.Equal(t, map[string]time.Duration{
		CompGC:            10 * time.Millisecond,
		CompGradeStore:    30 * time.Millisecond,
		CompServerHistory: 60 * time.Millisecond,
	}, b.By)
	assert.InDelta(t, 0.6, b.Share(CompServerHistory), 1e-9)
	assert.Equal(t, 0.0, b.Share(CompSDK))
}

func TestBreakdownOfRejectsBadFiles(t *testing.T) {
	_, err := BreakdownOf(filepath.Join(t.TempDir(), "missing.prof"))
	assert.Error(t, err)

	notProfile := filepath.Join(t.TempDir(), "plain.prof")
	require.NoError(t, os.WriteFile(notProfile, []byte("not a profile"), 0o644))
	_, err = BreakdownOf(notProfile)
	assert.ErrorIs(t, err, errMalformed)

	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	_, err = zw.Write([]byte{0xff, 0xff, 0xff})
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	garbage := filepath.Join(t.TempDir(), "garbage.prof")
	require.NoError(t, os.WriteFile(garbage, z.Bytes(), 0o644))
	_, err = BreakdownOf(garbage)
	assert.ErrorIs(t, err, errMalformed)

	// A heap profile has no cpu values.
	heap := &profile.Profile{SampleType: []*profile.ValueType{{Type: "alloc_space", Unit: "bytes"}}}
	_, err = BreakdownOf(writeProfile(t, heap))
	assert.ErrorIs(t, err, errMalformed)
}
