package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/zinc-edu/orchestrator/internal/archive"
	"github.com/zinc-edu/orchestrator/internal/definition"
	"github.com/zinc-edu/orchestrator/internal/engine"
	"github.com/zinc-edu/orchestrator/internal/environment"
	"github.com/zinc-edu/orchestrator/internal/events"
	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/objectstore"
	"github.com/zinc-edu/orchestrator/internal/store"
	"github.com/zinc-edu/orchestrator/workflows"
)

// DefaultTaskQueue is this extension's task-queue suffix.
const DefaultTaskQueue = workflows.PipelineTaskQueue

// heartbeatEvery keeps heartbeats well inside the workflow's 30 s heartbeat
// timeout, also while one long stage runs.
const heartbeatEvery = 5 * time.Second

// unpackLimits bound what one delivery may expand to on the worker's disk.
var unpackLimits = archive.Limits{MaxFiles: 2000, MaxTotalBytes: 256 << 20, MaxFileBytes: 64 << 20}

// Store is the part of ZINC's store the activities use.
type Store interface {
	Config(ctx context.Context, id string) (grading.Config, error)
	Delivery(ctx context.Context, id string) (grading.Delivery, error)
	Result(ctx context.Context, deliveryID, configID string) (grading.Result, error)
	SaveResultAnnounced(ctx context.Context, r grading.Result, announce store.Announce[grading.Result]) (grading.Result, error)
}

// Engine runs a parsed pipeline on a prepared scratch directory.
type Engine interface {
	Run(ctx context.Context, def *definition.Definition, in engine.Input) (engine.Report, error)
}

// Environments prepares the file system of an environment image, by
// digest, for the sandbox. *environment.Cache implements it.
type Environments interface {
	RootFS(ctx context.Context, digest string) (string, error)
}

// Announcer turns an event into the outbox entry stored with its row.
// *outbox.Encoder implements it.
type Announcer interface {
	Encode(ctx context.Context, ev events.Event) (store.Event, error)
}

// Grader grades deliveries: the extension's work, free of Temporal, so a
// benchmark can run it without a server.
type Grader struct {
	store   Store
	bucket  *blob.Bucket
	engine  Engine
	events  Announcer
	log     *slog.Logger
	scratch string // parent of scratch directories; "" means os.TempDir
	// envs prepares environment images; nil refuses configs that name one.
	envs Environments
	// infraRetry bounds the retry of one store or bucket call (infra).
	infraRetry time.Duration
	// infraRuns is how many times a pipeline whose steps the worker failed
	// (Step.Infrastructure: the sandbox, the scratch area) is run in all,
	// the first wait between runs being infraRunDelay, doubling.
	infraRuns     int
	infraRunDelay time.Duration

	mu      sync.Mutex
	configs map[string]parsedConfig
}

type parsedConfig struct {
	cfg grading.Config
	def *definition.Definition
}

// NewGrader returns a grader.
func NewGrader(s Store, bucket *blob.Bucket, r Engine, events Announcer, log *slog.Logger) *Grader {
	return &Grader{
		store: s, bucket: bucket, engine: r, events: events, log: log,
		infraRetry: DefaultInfraRetry, infraRuns: DefaultInfraRuns, infraRunDelay: defaultInfraRunDelay,
		configs: map[string]parsedConfig{},
	}
}

// WithScratch makes the grader create scratch directories under dir (a
// Scratch's Dir) instead of the system's temporary directory.
func (g *Grader) WithScratch(dir string) *Grader {
	g.scratch = dir
	return g
}

// WithEnvironments lets the grader run configs that name an environment,
// in the file systems envs prepares.
func (g *Grader) WithEnvironments(envs Environments) *Grader {
	g.envs = envs
	return g
}

// Activities are the pipeline extension's activities: Temporal's view of a
// Grader, adding heartbeats and error translation.
type Activities struct {
	grader *Grader
	log    *slog.Logger
}

// NewActivities returns the pipeline activities.
func NewActivities(g *Grader, log *slog.Logger) *Activities {
	return &Activities{grader: g, log: log}
}

