package api

import (
	"context"
	"net/http"
	"time"

	"github.com/zinc-edu/orchestrator/internal/grading"
)

// Views of a delivery's result, chosen with ?view=.
const (
	viewStaff   = "staff"
	viewStudent = "student"
)

// resultRow is one delivery in GET /v1/batches/{id}/results. Score is null
// unless the delivery was graded: ungraded is not a score of 0.
type resultRow struct {
	DeliveryID string               `json:"delivery_id"`
	User       string               `json:"user"`
	Status     grading.ResultStatus `json:"status"`
	Score      *float64             `json:"score"`
	MaxScore   float64              `json:"max_score"`
	Diagnostic string               `json:"diagnostic,omitempty"`
	// RegradedIn is the regrade batch the result comes from, when it is
	// not the batch whose results are listed.
	RegradedIn string     `json:"regraded_in,omitempty"`
	Stages     []stageRow `json:"stages"`
}

// stageRow is one stage, or one scenario of a stage, of a resultRow.
// ExitCode is null when the step never ran or was killed; Points is set for
// steps that carry points.
type stageRow struct {
	Name       string            `json:"name"`
	Scenario   string            `json:"scenario,omitempty"`
	State      grading.StepState `json:"state"`
	ExitCode   *int              `json:"exit_code"`
	Signal     string            `json:"signal,omitempty"`
	TimedOut   bool              `json:"timed_out,omitempty"`
	LimitHit   string            `json:"limit_hit,omitempty"`
	DurationMS int64             `json:"duration_ms"`
	Points     *float64          `json:"points,omitempty"`
	// Message is the step's feedback: why it failed, or the checker's words.
	Message string `json:"message,omitempty"`
	// Diff is, for staff only, where a failed comparison parted from the
	// expected output.
	Diff string `json:"diff,omitempty"`
}

func newResultRow(r grading.Result) resultRow {
	row := resultRow{
		DeliveryID: r.DeliveryID,
		User:       r.User,
		Status:     r.Status,
		Score:      scoreOf(r),
		MaxScore:   r.MaxScore,
		Diagnostic: r.Diagnostic,
		Stages:     make([]stageRow, len(r.Steps)),
	}
	for i, st := range r.Steps {
		row.Stages[i] = newStageRow(st)
	}
	return row
}

func newStageRow(st grading.Step) stageRow {
	row := stageRow{
		Name:       st.Stage,
		Scenario:   st.Scenario,
		State:      st.State,
		ExitCode:   st.ExitCode,
		Signal:     st.Signal,
		TimedOut:   st.TimedOut,
		LimitHit:   st.LimitHit,
		DurationMS: st.DurationMS,
		Message:    st.Message,
		Diff:       st.Diff,
	}
	if st.MaxPoints > 0 || st.Points != 0 {
		row.Points = ptr(st.Points)
	}
	return row
}

// scoreOf is the result's score, or nil when it has none.
func scoreOf(r grading.Result) *float64 {
	if r.Status != grading.StatusGraded {
		return nil
	}
	return ptr(r.Score)
}

// resultView is GET /v1/deliveries/{id}/results/{config_id}: the whole
// result, as staff or as the student may see it.
type resultView struct {
	DeliveryID string               `json:"delivery_id"`
	ConfigID   string               `json:"config_id"`
	BatchID    string               `json:"batch_id,omitempty"`
	User       string               `json:"user"`
	View       string               `json:"view"`
	Status     grading.ResultStatus `json:"status"`
	Score      *float64             `json:"score"`
	MaxScore   float64              `json:"max_score"`
	Components []grading.Component  `json:"components,omitempty"`
	Diagnostic string               `json:"diagnostic,omitempty"`
	Attempt    int                  `json:"attempt"`
	GradedAt   time.Time            `json:"graded_at"`
	Stages     []stageView          `json:"stages"`
}

// stageView is a stageRow with the step's feedback and output. Withheld
// says, in the student view, that the output exists but is not visible yet.
type stageView struct {
	stageRow
	MaxPoints  *float64 `json:"max_points,omitempty"`
	Message    string   `json:"message,omitempty"`
	Stdout     string   `json:"stdout,omitempty"`
	Stderr     string   `json:"stderr,omitempty"`
	Truncated  bool     `json:"truncated,omitempty"`
	Visibility string   `json:"visibility,omitempty"`
	Withheld   bool     `json:"withheld,omitempty"`
	// Command is the command line a compile step ran.
	Command []string `json:"command,omitempty"`
}

func newResultView(r grading.Result, view string, withheld []bool) resultView {
	v := resultView{
		DeliveryID: r.DeliveryID,
		ConfigID:   r.ConfigID,
		BatchID:    r.BatchID,
		User:       r.User,
		View:       view,
		Status:     r.Status,
		Score:      scoreOf(r),
		MaxScore:   r.MaxScore,
		Components: r.Components,
		Diagnostic: r.Diagnostic,
		Attempt:    r.Attempt,
		GradedAt:   r.GradedAt,
		Stages:     make([]stageView, len(r.Steps)),
	}
	for i, st := range r.Steps {
		sv := stageView{
			stageRow:   newStageRow(st),
			Message:    st.Message,
			Stdout:     st.Stdout,
			Stderr:     st.Stderr,
			Truncated:  st.Truncated,
			Visibility: st.Visibility,
			Withheld:   i < len(withheld) && withheld[i],
			Command:    st.Command,
		}
		if view == viewStudent {
			// A diff may quote hidden expected output.
			sv.Diff = ""
		}
		if st.MaxPoints > 0 {
			sv.MaxPoints = ptr(st.MaxPoints)
		}
		v.Stages[i] = sv
	}
	return v
}

func (s *Server) deliveryResult(w http.ResponseWriter, r *http.Request) error {
	view := r.URL.Query().Get("view")
	switch view {
	case "":
		view = viewStaff
	case viewStaff, viewStudent:
	default:
		return badRequest("view %q is not %q or %q", view, viewStaff, viewStudent)
	}
	if !grantOf(r.Context()).role.Staff() {
		// Whatever ?view says, a student sees the student view.
		view = viewStudent
	}
	res, err := s.result(r)
	if err != nil {
		return err
	}
	var withheld []bool
	if view == viewStudent {
		if res, withheld, err = s.studentResult(r.Context(), res); err != nil {
			return err
		}
	}
	return writeJSON(w, http.StatusOK, newResultView(res, view, withheld))
}

func (s *Server) gradescope(w http.ResponseWriter, r *http.Request) error {
	res, err := s.result(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toGradescope(res))
}

func (s *Server) prairieLearn(w http.ResponseWriter, r *http.Request) error {
	res, err := s.result(r)
	if err != nil {
		return err
	}
	res, withheld, err := s.studentResult(r.Context(), res)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toPrairieLearn(res, withheld))
}

// result reads the result named by the path.
func (s *Server) result(r *http.Request) (grading.Result, error) {
	return s.store.Result(r.Context(), r.PathValue("id"), r.PathValue("config_id"))
}

// studentResult applies the visibility rules as of now, against the dates
// of the delivery's collection.
func (s *Server) studentResult(ctx context.Context, res grading.Result) (grading.Result, []bool, error) {
	d, err := s.store.Delivery(ctx, res.DeliveryID)
	if err != nil {
		return grading.Result{}, nil, err
	}
	c, err := s.store.Collection(ctx, d.CollectionID)
	if err != nil {
		return grading.Result{}, nil, err
	}
	res, withheld := forStudent(res, c, time.Now())
	return res, withheld, nil
}
