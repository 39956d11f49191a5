// Package batches is ZINC core's batch service: it starts, reads and steers
// grading batches (BatchGradingWorkflow executions) and, as the core
// activity, records their outcome. The HTTP API is its transport.
package batches

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/temporal"
	"github.com/zinc-edu/orchestrator/workflows"
)

// ErrInvalid reports a request that can never succeed as written.
var ErrInvalid = errors.New("invalid request")

// Store is the part of ZINC's store the service uses.
type Store interface {
	CreateBatch(ctx context.Context, b grading.Batch) (grading.Batch, error)
	DeleteBatch(ctx context.Context, id string) error
	SetBatchRun(ctx context.Context, id, runID string) error
	Batch(ctx context.Context, id string) (grading.Batch, error)
	RecordBatchOutcome(ctx context.Context, id string, status grading.BatchStatus, summary grading.Summary) error
	BatchResults(ctx context.Context, batchID string) ([]grading.Result, error)
	BatchProgress(ctx context.Context, batchID string) (json.RawMessage, time.Time, error)
	SetBatchProgress(ctx context.Context, batchID string, progress json.RawMessage) error
	Collection(ctx context.Context, id string) (grading.Collection, error)
	Config(ctx context.Context, id string) (grading.Config, error)
	CountLatestDeliveries(ctx context.Context, collectionID string) (int, error)
	CountAllDeliveries(ctx context.Context, collectionID string) (int, error)
}

// Service starts and steers batches.
type Service struct {
	store  Store
	client *temporal.Client
	log    *slog.Logger
}

// NewService returns a batch service.
func NewService(s Store, c *temporal.Client, log *slog.Logger) *Service {
	return &Service{store: s, client: c, log: log}
}

// StartRequest asks for a new batch.
type StartRequest struct {
	CollectionID string `json:"collection_id"`
	ConfigID     string `json:"config_id"`
	Concurrency  int    `json:"concurrency,omitempty"`
	ChunkSize    int    `json:"chunk_size,omitempty"`
	// Lane picks a pipeline task-queue suffix such as "pipeline-exam".
	Lane string `json:"lane,omitempty"`
	// RegradeOf grades only the deliveries that batch failed.
	RegradeOf string `json:"regrade_of,omitempty"`
	// PartitionSize > 0 grades the batch as child workflows of that many
	// deliveries each (for very large batches).
	PartitionSize int `json:"partition_size,omitempty"`
	// Deliveries is "latest" (the default: each user's newest delivery) or
	// "all" (every delivery of every user, each with its own result).
	Deliveries string `json:"deliveries,omitempty"`
}