// GetGradingConfig checks that a config exists and parses, before a batch
// spends any work on it.
func (a *Activities) GetGradingConfig(ctx context.Context, in workflows.GradingConfigInput) (workflows.GradingConfigResult, error) {
	def, cfg, err := a.grader.definition(ctx, in.ConfigID)
	if err != nil {
		return workflows.GradingConfigResult{}, toApplicationError(err)
	}
	if err := a.grader.checkEnvironment(ctx, def); err != nil {
		return workflows.GradingConfigResult{}, toApplicationError(fmt.Errorf("grading config %s: %w", in.ConfigID, err))
	}
	return workflows.GradingConfigResult{ConfigID: cfg.ID, Name: cfg.Name, MaxScore: def.MaxScore()}, nil
}

// ExecutePipeline grades one delivery and stores its result. Grading again
// overwrites the result of the same (delivery, config), never duplicates it.
func (a *Activities) ExecutePipeline(ctx context.Context, in workflows.ExecutePipelineInput) (grading.Outcome, error) {
	hb := startHeartbeat(ctx, nil)
	defer hb.stop()
	out, err := a.grader.Grade(ctx, in.BatchID, in.ConfigID, in.Delivery)
	if err != nil {
		return grading.Outcome{}, toApplicationError(err)
	}
	out.QueueWaitMS = queueWait(ctx)
	return out, nil
}

// chunkProgress is the heartbeat of ExecutePipelines: the outcomes of the
// deliveries already done, so a retry resumes after them, and a workflow
// whose chunk timed out for good still counts them (the contract's shape).
type chunkProgress = workflows.ExecutePipelinesResult

// ExecutePipelines grades several deliveries one after the other. Each
// finished delivery is recorded in the heartbeat, so a retried attempt
// skips it; every delivery still gets exactly one result row.
func (a *Activities) ExecutePipelines(ctx context.Context, in workflows.ExecutePipelinesInput) (workflows.ExecutePipelinesResult, error) {
	var prog chunkProgress
	if activity.HasHeartbeatDetails(ctx) {
		if err := activity.GetHeartbeatDetails(ctx, &prog); err != nil {
			a.log.WarnContext(ctx, "heartbeat details unreadable, grading the chunk again", "err", err)
			prog = chunkProgress{}
		}
	}
	var mu sync.Mutex
	hb := startHeartbeat(ctx, func() any {
		mu.Lock()
		defer mu.Unlock()
		return chunkProgress{Outcomes: append([]grading.Outcome(nil), prog.Outcomes...)}
	})
	defer hb.stop()

	// Each delivery gets its share of the attempt (the workflow gives a
	// chunk one pipeline timeout per delivery), so one that runs long ends
	// with a result of its own instead of failing the deliveries after it.
	share := deliveryShare(ctx, len(in.Deliveries))
	for _, d := range in.Deliveries[min(len(prog.Outcomes), len(in.Deliveries)):] {
		dctx, cancel := context.WithTimeout(ctx, share)
		out, err := a.grader.Grade(dctx, in.BatchID, in.ConfigID, d)
		cancel()
		out.QueueWaitMS = queueWait(ctx)
		if err != nil {
			if ctx.Err() != nil || !isBusinessFailure(err) {
				return workflows.ExecutePipelinesResult{}, toApplicationError(err)
			}
			// One delivery's own failure is its outcome, not the chunk's.
			out = grading.Outcome{DeliveryID: d.ID, User: d.User, Status: grading.StatusError, Reason: err.Error()}
		}
		mu.Lock()
		prog.Outcomes = append(prog.Outcomes, out)
		mu.Unlock()
		hb.beat()
	}
	return prog, nil
}

// deliveryShare is the time each of n deliveries graded by one attempt
// may take.
func deliveryShare(ctx context.Context, n int) time.Duration {
	info := activity.GetInfo(ctx)
	span := info.Deadline.Sub(info.StartedTime)
	if n < 1 || span <= 0 {
		return span
	}
	return span / time.Duration(n)
}

