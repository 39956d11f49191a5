package api

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/temporal"
	"github.com/zinc-edu/orchestrator/workflows"
)

// The instructor pages: server-rendered templates, with htmx (vendored from
// npm, see ui/static/VENDOR.md) refreshing small fragments so a batch page
// updates live without a single-page build: on each event of the batch's
// event stream (GET /v1/batches/{id}/events, followed by ui/static/app.js),
// and by polling only while that stream is not connected.

//go:embed ui/templates/*.html
var uiTemplateFS embed.FS

//go:embed ui/static
var uiStaticFS embed.FS

// Page sizes of the instructor pages.
const (
	uiCollections      = 50
	uiBatchesPerColl   = 10
	uiDeliveriesOnPage = 1000
)

// uiPages are the parsed page templates, by file name; each is parsed with
// the layout and the fragments.
type uiPages map[string]*template.Template

var uiFuncs = template.FuncMap{
	"pct": func(part, whole int) string {
		if whole <= 0 {
			return "0"
		}
		return fmt.Sprintf("%.1f", 100*float64(part)/float64(whole))
	},
	"score": func(s *float64) string {
		if s == nil {
			return "—"
		}
		return trimFloat(*s)
	},
	"num":  trimFloat,
	"secs": formatSeconds,
	"ms":   func(v float64) string { return formatSeconds(v / 1000) },
	"when": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") },
	"path": url.PathEscape,
}