// Start validates the request, records the batch and starts its workflow.
// A running batch for the same collection and config is a conflict.
func (s *Service) Start(ctx context.Context, req StartRequest) (grading.Batch, error) {
	if req.Lane != "" && !slices.Contains(workflows.PipelineQueues, req.Lane) {
		return grading.Batch{}, fmt.Errorf("start batch: %w: lane %q: want one of %v", ErrInvalid, req.Lane, workflows.PipelineQueues)
	}
	if err := s.checkRegradeOf(ctx, req); err != nil {
		return grading.Batch{}, fmt.Errorf("start batch: %w", err)
	}
	in := workflows.BatchGradingInput{
		CollectionID:  req.CollectionID,
		ConfigID:      req.ConfigID,
		Deliveries:    req.Deliveries,
		Concurrency:   req.Concurrency,
		ChunkSize:     req.ChunkSize,
		RegradeOf:     req.RegradeOf,
		PartitionSize: req.PartitionSize,
		Queues:        workflows.QueuesFor(s.client.FormatTaskQueue, req.Lane),
	}
	if err := in.Validate(); err != nil {
		return grading.Batch{}, fmt.Errorf("start batch: %w: %w", ErrInvalid, err)
	}
	// The row comes first: results reference it as soon as grading starts.
	wid := workflows.BatchWorkflowID(req.CollectionID, req.ConfigID)
	b, err := s.store.CreateBatch(ctx, grading.Batch{
		WorkflowID: wid, CollectionID: req.CollectionID, ConfigID: req.ConfigID, Status: grading.BatchRunning,
		RegradeOf: req.RegradeOf, Deliveries: req.Deliveries,
	})
	if err != nil {
		return grading.Batch{}, fmt.Errorf("start batch: %w", err)
	}
	in.BatchID = b.ID
	summary, err := s.staticSummary(ctx, req)
	if err != nil {
		if delErr := s.store.DeleteBatch(ctx, b.ID); delErr != nil {
			s.log.ErrorContext(ctx, "unstarted batch not deleted", "batch_id", b.ID, "err", delErr)
		}
		return grading.Batch{}, fmt.Errorf("start batch: %w", err)
	}

	s.startingProgress(ctx, b.ID, in)

	run, err := s.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       wid,
		StaticSummary:            summary,
		TaskQueue:                s.client.FormatTaskQueue(workflows.CoreTaskQueue),
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		// Without it the SDK hands back the running batch as if it were new.
		WorkflowExecutionErrorWhenAlreadyStarted: true,
	}, workflows.BatchGradingName, in)
	if err != nil {
		if delErr := s.store.DeleteBatch(ctx, b.ID); delErr != nil {
			s.log.ErrorContext(ctx, "unstarted batch not deleted", "batch_id", b.ID, "err", delErr)
		}
		var started *serviceerror.WorkflowExecutionAlreadyStarted
		if errors.As(err, &started) {
			return grading.Batch{}, fmt.Errorf("start batch: a batch of config %s over collection %s is already running (workflow %s): %w",
				req.ConfigID, req.CollectionID, wid, grading.ErrConflict)
		}
		return grading.Batch{}, unavailable(fmt.Errorf("start batch workflow: %w", err))
	}
	b.RunID = run.GetRunID()
	if err := s.store.SetBatchRun(ctx, b.ID, b.RunID); err != nil {
		s.log.WarnContext(ctx, "batch run id not recorded", "batch_id", b.ID, "err", err)
	}
	return b, nil
}

// checkRegradeOf refuses a regrade of a batch of another collection or
// config: the new batch grades that batch's failed deliveries, and its
// results are listed with that batch's.
func (s *Service) checkRegradeOf(ctx context.Context, req StartRequest) error {
	if req.RegradeOf == "" {
		return nil
	}
	b, err := s.store.Batch(ctx, req.RegradeOf)
	if err != nil {
		return fmt.Errorf("regrade_of: %w", err)
	}
	if b.CollectionID != req.CollectionID || b.ConfigID != req.ConfigID {
		return fmt.Errorf("%w: regrade_of %s is a batch of another collection or config", ErrInvalid, req.RegradeOf)
	}
	return nil
}

// RegradeFailed starts a new batch grading again, on the regrade lane, the
// deliveries a finished batch did not grade.
func (s *Service) RegradeFailed(ctx context.Context, id string) (grading.Batch, error) {
	v, err := s.Get(ctx, id)
	if err != nil {
		return grading.Batch{}, err
	}
	if v.Status == grading.BatchRunning {
		return grading.Batch{}, fmt.Errorf("regrade failed deliveries of batch %s: the batch is still running: %w", id, grading.ErrConflict)
	}
	if v.Summary != nil && v.Summary.Failed() == 0 {
		return grading.Batch{}, fmt.Errorf("regrade failed deliveries of batch %s: no delivery failed: %w", id, grading.ErrConflict)
	}
	// A regrade of a batch of all deliveries pages all of them, by delivery.
	return s.Start(ctx, StartRequest{
		CollectionID: v.CollectionID, ConfigID: v.ConfigID, RegradeOf: id, Lane: workflows.PipelineRegradeQueue,
		Deliveries: v.Deliveries,
	})
}

// View is a batch as the API shows it.
type View struct {
	grading.Batch
	Progress workflows.Progress `json:"progress"`
}

