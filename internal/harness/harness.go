// Package harness runs the whole grading stack in one process: a Temporal
// server (embedded unless an address is given), NATS, a store, a bucket,
// the core, submission and pipeline workers and the batch service. The
// integration tests and the benchmark command use it; services never do.
package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
	"go.temporal.io/sdk/client"
	"gocloud.dev/blob"

	"github.com/zinc-edu/orchestrator/extensions/pipeline"
	"github.com/zinc-edu/orchestrator/extensions/submission"
	"github.com/zinc-edu/orchestrator/internal/archive"
	"github.com/zinc-edu/orchestrator/internal/batches"
	"github.com/zinc-edu/orchestrator/internal/configs"
	"github.com/zinc-edu/orchestrator/internal/definition"
	"github.com/zinc-edu/orchestrator/internal/deliveries"
	"github.com/zinc-edu/orchestrator/internal/devstack"
	"github.com/zinc-edu/orchestrator/internal/engine"
	"github.com/zinc-edu/orchestrator/internal/environment"
	"github.com/zinc-edu/orchestrator/internal/events"
	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/objectstore"
	"github.com/zinc-edu/orchestrator/internal/outbox"
	"github.com/zinc-edu/orchestrator/internal/store"
	"github.com/zinc-edu/orchestrator/internal/temporal"
	"github.com/zinc-edu/orchestrator/workflows"
)

// Options configure Start. Zero values start embedded servers and use a
// SQLite file and a file bucket under Dir.
type Options struct {
	// Dir holds the SQLite file and the bucket; required.
	Dir string
	// TemporalAddress reuses a running server; empty starts an embedded one.
	TemporalAddress string
	// Namespace is the Temporal namespace; default "default".
	Namespace string
	// TaskQueuePrefix isolates this stack's queues from others on the same
	// server; default "zinc".
	TaskQueuePrefix string
	// DynamicConfig is passed to an embedded server.
	DynamicConfig map[string]any
	// DatabaseURL overrides the SQLite file, for example with PostgreSQL.
	DatabaseURL string
	// NATSURL reuses a NATS server; empty starts an embedded one.
	NATSURL string
	// Stream and SubjectPrefix isolate this stack's events; defaults
	// "ZINC" and "zinc".
	Stream, SubjectPrefix string
	// Engine grades deliveries; required (the real engine, or a stand-in
	// for benchmarks of the orchestration alone).
	Engine pipeline.Engine
	// PipelineConcurrency caps pipeline activities per worker; 0 keeps the
	// SDK default.
	PipelineConcurrency int
	// Outbox tunes the relay that publishes stored events.
	Outbox outbox.Config
	Logger *slog.Logger
}

// Stack is a running in-process grading stack.
type Stack struct {
	Temporal *devstack.Temporal // nil when Options.TemporalAddress was given
	NATS     *devstack.NATS     // nil when Options.NATSURL was given
	Client   *temporal.Client
	Store    *store.Store
	Bucket   *blob.Bucket
	Bus      *events.Bus
	Relay    *outbox.Relay
	Encoder  *outbox.Encoder
	Batches  *batches.Service
	Workers  []*temporal.Workers

	temporalConfig temporal.Config
	closers        []func() error
}