// parseUIPages parses every page once, at server construction, so a broken
// template fails start-up rather than a request.
func parseUIPages() (uiPages, error) {
	pages := uiPages{}
	for _, name := range []string{"home.html", "batch.html", "delivery.html", "error.html", "signin.html"} {
		t, err := template.New(name).Funcs(uiFuncs).ParseFS(uiTemplateFS,
			"ui/templates/layout.html", "ui/templates/fragments.html", "ui/templates/"+name)
		if err != nil {
			return nil, fmt.Errorf("parse ui template %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

func trimFloat(v float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", v), "0"), ".")
}

// formatSeconds renders a duration in seconds as "1m05s", "3.2s" or "—".
func formatSeconds(s float64) string {
	if s <= 0 || math.IsInf(s, 0) || math.IsNaN(s) {
		return "—"
	}
	d := time.Duration(s * float64(time.Second))
	if d < time.Minute {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return d.Round(time.Second).String()
}

// uiHandle adapts a page handler: a returned error becomes an HTML error
// page with the status classify gives it (writeError answers /ui/ pages in
// HTML).
func (s *Server) uiHandle(fn func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return s.handle(fn)
}

// isUIPage reports whether r asks for an instructor page, whose errors are
// HTML pages for a person rather than the API's JSON. The embedded static
// files keep the file server's answers.
func isUIPage(r *http.Request) bool {
	return r != nil && (r.URL.Path == "/ui" || strings.HasPrefix(r.URL.Path, "/ui/")) &&
		!strings.HasPrefix(r.URL.Path, "/ui/static/")
}

// writeUIError answers a /ui/ request with the HTML error page: the same
// status and message the API would send as JSON, and a way back.
func (s *Server) writeUIError(w http.ResponseWriter, status int, msg string) {
	data := map[string]any{
		"Title":  http.StatusText(status),
		"Status": status,
		"Reason": http.StatusText(status),
		"Error":  msg,
		"SignIn": status == http.StatusUnauthorized,
	}
	if err := s.render(w, status, "error.html", "", data); err != nil {
		// The error page is parsed at start-up; only its execution can
		// fail here, and nothing has been written yet.
		http.Error(w, msg, status)
	}
}

// uiContentPolicy lets the pages run only the embedded scripts, with no
// inline script and no eval (htmx's allowEval is off), and talk to this
// host only: text a student wrote that slipped into a page would still run
// nothing. Inline style attributes draw the progress bar.
const uiContentPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; " +
	"img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// render executes a page (tmpl "") or one of its fragments into a buffer,
// so a failing template never sends half a page.
func (s *Server) render(w http.ResponseWriter, status int, page, fragment string, data any) error {
	t, ok := s.uiPages[page]
	if !ok {
		return fmt.Errorf("render %s: no such page", page)
	}
	name := fragment
	if name == "" {
		name = "layout"
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, name, data); err != nil {
		return fmt.Errorf("render %s %s: %w", page, name, err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Content-Security-Policy", uiContentPolicy)
	// No page needs a Referer, and one whose URL carries a key it did not
	// sign in with (/ui?token=…, which is no sign-in URL) would send it on
	// to its own scripts and through its links.
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
	return nil
}

// uiStatic serves the embedded scripts and stylesheet.
func uiStatic() http.Handler {
	sub, err := fs.Sub(uiStaticFS, "ui/static")
	if err != nil {
		// The directory is embedded at build time; Sub only fails on a bad name.
		return http.NotFoundHandler()
	}
	files := http.StripPrefix("/ui/static/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The scripts run only as the type they are served with.
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	})
}

// uiCollection is one collection on the overview with its recent batches.
type uiCollection struct {
	grading.Collection
	Batches []grading.Batch
}

func (s *Server) uiHome(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	// The first page of each list is the most recent.
	courses := listableCourses(ctx, staff...)
	cs, _, err := s.store.Collections(ctx, courses, "", uiCollections)
	if err != nil {
		return err
	}
	out := make([]uiCollection, len(cs))
	for i, c := range cs {
		bs, _, err := s.store.Batches(ctx, c.ID, courses, "", uiBatchesPerColl)
		if err != nil {
			return err
		}
		out[i] = uiCollection{Collection: c, Batches: bs}
	}
	return s.render(w, http.StatusOK, "home.html", "", map[string]any{"Title": "Collections", "Collections": out})
}

// uiBatchData is what the batch page and its fragments show.
type uiBatchData struct {
	Title       string
	Batch       grading.Batch
	Summary     *grading.Summary
	Progress    workflows.Progress
	Collection  grading.Collection
	ConfigName  string
	Succeeded   int
	Pending     int
	Running     bool
	TemporalURL string
	Rows        []uiRow
}

// uiRow is one delivery of a batch: its result, or pending.
type uiRow struct {
	DeliveryID string
	User       string
	Status     string
	Score      *float64
	MaxScore   float64
	Stages     []stageRow
	Reason     string
	HasResult  bool
}

func (s *Server) uiBatchData(r *http.Request, withRows bool) (uiBatchData, error) {
	ctx := r.Context()
	v, err := s.batches.Get(ctx, r.PathValue("id"))
	if err != nil {
		return uiBatchData{}, err
	}
	d := uiBatchData{
		Title:    "Batch " + v.ID,
		Batch:    v.Batch,
		Summary:  v.Summary,
		Progress: v.Progress,
		Running:  v.Status == grading.BatchRunning,
	}
	p := v.Progress
	d.Succeeded = p.Done - p.Failed
	d.Pending = max(p.Total-p.Done-p.InFlight, 0)
	if s.cfg.TemporalUIURL != "" {
		ns := s.temporal.Properties[temporal.PropNamespace]
		d.TemporalURL = strings.TrimRight(s.cfg.TemporalUIURL, "/") + "/namespaces/" + url.PathEscape(ns) +
			"/workflows/" + url.PathEscape(v.WorkflowID)
		if v.RunID != "" {
			d.TemporalURL += "/" + url.PathEscape(v.RunID)
		}
		d.TemporalURL += "/history"
	}
	if c, err := s.store.Collection(ctx, v.CollectionID); err == nil {
		d.Collection = c
	} else {
		return uiBatchData{}, err
	}
	if cfg, err := s.store.Config(ctx, v.ConfigID); err == nil {
		d.ConfigName = cfg.Name
	} else {
		return uiBatchData{}, err
	}
	if withRows {
		if d.Rows, err = s.uiRows(r, v.Batch); err != nil {
			return uiBatchData{}, err
		}
	}
	return d, nil
}

// uiRows merges the batch's results with the collection's latest
// deliveries (all of them for a batch of all), so deliveries not graded
// yet show as pending.
func (s *Server) uiRows(r *http.Request, b grading.Batch) ([]uiRow, error) {
	ctx := r.Context()
	results, err := s.batches.Results(ctx, b.ID)
	if err != nil {
		return nil, err
	}
	rows := make([]uiRow, 0, len(results))
	seen := make(map[string]bool, len(results))
	for _, res := range results {
		rr := newResultRow(res)
		seen[res.DeliveryID] = true
		rows = append(rows, uiRow{
			DeliveryID: rr.DeliveryID, User: rr.User, Status: string(rr.Status), Score: rr.Score,
			MaxScore: rr.MaxScore, Stages: rr.Stages, Reason: failureReason(res), HasResult: true,
		})
	}
	// A regrade covers only the failures of an earlier batch: the others
	// are not pending in it.
	if b.Status == grading.BatchRunning {
		var pending []grading.Delivery
		if b.Deliveries == grading.DeliveriesAll {
			pending, err = s.store.AllDeliveries(ctx, b.CollectionID, "", "", uiDeliveriesOnPage)
		} else {
			pending, err = s.store.LatestDeliveries(ctx, b.CollectionID, "", uiDeliveriesOnPage)
		}
		if err != nil {
			return nil, err
		}
		for _, d := range pending {
			if !seen[d.ID] {
				rows = append(rows, uiRow{DeliveryID: d.ID, User: d.User, Status: "pending"})
			}
		}
	}
	return rows, nil
}

// failureReason is the short why of a result that is not a clean grade.
func failureReason(res grading.Result) string {
	if res.Diagnostic != "" {
		return res.Diagnostic
	}
	for _, st := range res.Steps {
		if st.State == grading.StepError || st.State == grading.StepFailed {
			name := st.Stage
			if st.Scenario != "" {
				name += "/" + st.Scenario
			}
			switch {
			case st.TimedOut:
				return name + ": timed out"
			case st.LimitHit != "":
				return name + ": " + st.LimitHit + " limit"
			case st.Message != "":
				return name + ": " + st.Message
			}
			return name + ": " + string(st.State)
		}
	}
	return ""
}

func (s *Server) uiBatch(w http.ResponseWriter, r *http.Request) error {
	d, err := s.uiBatchData(r, true)
	if err != nil {
		return err
	}
	return s.render(w, http.StatusOK, "batch.html", "", d)
}

// uiBatchProgress is the progress fragment the batch page refreshes.
func (s *Server) uiBatchProgress(w http.ResponseWriter, r *http.Request) error {
	d, err := s.uiBatchData(r, false)
	if err != nil {
		return err
	}
	return s.render(w, http.StatusOK, "batch.html", "progress", d)
}

// uiBatchDeliveries is the per-delivery fragment the batch page refreshes.
func (s *Server) uiBatchDeliveries(w http.ResponseWriter, r *http.Request) error {
	d, err := s.uiBatchData(r, true)
	if err != nil {
		return err
	}
	return s.render(w, http.StatusOK, "batch.html", "deliveries", d)
}

// uiDelivery shows one result twice: everything staff see, and what the
// student sees under the visibility rules as of now.
func (s *Server) uiDelivery(w http.ResponseWriter, r *http.Request) error {
	res, err := s.result(r)
	if err != nil {
		return err
	}
	student, withheld, err := s.studentResult(r.Context(), res)
	if err != nil {
		return err
	}
	return s.render(w, http.StatusOK, "delivery.html", "", map[string]any{
		"Title":   "Delivery of " + res.User,
		"Staff":   newResultView(res, viewStaff, nil),
		"Student": newResultView(student, viewStudent, withheld),
		"BatchURL": func() string {
			if res.BatchID == "" {
				return ""
			}
			return path.Join("/ui/batches", url.PathEscape(res.BatchID))
		}(),
	})
}