// Get returns a batch with its status and progress. A running batch's
// progress comes from the row its workflow keeps current (progress.go), so
// polling never reaches Temporal; Temporal is asked only when that row is
// missing or stale, and its being unreachable is an ErrUnavailable.
func (s *Service) Get(ctx context.Context, id string) (View, error) {
	b, err := s.store.Batch(ctx, id)
	if err != nil {
		return View{}, fmt.Errorf("get batch %s: %w", id, err)
	}
	v := View{Batch: b}
	if b.Status == grading.BatchRunning {
		if p, ok := s.keptProgress(ctx, id); ok {
			v.Progress = p
			return v, nil
		}
		tctx, cancel := context.WithTimeout(ctx, temporalCallTimeout)
		defer cancel()
		status, err := s.liveStatus(tctx, b)
		if err != nil {
			return View{}, unavailable(err)
		}
		v.Status = status
		if v.Status == grading.BatchRunning {
			if v.Progress, err = s.progress(tctx, b); err != nil {
				return View{}, unavailable(err)
			}
			return v, nil
		}
	}
	if b.Summary != nil {
		if v.Summary, err = s.withRegrades(ctx, b); err != nil {
			return View{}, err
		}
		v.Progress = workflows.Progress{Total: b.Summary.Total, Done: b.Summary.Total, Failed: b.Summary.Failed()}
		if r := b.Summary.Rate; r != nil {
			// A finished batch keeps the figures it ended with.
			v.Progress.PerSecond, v.Progress.DurationP50MS, v.Progress.DurationP95MS = r.PerSecond, r.DurationP50MS, r.DurationP95MS
			v.Progress.QueueWaitP50MS, v.Progress.QueueWaitP95MS = r.QueueWaitP50MS, r.QueueWaitP95MS
		}
	}
	return v, nil
}

// withRegrades returns the summary of a finished batch recomputed from the
// newest result of each of its deliveries when a regrade has graded some of
// them again; otherwise the recorded summary.
func (s *Service) withRegrades(ctx context.Context, b grading.Batch) (*grading.Summary, error) {
	rs, err := s.store.BatchResults(ctx, b.ID)
	if err != nil {
		return nil, fmt.Errorf("read results of batch %s: %w", b.ID, err)
	}
	if !slices.ContainsFunc(rs, func(r grading.Result) bool { return r.BatchID != b.ID }) {
		return b.Summary, nil
	}
	sum := &grading.Summary{Failures: []grading.Failure{}, Rate: b.Summary.Rate}
	for _, r := range rs {
		sum.Add(grading.Outcome{DeliveryID: r.DeliveryID, User: r.User, Status: r.Status, Score: r.Score, MaxScore: r.MaxScore, Reason: r.Diagnostic})
	}
	return sum, nil
}

// liveStatus asks Temporal about a batch the store still shows as running:
// a workflow that was terminated never records its own outcome.
func (s *Service) liveStatus(ctx context.Context, b grading.Batch) (grading.BatchStatus, error) {
	desc, err := s.client.DescribeWorkflowExecution(ctx, b.WorkflowID, "")
	if err != nil {
		return "", fmt.Errorf("describe batch workflow %s: %w", b.WorkflowID, err)
	}
	switch desc.GetWorkflowExecutionInfo().GetStatus() {
	case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW:
		return grading.BatchRunning, nil
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		return grading.BatchCompleted, nil
	case enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED:
		return grading.BatchCancelled, nil
	default:
		return grading.BatchFailed, nil
	}
}

func (s *Service) progress(ctx context.Context, b grading.Batch) (workflows.Progress, error) {
	p, err := s.query(ctx, b.WorkflowID)
	if err != nil || p.Partition == "" {
		return p, err
	}
	// A partitioned batch counts finished partitions; the running one
	// knows the work in flight.
	c, err := s.query(ctx, p.Partition)
	if err != nil {
		return p, err
	}
	return p.WithPartition(c), nil
}

func (s *Service) query(ctx context.Context, workflowID string) (workflows.Progress, error) {
	var p workflows.Progress
	v, err := s.client.QueryWorkflow(ctx, workflowID, "", workflows.ProgressQuery)
	if err != nil {
		return p, fmt.Errorf("query progress of %s: %w", workflowID, err)
	}
	if err := v.Get(&p); err != nil {
		return p, fmt.Errorf("decode progress of %s: %w", workflowID, err)
	}
	return p, nil
}

// Results returns the stored result of every delivery the batch graded.
func (s *Service) Results(ctx context.Context, id string) ([]grading.Result, error) {
	if _, err := s.store.Batch(ctx, id); err != nil {
		return nil, fmt.Errorf("get batch %s: %w", id, err)
	}
	rs, err := s.store.BatchResults(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("list results of batch %s: %w", id, err)
	}
	return rs, nil
}