func isBusinessFailure(err error) bool {
	for _, target := range []error{errDeliveryNotFound, errMissingFiles, errInvalidInput, grading.ErrNotFound} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// queueWait is how long the activity waited in its task queue.
func queueWait(ctx context.Context) int64 {
	info := activity.GetInfo(ctx)
	return max(info.StartedTime.Sub(info.ScheduledTime).Milliseconds(), 0)
}

// Grade runs the pipeline of one delivery and stores its result: the body
// of both ExecutePipeline and ExecutePipelines. Grading again overwrites the
// result of the same (delivery, config), never duplicates it; a result the
// same batch already saved is returned as it is.
func (g *Grader) Grade(ctx context.Context, batchID, configID string, ref workflows.DeliveryRef) (grading.Outcome, error) {
	started := time.Now()
	if ref.ID == "" || configID == "" {
		return grading.Outcome{}, fmt.Errorf("grade delivery: delivery id and config id are required: %w", errInvalidInput)
	}
	if out, ok, err := g.gradedInBatch(ctx, batchID, configID, ref.ID); err != nil || ok {
		return out, err
	}
	def, _, err := g.definition(ctx, configID)
	if err != nil {
		return grading.Outcome{}, err
	}
	d, err := infra(ctx, g, "get delivery", func() (grading.Delivery, error) { return g.store.Delivery(ctx, ref.ID) })
	if errors.Is(err, grading.ErrNotFound) {
		return grading.Outcome{}, fmt.Errorf("get delivery %s: %w", ref.ID, errDeliveryNotFound)
	} else if err != nil {
		return grading.Outcome{}, fmt.Errorf("get delivery %s: %w", ref.ID, err)
	}

	report, err := g.runRetryingInfrastructure(ctx, configID, batchID, def, d)
	switch {
	case errors.Is(err, errMissingFiles):
		// Record why this delivery has no grade, then fail it for good.
		report.Status, report.Diagnostic, report.MaxScore = grading.StatusError, err.Error(), def.MaxScore()
		if _, saveErr := g.save(ctx, d, configID, batchID, report); saveErr != nil {
			return grading.Outcome{}, saveErr
		}
		return grading.Outcome{}, err
	case err != nil:
		return grading.Outcome{}, err
	}
	saved, err := g.save(ctx, d, configID, batchID, report)
	if err != nil {
		return grading.Outcome{}, err
	}
	out := saved.Outcome()
	out.DurationMS = time.Since(started).Milliseconds()
	return out, nil
}

// gradedInBatch finds the result an earlier attempt of the batch saved
// before its worker died, between the commit and the activity's
// completion: grading again would repeat the work and announce the result
// a second time.
func (g *Grader) gradedInBatch(ctx context.Context, batchID, configID, deliveryID string) (grading.Outcome, bool, error) {
	if batchID == "" {
		return grading.Outcome{}, false, nil
	}
	r, err := infra(ctx, g, "get result", func() (grading.Result, error) { return g.store.Result(ctx, deliveryID, configID) })
	switch {
	case errors.Is(err, grading.ErrNotFound):
		return grading.Outcome{}, false, nil
	case err != nil:
		return grading.Outcome{}, false, fmt.Errorf("get result of delivery %s: %w", deliveryID, err)
	case r.BatchID != batchID:
		return grading.Outcome{}, false, nil
	}
	return r.Outcome(), true, nil
}

// runRetryingInfrastructure runs the pipeline, and runs it again, from a
// fresh scratch directory, while a step of its report failed because of
// the worker rather than the student (the sandbox, the scratch area), at
// most infraRuns times in all. A fault that persists keeps its report: the
// delivery's result is then an error, never a score it did not earn.
func (g *Grader) runRetryingInfrastructure(ctx context.Context, configID, batchID string, def *definition.Definition, d grading.Delivery) (engine.Report, error) {
	delay := g.infraRunDelay
	for run := 1; ; run++ {
		report, err := g.run(ctx, configID, batchID, def, d)
		step, failed := infrastructureStep(report.Steps)
		if err != nil || !failed || run >= g.infraRuns || ctx.Err() != nil {
			return report, err
		}
		g.log.WarnContext(ctx, "grading again: the worker failed a step", "delivery", d.ID,
			"stage", step.Stage, "scenario", step.Scenario, "message", step.Message, "run", run)
		select {
		case <-ctx.Done():
			return report, nil
		case <-time.After(delay):
		}
		delay *= 2
	}
}

// infrastructureStep returns the first step the worker failed, if any.
func infrastructureStep(steps []grading.Step) (grading.Step, bool) {
	for _, st := range steps {
		if st.Infrastructure {
			return st, true
		}
	}
	return grading.Step{}, false
}

// run prepares a fresh scratch directory with the delivery's files, runs the
// pipeline in it and removes it, whatever happens.
func (g *Grader) run(ctx context.Context, configID, batchID string, def *definition.Definition, d grading.Delivery) (engine.Report, error) {
	dir, remove, err := g.tempDir(ctx, "zinc-grade-", "scratch directory")
	if err != nil {
		return engine.Report{}, err
	}
	defer remove()
	if err := g.fetchFiles(ctx, d, dir); err != nil {
		return engine.Report{}, err
	}
	rootFS, err := g.rootFS(ctx, def)
	if err != nil {
		return engine.Report{}, err
	}
	assets, err := g.assets(ctx, configID, def)
	if err != nil {
		return engine.Report{}, err
	}
	// Hidden files and checker inputs stay in the worker's own scratch
	// area (locked while it lives, swept after a crash), not in the
	// system's temporary directory.
	private, removePrivate, err := g.tempDir(ctx, "zinc-private-", "private directory")
	if err != nil {
		return engine.Report{}, err
	}
	defer removePrivate()
	ectx, cancel, limit := boundPipeline(ctx)
	defer cancel()
	// Each step's output goes to object storage once judged, not all at
	// the end: held until then, a delivery printing its whole allowance in
	// every scenario would take hundreds of megabytes of the worker.
	output := func(art engine.Artifact) error { return g.writeOutput(ctx, d.ID, runKey(batchID), art) }
	report, err := g.engine.Run(ectx, def, engine.Input{ScratchDir: dir, PrivateDir: private, Assets: assets, RootFS: rootFS, Output: output})
	if err != nil && ctx.Err() == nil && errors.Is(ectx.Err(), context.DeadlineExceeded) {
		// The delivery's own commands took the time: retrying would only
		// spend it again. It gets an error result saying so.
		g.log.WarnContext(ctx, "grading stopped: out of time", "delivery", d.ID, "limit", limit)
		return engine.Report{Result: grading.Result{
			Status:     grading.StatusError,
			MaxScore:   def.MaxScore(),
			Diagnostic: fmt.Sprintf("grading took longer than the %s it may take; its commands were stopped", limit.Round(time.Second)),
		}}, nil
	}
	if err != nil {
		return engine.Report{}, fmt.Errorf("run pipeline %s on delivery %s: %w", def.Name, d.ID, err)
	}
	return report, nil
}

// pipelineShare is the part of the time left to a delivery that its
// pipeline may run; the rest stores its result.
const pipelineShare = 0.9

// boundPipeline bounds a pipeline run to pipelineShare of the time ctx
// leaves, and returns that bound; without a deadline it sets none.
func boundPipeline(ctx context.Context) (context.Context, context.CancelFunc, time.Duration) {
	deadline, ok := ctx.Deadline()
	if !ok {
		ctx, cancel := context.WithCancel(ctx)
		return ctx, cancel, 0
	}
	limit := time.Duration(float64(time.Until(deadline)) * pipelineShare)
	ctx, cancel := context.WithTimeout(ctx, limit)
	return ctx, cancel, limit
}

// tempDir creates a directory named after pattern in the worker's scratch
// area; remove deletes it and logs, as what, one it leaves behind.
func (g *Grader) tempDir(ctx context.Context, pattern, what string) (dir string, remove func(), err error) {
	dir, err = os.MkdirTemp(g.scratch, pattern)
	if err != nil {
		return "", nil, fmt.Errorf("create %s: %w", what, err)
	}
	return dir, func() {
		if err := os.RemoveAll(dir); err != nil {
			g.log.WarnContext(ctx, what+" left behind", "dir", dir, "err", err)
		}
	}, nil
}

// rootFS prepares the environment the definition names, if any: "" is the
// worker's toolchain. An image missing or broken in object storage is a
// configuration fault; anything else (the bucket away, the disk) is
// retried.
func (g *Grader) rootFS(ctx context.Context, def *definition.Definition) (string, error) {
	if def.Environment == nil {
		return "", nil
	}
	if err := g.usable(def.Environment); err != nil {
		return "", err
	}
	root, err := g.envs.RootFS(ctx, def.Environment.Digest)
	if errors.Is(err, environment.ErrNotFound) || errors.Is(err, environment.ErrInvalid) {
		return "", fmt.Errorf("environment %s: %w: %v", def.Environment.Image, errInvalidConfig, err)
	}
	if err != nil {
		return "", fmt.Errorf("environment %s: %w", def.Environment.Image, err)
	}
	return root, nil
}

// checkEnvironment refuses, before a batch starts, a definition whose
// environment this worker cannot run or whose image is not in object
// storage.
func (g *Grader) checkEnvironment(ctx context.Context, def *definition.Definition) error {
	if def.Environment == nil {
		return nil
	}
	if err := g.usable(def.Environment); err != nil {
		return err
	}
	ok, err := infra(ctx, g, "look up environment image", func() (bool, error) {
		return environment.Exists(ctx, g.bucket, def.Environment.Digest)
	})
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("environment %s: image %s is not in object storage: %w", def.Environment.Image, def.Environment.Digest, errInvalidConfig)
	}
	return nil
}

