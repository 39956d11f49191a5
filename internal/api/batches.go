package api

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/zinc-edu/orchestrator/internal/batches"
	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/workflows"
)

// batchView is GET /v1/batches/{id}: the batch, its live progress, and its
// summary (null until the batch has finished).
type batchView struct {
	grading.Batch
	// Summary shadows the embedded field so the key is always present.
	Summary  *grading.Summary   `json:"summary"`
	Progress workflows.Progress `json:"progress"`
}

// controlResponse acknowledges a control request on a batch.
type controlResponse struct {
	ID          string `json:"id"`
	Action      string `json:"action"`
	Concurrency int    `json:"concurrency,omitempty"`
}

// patchRequest is the body of PATCH /v1/batches/{id}.
type patchRequest struct {
	Concurrency *int `json:"concurrency"`
}

// checkConcurrency refuses a window workflows.CheckConcurrency refuses, as a
// 400 before the course lookups (the API's wording is its contract).
func checkConcurrency(n int) error {
	if workflows.CheckConcurrency(n) != nil {
		return badRequest("concurrency %d is outside 1..%d", n, workflows.MaxConcurrency)
	}
	return nil
}

func (s *Server) startBatch(w http.ResponseWriter, r *http.Request) error {
	var req batches.StartRequest
	if err := decodeJSON(w, r, s.cfg.MaxJSONBytes, &req); err != nil {
		return err
	}
	switch {
	case req.CollectionID == "":
		return badRequest("collection_id is required")
	case req.ConfigID == "":
		return badRequest("config_id is required")
	case req.ChunkSize < 0:
		return badRequest("chunk_size %d is negative", req.ChunkSize)
	case !grading.ValidDeliveries(req.Deliveries):
		return badRequest("deliveries %q is not %q or %q", req.Deliveries, grading.DeliveriesLatest, grading.DeliveriesAll)
	}
	// Zero asks for the workflow's default window.
	if req.Concurrency != 0 {
		if err := checkConcurrency(req.Concurrency); err != nil {
			return err
		}
	}
	ctx := r.Context()
	// The batch acts on the collection's course; a config of another
	// course is as unknown as a config that does not exist.
	course, err := s.requireRoleOf(ctx, ofCollection, req.CollectionID, teachers...)
	if err != nil {
		return err
	}
	if cfgCourse, err := s.store.CourseOf(ctx, ofConfig, req.ConfigID); err != nil {
		return err
	} else if cfgCourse != course {
		return fmt.Errorf("config %s: %w", req.ConfigID, grading.ErrNotFound)
	}
	if req.RegradeOf != "" {
		// The regraded batch's course is checked like any other target:
		// one the caller does not teach is unknown, like a missing one.
		if _, err := s.requireRoleOf(ctx, ofBatch, req.RegradeOf, teachers...); err != nil {
			return err
		}
	}
	b, err := s.batches.Start(ctx, req)
	if err != nil {
		return err
	}
	setAuditTarget(ctx, b.ID)
	w.Header().Set("Location", "/v1/batches/"+url.PathEscape(b.ID))
	return writeJSON(w, http.StatusAccepted, b)
}

func (s *Server) getBatch(w http.ResponseWriter, r *http.Request) error {
	v, err := s.batches.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, batchView{Batch: v.Batch, Summary: v.Summary, Progress: v.Progress})
}

func (s *Server) patchBatch(w http.ResponseWriter, r *http.Request) error {
	var req patchRequest
	if err := decodeJSON(w, r, s.cfg.MaxJSONBytes, &req); err != nil {
		return err
	}
	if req.Concurrency == nil {
		return badRequest("concurrency is required")
	}
	if err := checkConcurrency(*req.Concurrency); err != nil {
		return err
	}
	id := r.PathValue("id")
	if err := s.batches.SetConcurrency(r.Context(), id, *req.Concurrency); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, controlResponse{ID: id, Action: "set_concurrency", Concurrency: *req.Concurrency})
}

// cancelBatch answers 202: cancellation is requested, and the batch shows
// as cancelled once its running pipelines have stopped.
func (s *Server) cancelBatch(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := s.batches.Cancel(r.Context(), id); err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, controlResponse{ID: id, Action: "cancel"})
}

// pauseBatch answers 200: the workflow has accepted the pause when the
// service returns.
func (s *Server) pauseBatch(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := s.batches.Pause(r.Context(), id); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, controlResponse{ID: id, Action: "pause"})
}

func (s *Server) resumeBatch(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := s.batches.Resume(r.Context(), id); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, controlResponse{ID: id, Action: "resume"})
}

// regradeFailed starts a new batch over the deliveries of a finished batch
// that got no score, and answers with that batch.
func (s *Server) regradeFailed(w http.ResponseWriter, r *http.Request) error {
	b, err := s.batches.RegradeFailed(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/batches/"+url.PathEscape(b.ID))
	return writeJSON(w, http.StatusAccepted, b)
}

func (s *Server) batchResults(w http.ResponseWriter, r *http.Request) error {
	rs, err := s.batches.Results(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	rows := make([]resultRow, len(rs))
	for i, res := range rs {
		rows[i] = newResultRow(res)
		if res.BatchID != r.PathValue("id") {
			rows[i].RegradedIn = res.BatchID
		}
	}
	return writeJSON(w, http.StatusOK, rows)
}
