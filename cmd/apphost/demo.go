package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

const (
	// pollEvery paces batch status requests: a person is watching.
	pollEvery = 500 * time.Millisecond
	// requestTimeout bounds one API request; uploads are small.
	requestTimeout = 30 * time.Second
	// maxErrorBody caps how much of an error answer is read.
	maxErrorBody = 64 << 10
	// statusCompleted is the batch status of a batch that graded everything.
	statusCompleted = "completed"
	statusRunning   = "running"
)

// delivery is one demo submission. Its fields are demo.Delivery's, so a
// demo.Delivery converts to it directly.
type delivery struct {
	User      string
	Files     map[string][]byte
	WantScore float64
}

// demoClient seeds and grades the demo assignment through the API's HTTP
// endpoints, exactly as a user of the API would.
type demoClient struct {
	base string
	// token is the API key sent as a bearer credential.
	token string
	http  *http.Client
	out   io.Writer
	// every is the status poll interval; 0 means pollEvery.
	every time.Duration
}

func newHTTPClient() *http.Client { return &http.Client{Timeout: requestTimeout} }

type created struct {
	ID string `json:"id"`
}

type startedBatch struct {
	ID         string `json:"id"`
	WorkflowID string `json:"workflow_id"`
}

type batchStatus struct {
	Status   string          `json:"status"`
	Progress json.RawMessage `json:"progress"`
	Summary  map[string]any  `json:"summary"`
}

// result is one row of GET /v1/batches/{id}/results (a JSON array). Score
// is null for a delivery that was not graded.
type result struct {
	DeliveryID string   `json:"delivery_id"`
	User       string   `json:"user"`
	Status     string   `json:"status"`
	Score      *float64 `json:"score"`
	MaxScore   float64  `json:"max_score"`
	Stages     []step   `json:"stages"`
}

type step struct {
	Name       string `json:"name"`
	Scenario   string `json:"scenario"`
	State      string `json:"state"`
	ExitCode   *int   `json:"exit_code"`
	DurationMS int64  `json:"duration_ms"`
}

// apiError is the body of every API error answer.
type apiError struct {
	Error   string          `json:"error"`
	Details json.RawMessage `json:"details"`
}

// run creates a collection, uploads the deliveries, stores the grading config,
// starts a batch, waits for it and prints its results. It fails when any
// request fails or the batch ends other than completed.
func (d *demoClient) run(ctx context.Context, configYAML string, deliveries []delivery) error {
	defer d.http.CloseIdleConnections()
	var coll created
	name := "demo-" + time.Now().UTC().Format("20060102-150405")
	if err := d.postJSON(ctx, "/v1/collections", map[string]string{"name": name}, &coll); err != nil {
		return err
	}
	for _, dl := range deliveries {
		if err := d.upload(ctx, coll.ID, dl); err != nil {
			return err
		}
	}
	var cfg created
	if err := d.post(ctx, "/v1/grading-configs", "application/yaml", strings.NewReader(configYAML), &cfg); err != nil {
		return err
	}
	var batch startedBatch
	err := d.postJSON(ctx, "/v1/batches", map[string]string{"collection_id": coll.ID, "config_id": cfg.ID}, &batch)
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "Demo: collection %s, %d deliveries, batch %s (workflow %s)\n", coll.ID, len(deliveries), batch.ID, batch.WorkflowID)

	status, err := d.wait(ctx, batch.ID)
	if err != nil {
		return err
	}
	var results []result
	if err := d.get(ctx, "/v1/batches/"+url.PathEscape(batch.ID)+"/results", &results); err != nil {
		return err
	}
	if err := printResults(d.out, status, results, deliveries); err != nil {
		return err
	}
	if status.Status != statusCompleted {
		return fmt.Errorf("run demo: batch %s ended %s", batch.ID, status.Status)
	}
	return nil
}

// upload posts one delivery as multipart: a user field and one files part per file.
func (d *demoClient) upload(ctx context.Context, collection string, dl delivery) error {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	if err := mw.WriteField("user", dl.User); err != nil {
		return fmt.Errorf("encode delivery of %s: %w", dl.User, err)
	}
	names := make([]string, 0, len(dl.Files))
	for n := range dl.Files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		part, err := mw.CreateFormFile("files", n)
		if err != nil {
			return fmt.Errorf("encode delivery of %s: %w", dl.User, err)
		}
		if _, err := part.Write(dl.Files[n]); err != nil {
			return fmt.Errorf("encode delivery of %s: %w", dl.User, err)
		}
	}
	if err := mw.Close(); err != nil {
		return fmt.Errorf("encode delivery of %s: %w", dl.User, err)
	}
	var out created
	path := "/v1/collections/" + url.PathEscape(collection) + "/deliveries"
	return d.post(ctx, path, mw.FormDataContentType(), &body, &out)
}