// usable checks what grading in env needs before any I/O.
func (g *Grader) usable(env *definition.Environment) error {
	switch {
	case env.Digest == "":
		return fmt.Errorf("environment %s: the config was stored without the image's digest: %w", env.Image, errInvalidConfig)
	case g.envs == nil:
		return fmt.Errorf("environment %s: this worker runs no environments: %w", env.Image, errInvalidConfig)
	}
	return nil
}

func (g *Grader) fetchFiles(ctx context.Context, d grading.Delivery, dir string) error {
	if d.ObjectKey == "" {
		return fmt.Errorf("delivery %s has no files: %w", d.ID, errMissingFiles)
	}
	r, err := infra(ctx, g, "open delivery files", func() (*blob.Reader, error) {
		r, err := g.bucket.NewReader(ctx, d.ObjectKey, nil)
		if gcerrors.Code(err) == gcerrors.NotFound {
			return nil, fmt.Errorf("delivery %s: object %s not found: %w", d.ID, d.ObjectKey, errMissingFiles)
		}
		return r, err
	})
	if err != nil {
		if errors.Is(err, errMissingFiles) {
			return err
		}
		return fmt.Errorf("open delivery %s files: %w", d.ID, err)
	}
	defer func() { _ = r.Close() }()
	if _, err := archive.Unpack(r, dir, unpackLimits); err != nil {
		if errors.Is(err, archive.ErrInvalidArchive) || errors.Is(err, archive.ErrUnsafePath) || errors.Is(err, archive.ErrTooLarge) {
			return fmt.Errorf("unpack delivery %s: %v: %w", d.ID, err, errMissingFiles)
		}
		return fmt.Errorf("unpack delivery %s: %w", d.ID, err)
	}
	return nil
}

