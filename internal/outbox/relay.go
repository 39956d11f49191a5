package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/zinc-edu/orchestrator/internal/events"
	"github.com/zinc-edu/orchestrator/internal/store"
)

// Source is the outbox table as the relay uses it.
type Source interface {
	PendingEvents(ctx context.Context, limit int) ([]store.Event, error)
	MarkEventsSent(ctx context.Context, ids []string) error
	RecordEventFailure(ctx context.Context, id string, cause error) error
	AbandonEvent(ctx context.Context, id string, cause error) error
}

// Sender publishes one encoded event and returns once the stream stored it.
// *events.Bus implements it.
type Sender interface {
	Send(ctx context.Context, id, subject string, data []byte, header map[string]string) error
}

// Config tunes a Relay. Zero fields take the defaults.
type Config struct {
	// PollInterval is how often an idle relay looks for new entries.
	PollInterval time.Duration `env:"ZINC_OUTBOX_POLL" envDefault:"200ms"`
	// MaxBackoff caps the wait between rounds while publishing fails; the
	// wait starts at PollInterval and doubles per failed round.
	MaxBackoff time.Duration `env:"ZINC_OUTBOX_MAX_BACKOFF" envDefault:"5s"`
	// BatchSize is how many entries one round reads.
	BatchSize int `env:"ZINC_OUTBOX_BATCH" envDefault:"256"`
}

func (c Config) withDefaults() Config {
	if c.PollInterval <= 0 {
		c.PollInterval = 200 * time.Millisecond
	}
	if c.MaxBackoff < c.PollInterval {
		c.MaxBackoff = max(5*time.Second, c.PollInterval)
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 256
	}
	return c
}

// sendTimeout bounds one publish, so a NATS that accepts the connection but
// never answers cannot stall the relay.
const sendTimeout = 5 * time.Second

// Relay publishes the outbox's pending entries. Start and Stop bracket its
// one goroutine.
type Relay struct {
	src  Source
	out  Sender
	cfg  Config
	log  *slog.Logger
	wake chan struct{}

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}

	// unmarked are ids published in a round whose mark failed (the
	// database went away). The next round marks them before reading, rather
	// than publish them again: after an outage longer than the stream's
	// dedup window the stream would store them twice. A round that cannot
	// mark them publishes nothing, so they are at most one BatchSize.
	unmarkedMu sync.Mutex
	unmarked   []string
}

// NewRelay returns a stopped relay from src to out.
func NewRelay(src Source, out Sender, cfg Config, log *slog.Logger) *Relay {
	// One pending wake-up is enough: a round reads everything written
	// before it started.
	return &Relay{src: src, out: out, cfg: cfg.withDefaults(), log: log, wake: make(chan struct{}, 1)}
}

// Notify asks for a round now, after the caller committed an entry; it
// never blocks.
func (r *Relay) Notify() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Start runs the relay in the background until Stop.
func (r *Relay) Start() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan struct{})
	go func() {
		defer close(r.done)
		r.run(ctx)
	}()
}

// Stop ends the relay and waits for it. Entries not yet published stay
// pending for the next relay.
func (r *Relay) Stop() {
	r.mu.Lock()
	cancel, done := r.cancel, r.done
	r.cancel = nil
	r.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}

func (r *Relay) run(ctx context.Context) {
	wait := r.cfg.PollInterval
	for {
		full, err := r.Round(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			r.log.WarnContext(ctx, "outbox relay round failed", "err", err, "retry_in", wait.String())
			wait = min(wait*2, r.cfg.MaxBackoff)
		case full:
			wait = r.cfg.PollInterval
			continue
		default:
			wait = r.cfg.PollInterval
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-r.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// Round publishes the pending entries once, in write order, and marks the
// published ones sent. After an entry fails, later entries with its order
// key wait; the round stops at the first failure, since NATS being away is
// the usual cause. An entry that can never be published (see
// events.ErrUnpublishable) is abandoned instead, and the round goes on.
// full reports that a whole BatchSize was read, so more
// may be waiting. err is the first failure.
func (r *Relay) Round(ctx context.Context) (full bool, err error) {
	r.unmarkedMu.Lock()
	defer r.unmarkedMu.Unlock()
	if len(r.unmarked) > 0 {
		if err := r.src.MarkEventsSent(ctx, r.unmarked); err != nil {
			return false, err
		}
		r.unmarked = nil
	}
	pending, err := r.src.PendingEvents(ctx, r.cfg.BatchSize)
	if err != nil {
		return false, err
	}
	var sent []string
	for _, ev := range pending {
		sctx, cancel := context.WithTimeout(ctx, sendTimeout)
		sendErr := r.out.Send(sctx, ev.ID, ev.Subject, ev.Payload, ev.Header)
		cancel()
		if errors.Is(sendErr, events.ErrUnpublishable) {
			// Sending it again can never succeed: set it aside rather than
			// stop every round at it, which would hold up all later events.
			if abandonErr := r.src.AbandonEvent(context.WithoutCancel(ctx), ev.ID, sendErr); abandonErr != nil {
				err = abandonErr
				break
			}
			r.log.ErrorContext(ctx, "outbox event abandoned", "event_id", ev.ID, "subject", ev.Subject, "err", sendErr)
			continue
		}
		if sendErr != nil {
			err = fmt.Errorf("publish event %s: %w", ev.ID, sendErr)
			if ctx.Err() == nil {
				if recErr := r.src.RecordEventFailure(ctx, ev.ID, sendErr); recErr != nil {
					r.log.WarnContext(ctx, "outbox failure not recorded", "event_id", ev.ID, "err", recErr)
				}
			}
			break
		}
		sent = append(sent, ev.ID)
	}
	// Marking uses its own context: what was published must be marked even
	// when the relay is stopping, or it is only published again (harmless).
	if markErr := r.src.MarkEventsSent(context.WithoutCancel(ctx), sent); markErr != nil {
		r.unmarked = sent
		if err == nil {
			err = markErr
		}
	}
	return err == nil && len(pending) == r.cfg.BatchSize, err
}
