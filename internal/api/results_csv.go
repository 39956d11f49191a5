package api

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"strconv"

	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/spreadsheet"
)

// batchResultsCSV is GET /v1/batches/{id}/results.csv: one line per
// delivery with user,status,score,max_score,delivery_id,diagnostic; with
// ?scenarios=1, one more column per step ("stage" or "stage/scenario", in
// the order steps first appear) holding its points when it carries points,
// else its state.
func (s *Server) batchResultsCSV(w http.ResponseWriter, r *http.Request) error {
	withSteps := false
	switch v := r.URL.Query().Get("scenarios"); v {
	case "", "0", "false":
	case "1", "true":
		withSteps = true
	default:
		return badRequest("scenarios %q is not 0 or 1", v)
	}
	rs, err := s.batches.Results(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	header := []string{"user", "status", "score", "max_score", "delivery_id", "diagnostic"}
	var columns []string
	if withSteps {
		columns = stepColumns(rs)
		header = append(header, columns...)
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	// Every student's grades: no browser or shared cache keeps them, as no
	// JSON answer is kept (writeJSON).
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", "results-"+r.PathValue("id")+".csv"))
	cw := csv.NewWriter(w)
	if err := cw.Write(header); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	for _, res := range rs {
		score := ""
		if p := scoreOf(res); p != nil {
			score = formatNumber(*p)
		}
		line := []string{spreadsheet.Text(res.User), string(res.Status), score, formatNumber(res.MaxScore), res.DeliveryID, spreadsheet.Text(res.Diagnostic)}
		if withSteps {
			line = append(line, stepCells(res, columns)...)
		}
		if err := cw.Write(line); err != nil {
			return fmt.Errorf("write csv: %w", err)
		}
	}
	cw.Flush()
	return cw.Error()
}

func stepColumn(st grading.Step) string {
	if st.Scenario == "" {
		return st.Stage
	}
	return st.Stage + "/" + st.Scenario
}

// stepColumns lists every step of the results, in first-seen order.
func stepColumns(rs []grading.Result) []string {
	seen := map[string]bool{}
	var cols []string
	for _, res := range rs {
		for _, st := range res.Steps {
			if c := stepColumn(st); !seen[c] {
				seen[c] = true
				cols = append(cols, c)
			}
		}
	}
	return cols
}

func stepCells(res grading.Result, columns []string) []string {
	cells := map[string]string{}
	for _, st := range res.Steps {
		v := string(st.State)
		if st.MaxPoints > 0 {
			v = formatNumber(st.Points)
		}
		cells[stepColumn(st)] = v
	}
	out := make([]string, len(columns))
	for i, c := range columns {
		out[i] = cells[c]
	}
	return out
}

func formatNumber(x float64) string {
	return strconv.FormatFloat(x, 'f', -1, 64)
}