// assets loads the assignment files that were uploaded with the config;
// inline files travel inside the definition.
func (g *Grader) assets(ctx context.Context, configID string, def *definition.Definition) (map[string][]byte, error) {
	assets := map[string][]byte{}
	for _, f := range def.Files {
		if !f.Upload {
			continue
		}
		b, err := infra(ctx, g, "read assignment file", func() ([]byte, error) {
			return g.bucket.ReadAll(ctx, objectstore.ConfigAssetKey(configID, f.Name))
		})
		if err != nil {
			return nil, fmt.Errorf("read assignment file %s: %w", f.Name, err)
		}
		assets[f.Name] = b
	}
	return assets, nil
}

// save completes the engine's result with the identifiers of d, stores
// result.json in object storage (the steps' full outputs are already there,
// handed over by the engine as it went), then the result row together with
// the event announcing it.
func (g *Grader) save(ctx context.Context, d grading.Delivery, configID, batchID string, report engine.Report) (grading.Result, error) {
	run := runKey(batchID)
	res := report.Result
	res.DeliveryID, res.ConfigID, res.BatchID, res.User = d.ID, configID, batchID, d.User
	res.ObjectKey = objectstore.ResultKey(d.ID, run)
	res.GradedAt = time.Now().UTC()
	doc, err := json.Marshal(res)
	if err != nil {
		return grading.Result{}, fmt.Errorf("encode result of delivery %s: %w", res.DeliveryID, err)
	}
	if err := infraDo(ctx, g, "write result document", func() error {
		return g.bucket.WriteAll(ctx, res.ObjectKey, doc, &blob.WriterOptions{ContentType: "application/json"})
	}); err != nil {
		return grading.Result{}, fmt.Errorf("write %s: %w", res.ObjectKey, err)
	}
	// The event goes to the outbox in the row's transaction; the relay
	// publishes it, so a NATS outage or a crash after the commit loses
	// nothing and never makes the grading run again.
	saved, err := infra(ctx, g, "save result", func() (grading.Result, error) {
		return g.store.SaveResultAnnounced(ctx, res, func(saved grading.Result) (store.Event, error) {
			return g.events.Encode(ctx, events.NewResultGraded(saved))
		})
	})
	if err != nil {
		return grading.Result{}, fmt.Errorf("save result of delivery %s: %w", res.DeliveryID, err)
	}
	return saved, nil
}

