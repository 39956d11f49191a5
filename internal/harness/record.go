package harness

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/zinc-edu/orchestrator/internal/batches"
	"github.com/zinc-edu/orchestrator/internal/grading"
)

// Scenario is one batch whose histories are recorded for replay tests.
type Scenario struct {
	Name          string
	Deliveries    int
	Failing       []int // indexes of deliveries graded ungraded the first time
	Concurrency   int
	ChunkSize     int
	PartitionSize int
}

// Scenarios are the batches the replay tests keep histories of: failures,
// chunking, and enough deliveries to continue as new on a server that
// suggests it early.
var Scenarios = []Scenario{
	{Name: "small", Deliveries: 5, Failing: []int{3}, Concurrency: 2},
	{Name: "chunked", Deliveries: 7, Concurrency: 2, ChunkSize: 3},
	{Name: "continue-as-new", Deliveries: 60, Concurrency: 5},
	{Name: "partitioned", Deliveries: 7, Concurrency: 2, PartitionSize: 3},
}

// RecordHistories runs every scenario on st (whose runner must be a
// NoopEngine) and writes the history of each run of each batch as
// <dir>/<scenario>-<tag>-run<k>.json, the format replay tests read.
func RecordHistories(ctx context.Context, st *Stack, dir, tag string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create history directory: %w", err)
	}
	var files []string
	for _, sc := range Scenarios {
		ds := make([]Delivery, sc.Deliveries)
		failing := map[int]bool{}
		for _, i := range sc.Failing {
			failing[i] = true
		}
		for i := range ds {
			files := map[string][]byte{"main.c": []byte("int main(){}")}
			if failing[i] {
				files["fail-once"] = []byte(fmt.Sprintf("%s-%s-%d", sc.Name, tag, i))
			}
			ds[i] = Delivery{User: fmt.Sprintf("user%03d", i), Files: files}
		}
		seeded, err := st.Seed(ctx, "version: 1\nname: noop\nstages:\n  - name: noop\n    command: [\"true\"]\n    points: 1\n", ds)
		if err != nil {
			return nil, err
		}
		b, err := st.Batches.Start(ctx, batches.StartRequest{
			CollectionID: seeded.CollectionID, ConfigID: seeded.ConfigID,
			Concurrency: sc.Concurrency, ChunkSize: sc.ChunkSize, PartitionSize: sc.PartitionSize,
		})
		if err != nil {
			return nil, err
		}
		if _, err := st.Wait(ctx, b); err != nil {
			return nil, fmt.Errorf("run scenario %s: %w", sc.Name, err)
		}
		written, err := st.writeRuns(ctx, b, filepath.Join(dir, sc.Name+"-"+tag))
		if err != nil {
			return nil, err
		}
		files = append(files, written...)
	}
	return files, nil
}

// writeRuns follows the batch's continue-as-new chain and writes each run.
func (st *Stack) writeRuns(ctx context.Context, b grading.Batch, prefix string) ([]string, error) {
	var files []string
	for k, run := 1, b.RunID; run != ""; k++ {
		var (
			h    historypb.History
			next string
		)
		it := st.Client.GetWorkflowHistory(ctx, b.WorkflowID, run, false, 0)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				return nil, fmt.Errorf("read history of %s: %w", b.WorkflowID, err)
			}
			h.Events = append(h.Events, ev)
			if a := ev.GetWorkflowExecutionContinuedAsNewEventAttributes(); a != nil {
				next = a.GetNewExecutionRunId()
			}
		}
		data, err := protojson.MarshalOptions{Multiline: true, Indent: " "}.Marshal(&h)
		if err != nil {
			return nil, fmt.Errorf("encode history: %w", err)
		}
		name := fmt.Sprintf("%s-run%d.json", prefix, k)
		if err := os.WriteFile(name, data, 0o644); err != nil {
			return nil, fmt.Errorf("write history: %w", err)
		}
		files = append(files, name)
		run = next
	}
	return files, nil
}