// Start brings the stack up; on error it stops whatever it started.
func Start(ctx context.Context, o Options) (st *Stack, err error) {
	if o.Dir == "" || o.Engine == nil {
		return nil, errors.New("start harness: Dir and Engine are required")
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	st = &Stack{}
	defer func() {
		if err != nil {
			err = errors.Join(err, st.Stop())
		}
	}()

	addr := o.TemporalAddress
	if addr == "" {
		if st.Temporal, err = devstack.StartTemporal(ctx, devstack.TemporalOptions{UIPort: -1, DynamicConfig: o.DynamicConfig, Logger: log}); err != nil {
			return nil, err
		}
		st.closers = append(st.closers, st.Temporal.Stop)
		addr = st.Temporal.Address()
	}
	natsURL := o.NATSURL
	if natsURL == "" {
		if st.NATS, err = devstack.StartNATS(ctx, devstack.NATSOptions{Logger: log}); err != nil {
			return nil, err
		}
		st.closers = append(st.closers, st.NATS.Stop)
		natsURL = st.NATS.URL()
	}

	dbURL := o.DatabaseURL
	if dbURL == "" {
		dbURL = "sqlite://" + filepath.Join(o.Dir, "zinc.db")
	}
	if st.Store, err = store.Open(ctx, dbURL, log); err != nil {
		return nil, err
	}
	st.closers = append(st.closers, st.Store.Close)
	if err = st.Store.Migrate(ctx); err != nil {
		return nil, err
	}
	if st.Bucket, err = objectstore.Open(ctx, "file://"+filepath.Join(o.Dir, "blobs")); err != nil {
		return nil, err
	}
	st.closers = append(st.closers, st.Bucket.Close)
	if st.Bus, err = events.Connect(ctx, events.Config{URL: natsURL, Stream: o.Stream, SubjectPrefix: o.SubjectPrefix}, log); err != nil {
		return nil, err
	}
	st.closers = append(st.closers, st.Bus.Close)
	st.Relay = outbox.NewRelay(st.Store, st.Bus, o.Outbox, log)
	st.Relay.Start()
	st.closers = append(st.closers, func() error { st.Relay.Stop(); return nil })
	// Spans are not exported here, but trace ids still travel with events.
	st.Encoder = outbox.NewEncoder(propagation.TraceContext{})

	prefix := o.TaskQueuePrefix
	if prefix == "" {
		prefix = temporal.DefaultTaskQueuePrefix
	}
	ns := o.Namespace
	if ns == "" {
		ns = client.DefaultNamespace
	}
	cfg := temporal.Config{HostPort: addr, Namespace: ns, TaskQueuePrefix: prefix}
	st.temporalConfig = cfg
	if st.Client, err = temporal.Dial(ctx, cfg, log, tracenoop.NewTracerProvider(), noop.NewMeterProvider()); err != nil {
		return nil, err
	}
	st.closers = append(st.closers, func() error { st.Client.Close(); return nil })
	st.Batches = batches.NewService(st.Store, st.Client, log)

	type role struct {
		queues []temporal.QueueConfig
		acts   []temporal.Activity
		wfs    []temporal.Workflow
	}
	pipelineQueues := make([]temporal.QueueConfig, len(workflows.PipelineQueues))
	for i, q := range workflows.PipelineQueues {
		pipelineQueues[i] = temporal.QueueConfig{Suffix: q, MaxConcurrentActivities: o.PipelineConcurrency}
	}
	// Environments unpack under the stack's directory, as a worker's do
	// under its scratch area.
	envs := environment.NewCache(filepath.Join(o.Dir, "environments"), st.Bucket, environment.Limits{}, log)
	grader := pipeline.NewGrader(st.Store, st.Bucket, o.Engine, st.Encoder, log).WithEnvironments(envs)
	roles := []role{
		{
			queues: []temporal.QueueConfig{{Suffix: workflows.CoreTaskQueue}},
			acts:   []temporal.Activity{batches.NewActivities(st.Store, st.Encoder, log)},
			wfs:    workflows.All(),
		},
		{
			queues: []temporal.QueueConfig{{Suffix: workflows.SubmissionTaskQueue}},
			acts:   []temporal.Activity{submission.NewActivities(st.Store)},
		},
		{
			queues: pipelineQueues,
			acts:   []temporal.Activity{pipeline.NewActivities(grader, log)},
		},
	}
	for _, r := range roles {
		ws, err := temporal.NewWorkers(st.Client, temporal.WorkerConfig{Queues: r.queues, StopTimeout: 5 * time.Second}, log, r.acts, r.wfs, nil)
		if err != nil {
			return nil, err
		}
		if err := ws.Start(); err != nil {
			return nil, err
		}
		st.Workers = append(st.Workers, ws)
		st.closers = append(st.closers, func() error { ws.Stop(); return nil })
	}
	return st, nil
}

// Stop stops everything in reverse order of start.
func (st *Stack) Stop() error {
	var errs []error
	for i := len(st.closers) - 1; i >= 0; i-- {
		errs = append(errs, st.closers[i]())
	}
	st.closers = nil
	return errors.Join(errs...)
}

// Delivery is one student's files to seed.
type Delivery struct {
	User  string
	Files map[string][]byte
}

// Seeded names what Seed created.
type Seeded struct {
	CollectionID string
	ConfigID     string
	// DeliveryIDs maps each user to the id of its delivery.
	DeliveryIDs map[string]string
}

// Seed creates a collection with the deliveries and a grading config, the
// way the API does: files packed into one archive in the bucket, the config
// taken in by configs.Save.
func (st *Stack) Seed(ctx context.Context, configYAML string, deliveries []Delivery) (Seeded, error) {
	return st.SeedWithAssets(ctx, configYAML, nil, deliveries)
}

// SeedWithAssets is Seed for a config that uploads assignment files:
// assets holds their bytes by the name the definition declares (archives
// among them are unpacked, as the API does).
func (st *Stack) SeedWithAssets(ctx context.Context, configYAML string, assets map[string][]byte, deliveries []Delivery) (Seeded, error) {
	col, err := st.Store.CreateCollection(ctx, grading.Collection{Name: "seeded"})
	if err != nil {
		return Seeded{}, err
	}
	uploads := make([]configs.Upload, 0, len(assets))
	for name, data := range assets {
		uploads = append(uploads, configs.Upload{Name: name, Open: func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(data)), nil
		}})
	}
	cfg, err := configs.Save(ctx, st.Bucket, st.Store, "", []byte(configYAML), uploads, archive.Limits{})
	if err != nil {
		return Seeded{}, fmt.Errorf("seed config: %w", err)
	}
	s := Seeded{CollectionID: col.ID, ConfigID: cfg.ID, DeliveryIDs: map[string]string{}}
	for _, d := range deliveries {
		id, err := st.AddDelivery(ctx, col.ID, d)
		if err != nil {
			return Seeded{}, err
		}
		s.DeliveryIDs[d.User] = id
	}
	return s, nil
}

