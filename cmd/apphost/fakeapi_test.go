package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"sync"
)

// The demo tests stand in for internal/demo and internal/api: stubContent is
// a demo assignment whose expected scores are written into the delivered
// files, and fakeAPI grades by reading them back, so a test sees whether the
// files went through the API intact.

var scoreMark = regexp.MustCompile(`SCORE=(\d+)`)

const stubConfig = "version: 1\nname: demo\nstages:\n  - name: compile\n    command: [gcc, main.c]\n"

func stubContent() (string, []delivery, error) {
	scores := map[string]float64{
		"alice": 10, "bob": 0, "carol": 5, "dave": 10,
		"erin": 2, "frank": 0, "grace": 7, "heidi": 10,
	}
	var ds []delivery
	for user, score := range scores {
		ds = append(ds, delivery{
			User:      user,
			Files:     map[string][]byte{"main.c": fmt.Appendf(nil, "int main(void) { return 0; } // SCORE=%g\n", score)},
			WantScore: score,
		})
	}
	slices.SortFunc(ds, func(a, b delivery) int {
		if a.User < b.User {
			return -1
		}
		return 1
	})
	return stubConfig, ds, nil
}

// fakeAPI implements the part of ZINC's HTTP API the demo uses, in memory.
type fakeAPI struct {
	// finalStatus is the batch status after the running polls; "" is completed.
	finalStatus string
	// runningPolls is how many status answers say running first.
	runningPolls int
	// rejectConfig answers grading configs with a 400.
	rejectConfig bool

	mu          sync.Mutex
	nextID      int
	collections map[string]string
	deliveries  []fakeDelivery
	configs     []string
	batchBodies []map[string]any
	polls       int
}

type fakeDelivery struct {
	collection string
	user       string
	files      map[string]string
}

func (f *fakeAPI) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("POST /v1/collections", f.createCollection)
	mux.HandleFunc("POST /v1/collections/{id}/deliveries", f.createDelivery)
	mux.HandleFunc("POST /v1/grading-configs", f.createConfig)
	mux.HandleFunc("POST /v1/batches", f.startBatch)
	mux.HandleFunc("GET /v1/batches/{id}", f.batch)
	mux.HandleFunc("GET /v1/batches/{id}/results", f.results)
	return mux
}

// id returns a new id as the JSON value to answer and the path form.
func (f *fakeAPI) id() (any, string) {
	f.nextID++
	s := "id-" + strconv.Itoa(f.nextID)
	return s, s
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string, details any) {
	writeJSON(w, status, map[string]any{"error": msg, "details": details})
}

func (f *fakeAPI) createCollection(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name string `json:"name"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Name == "" {
		writeError(w, http.StatusBadRequest, "bad collection", nil)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.collections == nil {
		f.collections = map[string]string{}
	}
	v, key := f.id()
	f.collections[key] = in.Name
	writeJSON(w, http.StatusCreated, map[string]any{"id": v})
}

func (f *fakeAPI) createDelivery(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	_, ok := f.collections[r.PathValue("id")]
	f.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "unknown collection", nil)
		return
	}
	if err := r.ParseMultipartForm(1 << 20); err != nil {
		writeError(w, http.StatusBadRequest, "bad multipart", err.Error())
		return
	}
	d := fakeDelivery{collection: r.PathValue("id"), user: r.FormValue("user"), files: map[string]string{}}
	for _, fh := range r.MultipartForm.File["files"] {
		file, err := fh.Open()
		if err != nil {
			writeError(w, http.StatusBadRequest, "bad file", err.Error())
			return
		}
		b, err := io.ReadAll(file)
		_ = file.Close()
		if err != nil {
			writeError(w, http.StatusBadRequest, "bad file", err.Error())
			return
		}
		d.files[fh.Filename] = string(b)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deliveries = append(f.deliveries, d)
	v, _ := f.id()
	writeJSON(w, http.StatusCreated, map[string]any{"id": v})
}

func (f *fakeAPI) createConfig(w http.ResponseWriter, r *http.Request) {
	if f.rejectConfig {
		writeError(w, http.StatusBadRequest, "invalid grading config", []string{"stages[0].timeout: missing"})
		return
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad body", nil)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.configs = append(f.configs, string(b))
	v, _ := f.id()
	writeJSON(w, http.StatusCreated, map[string]any{"id": v})
}

func (f *fakeAPI) startBatch(w http.ResponseWriter, r *http.Request) {
	var in map[string]any
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, "bad batch", nil)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.batchBodies = append(f.batchBodies, in)
	v, _ := f.id()
	writeJSON(w, http.StatusAccepted, map[string]any{"id": v, "workflow_id": fmt.Sprintf("batch-grading:%v:%v", in["collection_id"], in["config_id"])})
}

func (f *fakeAPI) batch(w http.ResponseWriter, _ *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.polls++
	total := len(f.deliveries)
	if f.polls <= f.runningPolls {
		writeJSON(w, http.StatusOK, map[string]any{
			"status":   "running",
			"progress": map[string]int{"total": total, "done": f.polls - 1, "failed": 0, "in_flight": 1},
		})
		return
	}
	status := f.finalStatus
	if status == "" {
		status = "completed"
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"status":   status,
		"progress": map[string]int{"total": total, "done": total, "failed": 0, "in_flight": 0},
		"summary":  map[string]any{"counts": map[string]int{"graded": total}, "mean": 5.5},
	})
}

func (f *fakeAPI) results(w http.ResponseWriter, _ *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rows := make([]map[string]any, 0, len(f.deliveries))
	for i, d := range f.deliveries {
		score := 0.0
		if m := scoreMark.FindStringSubmatch(d.files["main.c"]); m != nil {
			score, _ = strconv.ParseFloat(m[1], 64)
		}
		exit := 0
		if score == 0 {
			exit = 1
		}
		rows = append(rows, map[string]any{
			"delivery_id": "d-" + strconv.Itoa(i+1), "user": d.user, "status": "graded", "score": score, "max_score": 10,
			"stages": []map[string]any{{"name": "compile", "state": "passed", "exit_code": 0, "duration_ms": 12},
				{"name": "run", "state": "failed", "exit_code": exit, "duration_ms": 3}},
		})
	}
	writeJSON(w, http.StatusOK, rows)
}
