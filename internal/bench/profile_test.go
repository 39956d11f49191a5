package bench

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
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

// profileBuilder writes a minimal CPU profile the way runtime/pprof does.
type profileBuilder struct {
	buf     []byte
	strings []string
}

func (pb *profileBuilder) str(s string) uint64 {
	for i, x := range pb.strings {
		if x == s {
			return uint64(i)
		}
	}
	pb.strings = append(pb.strings, s)
	return uint64(len(pb.strings) - 1)
}

func msg(fields ...[]byte) []byte { return bytes.Join(fields, nil) }

func varintField(num protowire.Number, v uint64) []byte {
	b := protowire.AppendTag(nil, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func bytesField(num protowire.Number, v []byte) []byte {
	b := protowire.AppendTag(nil, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func packed(num protowire.Number, vs ...uint64) []byte {
	var p []byte
	for _, v := range vs {
		p = protowire.AppendVarint(p, v)
	}
	return bytesField(num, p)
}

func (pb *profileBuilder) add(fields ...[]byte) {
	for _, f := range fields {
		pb.buf = append(pb.buf, f...)
	}
}

func writeProfile(t *testing.T, data []byte) string {
	t.Helper()
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	_, err := zw.Write(data)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	path := filepath.Join(t.TempDir(), "cpu.prof")
	require.NoError(t, os.WriteFile(path, z.Bytes(), 0o644))
	return path
}

func TestBreakdownOfChargesEachSampleOnce(t *testing.T) {
	pb := &profileBuilder{strings: []string{""}}
	pb.add(
		bytesField(fProfileSampleType, msg(varintField(fValueTypeType, pb.str("samples")))),
		bytesField(fProfileSampleType, msg(varintField(fValueTypeType, pb.str("cpu")))),
	)
	funcs := []string{
		"runtime.gcBgMarkWorker",
		"github.com/zinc-edu/orchestrator/internal/store.(*Store).SaveResult",
		"github.com/zinc-edu/orchestrator/extensions/pipeline.(*Grader).Grade",
		"go.temporal.io/server/service/history.(*Handler).RecordActivityTaskStarted",
	}
	for i, f := range funcs {
		pb.add(bytesField(fProfileFunction, msg(varintField(fFunctionID, uint64(i+1)), varintField(fFunctionName, pb.str(f)))))
	}
	// Location 2 holds an inlined call: two lines, store inside Grade.
	pb.add(
		bytesField(fProfileLocation, msg(varintField(fLocationID, 1), bytesField(fLocationLine, varintField(fLineFunctionID, 1)))),
		bytesField(fProfileLocation, msg(varintField(fLocationID, 2),
			bytesField(fLocationLine, varintField(fLineFunctionID, 2)), bytesField(fLocationLine, varintField(fLineFunctionID, 3)))),
		bytesField(fProfileLocation, msg(varintField(fLocationID, 3), bytesField(fLocationLine, varintField(fLineFunctionID, 4)))),
	)
	ms := uint64(time.Millisecond)
	pb.add(
		// Unpacked ids and values, as runtime/pprof writes short lists.
		bytesField(fProfileSample, msg(varintField(fSampleLocationID, 1), varintField(fSampleValue, 1), varintField(fSampleValue, 10*ms))),
		bytesField(fProfileSample, msg(packed(fSampleLocationID, 2), packed(fSampleValue, 3, 30*ms))),
		bytesField(fProfileSample, msg(packed(fSampleLocationID, 3, 3, 3), packed(fSampleValue, 6, 60*ms))),
	)
	for _, s := range pb.strings {
		pb.add(bytesField(fProfileStringTable, []byte(s)))
	}

	b, err := BreakdownOf(writeProfile(t, pb.buf))
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

	notGzip := filepath.Join(t.TempDir(), "plain.prof")
	require.NoError(t, os.WriteFile(notGzip, []byte("not a profile"), 0o644))
	_, err = BreakdownOf(notGzip)
	assert.Error(t, err)

	_, err = BreakdownOf(writeProfile(t, []byte{0xff, 0xff, 0xff}))
	assert.ErrorIs(t, err, errMalformed)

	// A heap profile has no cpu values.
	pb := &profileBuilder{strings: []string{""}}
	pb.add(bytesField(fProfileSampleType, msg(varintField(fValueTypeType, pb.str("alloc_space")))))
	for _, s := range pb.strings {
		pb.add(bytesField(fProfileStringTable, []byte(s)))
	}
	_, err = BreakdownOf(writeProfile(t, pb.buf))
	assert.ErrorIs(t, err, errMalformed)
}