// runKey names a grading run in object keys: its batch, or "adhoc".
func runKey(batchID string) string {
	if batchID == "" {
		return "adhoc"
	}
	return batchID
}

// writeOutput stores the full output of one step; an empty stream is not
// stored.
func (g *Grader) writeOutput(ctx context.Context, deliveryID, run string, art engine.Artifact) error {
	for stream, data := range map[string][]byte{"stdout": art.Stdout, "stderr": art.Stderr} {
		if len(data) == 0 {
			continue
		}
		key := objectstore.StepKey(deliveryID, run, art.Stage, art.Scenario, stream)
		if err := infraDo(ctx, g, "write output", func() error { return g.bucket.WriteAll(ctx, key, data, nil) }); err != nil {
			return fmt.Errorf("write %s: %w", key, err)
		}
	}
	return nil
}

// definition returns the parsed pipeline of a config. Configs never change
// once stored, so both are cached by id.
func (g *Grader) definition(ctx context.Context, configID string) (*definition.Definition, grading.Config, error) {
	g.mu.Lock()
	c, ok := g.configs[configID]
	g.mu.Unlock()
	if ok {
		return c.def, c.cfg, nil
	}
	cfg, err := infra(ctx, g, "get grading config", func() (grading.Config, error) { return g.store.Config(ctx, configID) })
	if errors.Is(err, grading.ErrNotFound) {
		return nil, grading.Config{}, fmt.Errorf("grading config %s: %w", configID, errConfigNotFound)
	} else if err != nil {
		return nil, grading.Config{}, fmt.Errorf("get grading config %s: %w", configID, err)
	}
	def, err := parseConfig(cfg)
	if err != nil {
		return nil, grading.Config{}, fmt.Errorf("grading config %s: %w: %v", configID, errInvalidConfig, err)
	}
	g.mu.Lock()
	g.configs[configID] = parsedConfig{cfg: cfg, def: def}
	g.mu.Unlock()
	return def, cfg, nil
}

// parseConfig returns a config's definition: the expanded form stored when
// it was taken in (assignment archives unpacked, scenarios_from expanded),
// else its source parsed again.
func parseConfig(cfg grading.Config) (*definition.Definition, error) {
	if len(cfg.Parsed) == 0 {
		return definition.Parse([]byte(cfg.Source))
	}
	var def definition.Definition
	if err := json.Unmarshal(cfg.Parsed, &def); err != nil {
		return nil, fmt.Errorf("decode parsed definition: %w", err)
	}
	if err := def.Validate(); err != nil {
		return nil, err
	}
	return &def, nil
}
