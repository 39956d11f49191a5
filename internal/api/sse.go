package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/zinc-edu/orchestrator/internal/events"
	"github.com/zinc-edu/orchestrator/internal/grading"
)

// Feed follows the event stream. *events.Bus implements it.
type Feed interface {
	Follow(ctx context.Context, subjects []string, from events.From, fn func(events.Record) error) error
}

// errNoFeed answers the event stream route of a server built without a Feed.
var errNoFeed = errors.New("event stream not available")

// clockSkew is how far the event stream's clock may trail the database's:
// a new stream starts this long before the batch was created, not at the
// stream's first event, which may be months of other batches.
const clockSkew = time.Minute

// progressEvery is how often a live batch's progress is sent while no
// graded event arrives; a graded event sends it sooner.
const progressEvery = 2 * time.Second

// batchEvents streams a batch as Server-Sent Events: "graded" for each
// results.graded event of the batch, read from the stream with the stream
// sequence as the SSE id (so Last-Event-ID resumes after it), "progress"
// with the batch as GET /v1/batches/{id} shows it (at once, after graded
// events and every few seconds), and "completed" with the batches.completed
// event, after which the stream ends; the stream of a batch that had
// already finished also ends once it has nothing more to replay. The
// caller's right to the batch is checked again on every tick, so a revoked
// or expired credential ends a stream within progressEvery instead of
// following the batch to its end.
func (s *Server) batchEvents(w http.ResponseWriter, r *http.Request) error {
	if s.feed == nil {
		return errNoFeed
	}
	ctx := r.Context()
	id := r.PathValue("id")
	after, err := lastEventID(r)
	if err != nil {
		return err
	}
	view, err := s.batches.Get(ctx, id)
	if err != nil {
		return err
	}
	release, err := s.limits.startStream(grantOf(ctx).principal.Actor)
	if err != nil {
		return err
	}
	defer release()

	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	send := func(name, id string, v any) error {
		data, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("encode %s event: %w", name, err)
		}
		var b strings.Builder
		if id != "" {
			fmt.Fprintf(&b, "id: %s\n", id)
		}
		fmt.Fprintf(&b, "event: %s\ndata: %s\n\n", name, data)
		if _, err := w.Write([]byte(b.String())); err != nil {
			return err
		}
		return rc.Flush()
	}
	progress := func() error {
		v, err := s.batches.Get(ctx, id)
		if err != nil {
			return err
		}
		return send("progress", "", batchView{Batch: v.Batch, Summary: v.Summary, Progress: v.Progress})
	}
	if err := send("progress", "", batchView{Batch: view.Batch, Summary: view.Summary, Progress: view.Progress}); err != nil {
		return nil // the client left; nothing more can be written
	}

	// Follow runs in its own goroutine and hands over this batch's events;
	// only this loop writes to w.
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	recs := make(chan events.Record)
	followed := make(chan error, 1)
	go func() {
		// One filter for all subjects: servers before NATS 2.10 take only one.
		from := events.From{AfterSeq: after, Since: view.Batch.CreatedAt.Add(-clockSkew)}
		followed <- s.feed.Follow(fctx, []string{">"}, from,
			func(rec events.Record) error {
				if rec.Subject != events.SubjectResultGraded && rec.Subject != events.SubjectBatchCompleted {
					return nil
				}
				var ref struct {
					BatchID string `json:"batch_id"`
				}
				if json.Unmarshal(rec.Data, &ref) != nil || ref.BatchID != id {
					return nil
				}
				select {
				case recs <- rec:
					return nil
				case <-fctx.Done():
					return fctx.Err()
				}
			})
	}()

	tick := time.NewTicker(progressEvery)
	defer tick.Stop()
	dirty := false
	// replaying is set by each event of a batch that had finished when the
	// stream opened: such a stream ends once a whole tick passes without
	// one, whether its "completed" was seen before (a client resuming after
	// it) or the stream no longer holds its events.
	replaying := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.streams.Done():
			return nil
		case err := <-followed:
			if err != nil {
				s.log.WarnContext(ctx, "batch event stream ended", "batch_id", id, "err", err)
			}
			return nil
		case rec := <-recs:
			seq := strconv.FormatUint(rec.Seq, 10)
			if rec.Subject == events.SubjectBatchCompleted {
				var done events.BatchCompleted
				if err := json.Unmarshal(rec.Data, &done); err != nil {
					return nil
				}
				if progress() != nil || send("completed", seq, done) != nil {
					return nil
				}
				return nil
			}
			var graded events.ResultGraded
			if err := json.Unmarshal(rec.Data, &graded); err != nil {
				continue
			}
			if send("graded", seq, graded) != nil {
				return nil
			}
			dirty, replaying = true, true
		case <-tick.C:
			if err := s.recheck(r); err != nil {
				s.log.InfoContext(ctx, "batch event stream ended: the caller may no longer follow it", "batch_id", id, "err", err)
				return nil
			}
			if view.Status != grading.BatchRunning && !dirty {
				if !replaying {
					return nil
				}
				replaying = false
				continue
			}
			if progress() != nil {
				return nil
			}
			dirty = false
		}
	}
}

// lastEventID reads where a reconnecting client stopped: the Last-Event-ID
// header (sent by browsers' EventSource), or the last_event_id query
// parameter for clients that cannot set headers.
func lastEventID(r *http.Request) (uint64, error) {
	v := r.Header.Get("Last-Event-ID")
	if v == "" {
		v = r.URL.Query().Get("last_event_id")
	}
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return 0, badRequest("Last-Event-ID %q is not an event id of this stream", v)
	}
	return n, nil
}