// wait polls the batch until it is no longer running, printing progress as
// it changes.
func (d *demoClient) wait(ctx context.Context, batch string) (batchStatus, error) {
	every := d.every
	if every == 0 {
		every = pollEvery
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	var last string
	for {
		var st batchStatus
		if err := d.get(ctx, "/v1/batches/"+url.PathEscape(batch), &st); err != nil {
			return batchStatus{}, err
		}
		if p := progressText(st.Progress); p != last && p != "" {
			fmt.Fprintf(d.out, "Progress: %s\n", p)
			last = p
		}
		if st.Status != statusRunning {
			return st, nil
		}
		select {
		case <-ctx.Done():
			return batchStatus{}, fmt.Errorf("wait for batch %s: %w", batch, context.Cause(ctx))
		case <-tick.C:
		}
	}
}

// progressText summarises a progress object as counts, or returns it raw
// when it lacks them.
func progressText(raw json.RawMessage) string {
	var p struct {
		Total    *float64 `json:"total"`
		Done     *float64 `json:"done"`
		Failed   *float64 `json:"failed"`
		InFlight *float64 `json:"in_flight"`
	}
	if json.Unmarshal(raw, &p) != nil || p.Total == nil || p.Done == nil {
		return string(raw)
	}
	text := fmt.Sprintf("%s/%s done", num(*p.Done), num(*p.Total))
	if p.Failed != nil {
		text += ", " + num(*p.Failed) + " failed"
	}
	if p.InFlight != nil {
		text += ", " + num(*p.InFlight) + " in flight"
	}
	return text
}

func (d *demoClient) postJSON(ctx context.Context, path string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("encode %s request: %w", path, err)
	}
	return d.post(ctx, path, "application/json", bytes.NewReader(b), out)
}

func (d *demoClient) post(ctx context.Context, path, contentType string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.base+path, body)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", contentType)
	return d.do(req, out)
}

func (d *demoClient) get(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.base+path, nil)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	return d.do(req, out)
}

// do sends req and decodes a 2xx JSON answer into out; any other status
// becomes an error carrying the API's message.
func (d *demoClient) do(req *http.Request, out any) error {
	req.Header.Set("Accept", "application/json")
	if d.token != "" {
		req.Header.Set("Authorization", "Bearer "+d.token)
	}
	what := req.Method + " " + req.URL.Path
	resp, err := d.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		var e apiError
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			if len(e.Details) > 0 && string(e.Details) != "null" {
				return fmt.Errorf("%s: %s: %s: %s", what, resp.Status, e.Error, e.Details)
			}
			return fmt.Errorf("%s: %s: %s", what, resp.Status, e.Error)
		}
		return fmt.Errorf("%s: %s: %s", what, resp.Status, strings.TrimSpace(string(body)))
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s: decode answer: %w", what, err)
	}
	if c, ok := out.(*created); ok && c.ID == "" {
		return fmt.Errorf("%s: answer has no id", what)
	}
	if b, ok := out.(*startedBatch); ok && b.ID == "" {
		return fmt.Errorf("%s: answer has no id", what)
	}
	return nil
}

// printResults writes one row per delivery, sorted by user, then the batch's
// summary and how many scores matched the demo's expectations.
func printResults(w io.Writer, st batchStatus, results []result, deliveries []delivery) error {
	want := make(map[string]float64, len(deliveries))
	for _, dl := range deliveries {
		want[dl.User] = dl.WantScore
	}
	results = slices.Clone(results)
	slices.SortFunc(results, func(a, b result) int { return strings.Compare(a.User, b.User) })

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "USER\tSTATUS\tSCORE\tEXPECTED\tMATCH\tSTEPS")
	matched := 0
	for _, r := range results {
		expected, known := want[r.User]
		match := "-"
		if known {
			match = "no"
			if r.Score != nil && math.Abs(*r.Score-expected) < 1e-9 {
				match = "yes"
				matched++
			}
		}
		score := "-"
		if r.Score != nil {
			score = num(*r.Score)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s/%s\t%s\t%s\t%s\n",
			r.User, r.Status, score, num(r.MaxScore), expectedText(expected, known), match, steps(r.Stages))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("print results: %w", err)
	}
	fmt.Fprintf(w, "Batch: %s\n", st.Status)
	keys := make([]string, 0, len(st.Summary))
	for k := range st.Summary {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v, err := json.Marshal(st.Summary[k])
		if err != nil {
			return fmt.Errorf("print summary: %w", err)
		}
		fmt.Fprintf(w, "Summary %s: %s\n", k, v)
	}
	fmt.Fprintf(w, "Scores as expected: %d/%d\n", matched, len(deliveries))
	return nil
}

func expectedText(v float64, known bool) string {
	if !known {
		return "-"
	}
	return num(v)
}

func num(v float64) string { return fmt.Sprintf("%g", v) }

// steps renders each step as name[/scenario]:state, with a non-zero exit code.
func steps(ss []step) string {
	parts := make([]string, 0, len(ss))
	for _, s := range ss {
		p := s.Name
		if s.Scenario != "" {
			p += "/" + s.Scenario
		}
		p += ":" + s.State
		if s.ExitCode != nil && *s.ExitCode != 0 {
			p += fmt.Sprintf("(exit %d)", *s.ExitCode)
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, " ")
}