// AddDelivery stores one delivery of a collection, as the API does, and
// returns its id.
func (st *Stack) AddDelivery(ctx context.Context, collectionID string, d Delivery) (string, error) {
	var files []archive.File
	for name, data := range d.Files {
		files = append(files, archive.File{Name: name, Data: data})
	}
	saved, _, err := deliveries.Save(ctx, st.Bucket, st.Store, collectionID, d.User, files, archive.Limits{})
	if err != nil {
		return "", fmt.Errorf("store delivery of %s: %w", d.User, err)
	}
	return saved.ID, nil
}

// Wait blocks until the batch's workflow chain ends and returns its result.
func (st *Stack) Wait(ctx context.Context, b grading.Batch) (workflows.BatchGradingResult, error) {
	var res workflows.BatchGradingResult
	err := st.Client.GetWorkflow(ctx, b.WorkflowID, "").Get(ctx, &res)
	return res, err
}

// TempDir returns a fresh directory under os.TempDir for a stack.
func TempDir(pattern string) (dir string, cleanup func() error, err error) {
	dir, err = os.MkdirTemp("", pattern)
	if err != nil {
		return "", nil, fmt.Errorf("create stack directory: %w", err)
	}
	return dir, func() error { return os.RemoveAll(dir) }, nil
}

// NoopEngine grades every delivery full marks without running anything, so
// a batch measures orchestration alone. A delivery holding a file named
// "fail-once" is reported ungraded the first time its content is seen,
// which gives regrade tests something to regrade.
type NoopEngine struct {
	mu     sync.Mutex
	failed map[string]bool
}

// Run implements pipeline.Engine.
func (r *NoopEngine) Run(_ context.Context, _ *definition.Definition, in engine.Input) (engine.Report, error) {
	if token, err := os.ReadFile(filepath.Join(in.ScratchDir, "fail-once")); err == nil {
		r.mu.Lock()
		if r.failed == nil {
			r.failed = map[string]bool{}
		}
		first := !r.failed[string(token)]
		r.failed[string(token)] = true
		r.mu.Unlock()
		if first {
			return engine.Report{Result: grading.Result{Status: grading.StatusUngraded, MaxScore: 1, Diagnostic: "fail-once"}}, nil
		}
	}
	return engine.Report{Result: grading.Result{
		Status: grading.StatusGraded, Score: 1, MaxScore: 1,
		Steps: []grading.Step{{Stage: "noop", State: grading.StepSuccess, Points: 1, MaxPoints: 1}},
	}}, nil
}