// Cancel asks a running batch to stop; its running pipelines are cancelled
// and their processes killed.
func (s *Service) Cancel(ctx context.Context, id string) error {
	b, err := s.running(ctx, id, "cancel")
	if err != nil {
		return err
	}
	if err := s.client.CancelWorkflow(ctx, b.WorkflowID, ""); err != nil {
		return unavailable(fmt.Errorf("cancel batch %s: %w", id, err))
	}
	return nil
}

// Pause stops dispatching new deliveries; running ones finish.
func (s *Service) Pause(ctx context.Context, id string) error {
	return s.update(ctx, id, "pause", workflows.PauseUpdate)
}

// Resume continues a paused batch.
func (s *Service) Resume(ctx context.Context, id string) error {
	return s.update(ctx, id, "resume", workflows.ResumeUpdate)
}

// SetConcurrency changes how many pipelines a running batch runs at once.
func (s *Service) SetConcurrency(ctx context.Context, id string, n int) error {
	if err := workflows.CheckConcurrency(n); err != nil {
		return fmt.Errorf("set concurrency of batch %s: %w: %w", id, ErrInvalid, err)
	}
	return s.update(ctx, id, "set concurrency of", workflows.SetConcurrencyUpdate, n)
}

func (s *Service) update(ctx context.Context, id, verb, name string, args ...any) error {
	b, err := s.running(ctx, id, verb)
	if err != nil {
		return err
	}
	h, err := s.client.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   b.WorkflowID,
		UpdateName:   name,
		Args:         args,
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		err = h.Get(ctx, nil)
	}
	if err != nil {
		if isRejection(err) {
			return fmt.Errorf("%s batch %s: %w: %v", verb, id, grading.ErrConflict, err)
		}
		return unavailable(fmt.Errorf("%s batch %s: %w", verb, id, err))
	}
	s.refreshProgress(ctx, b)
	return nil
}

// refreshProgress stores the batch's progress as its workflow reports it
// right after an update. A paused workflow writes no row until it
// resumes, so without this readers would see the old concurrency or
// pause state until the row went stale. Best effort, as every row.
func (s *Service) refreshProgress(ctx context.Context, b grading.Batch) {
	p, err := s.query(ctx, b.WorkflowID)
	// While deliveries are still in flight the workflow writes the row
	// itself once they settle; a snapshot taken now could land after that
	// row and bring the in-flight count back.
	if err != nil || p.Partition != "" || p.InFlight > 0 {
		return
	}
	s.storeProgress(ctx, b.ID, p, "progress after update not recorded")
}

// running returns the batch when it is still running, or a conflict.
func (s *Service) running(ctx context.Context, id, verb string) (grading.Batch, error) {
	v, err := s.Get(ctx, id)
	if err != nil {
		return grading.Batch{}, err
	}
	if v.Status != grading.BatchRunning {
		return grading.Batch{}, fmt.Errorf("%s batch %s: the batch is %s: %w", verb, id, v.Status, grading.ErrConflict)
	}
	return v.Batch, nil
}

// isRejection tells an update refused by the workflow's validator (or a
// workflow that closed meanwhile) from an infrastructure failure.
func isRejection(err error) bool {
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return true
	}
	var app interface{ Type() string }
	return errors.As(err, &app)
}

// staticSummary is the line the Temporal UI shows for a batch's workflow:
// collection and config by name, and how many deliveries it grades.
func (s *Service) staticSummary(ctx context.Context, req StartRequest) (string, error) {
	col, err := s.store.Collection(ctx, req.CollectionID)
	if err != nil {
		return "", err
	}
	cfg, err := s.store.Config(ctx, req.ConfigID)
	if err != nil {
		return "", err
	}
	if req.RegradeOf != "" {
		return fmt.Sprintf("%s · %s · regrade of batch %s", col.Name, cfg.Name, req.RegradeOf), nil
	}
	if req.Deliveries == grading.DeliveriesAll {
		n, err := s.store.CountAllDeliveries(ctx, req.CollectionID)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%s · %s · %d deliveries (all versions)", col.Name, cfg.Name, n), nil
	}
	n, err := s.store.CountLatestDeliveries(ctx, req.CollectionID)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s · %s · %d deliveries", col.Name, cfg.Name, n), nil
}
