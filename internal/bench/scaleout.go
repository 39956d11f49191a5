package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/zinc-edu/orchestrator/internal/grading"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/zinc-edu/orchestrator/internal/demo"
	"github.com/zinc-edu/orchestrator/internal/devstack"
)

// ScaleOutConfig says what the scale-out benchmark runs: the apphost binary
// with the embedded dev server and with the PostgreSQL cluster at each
// pipeline-worker count, a trivial and a realistic batch on each, through
// the HTTP API.
type ScaleOutConfig struct {
	// BinDir holds apphost, api, submission-worker, pipeline-worker and
	// temporal-service.
	BinDir string
	// PostgresURL is the server for the cluster; each setup gets a fresh
	// database, dropped afterwards.
	PostgresURL string
	// Workers are the pipeline-worker counts on the cluster.
	Workers []int
	// TrivialN is the size of the trivial batch (one stage running `true`
	// in the sandbox); RealisticN of the realistic one (the demo assignment,
	// repeated).
	TrivialN, RealisticN int
	// Concurrency is the batch's window.
	Concurrency int
	// ChunkSize is the batch's chunk_size: deliveries per activity (0 or 1:
	// one each).
	ChunkSize int
}

// ScaleOutRow is one batch on one setup.
type ScaleOutRow struct {
	Setup    string
	Workers  int
	Workload string
	N        int
	Seconds  float64
	// CPU is seconds of CPU per component during the batch.
	CPU map[string]float64
}

// Rate is deliveries per second.
func (r ScaleOutRow) Rate() float64 { return float64(r.N) / r.Seconds }

const trivialConfig = `version: 1
name: bench-trivial
stages:
  - name: noop
    command: ["true"]
    points: 1
    timeout: 10s
`

// ScaleOut runs every setup and returns one row per batch.
func ScaleOut(ctx context.Context, cfg ScaleOutConfig, log *slog.Logger) ([]ScaleOutRow, error) {
	var rows []ScaleOutRow
	setups := []struct {
		name    string
		workers int
	}{{"dev server (SQLite)", 1}}
	for _, n := range cfg.Workers {
		setups = append(setups, struct {
			name    string
			workers int
		}{"cluster (PostgreSQL)", n})
	}
	for _, s := range setups {
		log.InfoContext(ctx, "scale-out setup", "setup", s.name, "pipeline_workers", s.workers)
		r, err := scaleOutSetup(ctx, cfg, s.name, s.workers, strings.HasPrefix(s.name, "cluster"))
		if err != nil {
			return rows, fmt.Errorf("%s with %d workers: %w", s.name, s.workers, err)
		}
		rows = append(rows, r...)
	}
	return rows, nil
}

func scaleOutSetup(ctx context.Context, cfg ScaleOutConfig, name string, workers int, cluster bool) ([]ScaleOutRow, error) {
	data, err := os.MkdirTemp("", "zinc-scaleout-")
	if err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	defer func() { _ = os.RemoveAll(data) }()
	args := []string{"--data-dir", data, "--bin-dir", cfg.BinDir, "--pipeline-workers", strconv.Itoa(workers),
		"--api-addr", "127.0.0.1:0", "--temporal-addr", "127.0.0.1:0", "--ui-addr", "127.0.0.1:0"}
	if cluster {
		u, err := url.Parse(cfg.PostgresURL)
		if err != nil {
			return nil, fmt.Errorf("parse postgres url: %w", err)
		}
		u.Path = "/temporal_bench_" + strings.ToLower(rand.Text()[:8])
		db := u.String()
		defer func() { _ = devstack.DropPostgres(context.WithoutCancel(ctx), db) }()
		args = append(args, "--temporal-db", db, "--history-shards", "4")
	}
	cmd := exec.CommandContext(ctx, filepath.Join(cfg.BinDir, "apphost"), args...)
	// The bench uploads its deliveries as fast as the API takes them: the
	// per-client rate limit is not what it measures.
	cmd.Env = append(os.Environ(), "DATABASE_URL=", "NATS_URL=", "BLOB_URL=", "LOG_LEVEL=warn",
		"ZINC_API_RATE_LIMIT=100000", "ZINC_API_RATE_BURST=100000")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("pipe apphost: %w", err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start apphost: %w", err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	lines := map[string]string{}
	sc := bufio.NewScanner(stdout)
	// Processes is the last endpoint line apphost prints.
	for lines["Processes"] == "" && sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ": "); ok {
			lines[k] = v
		}
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	api, procs := &apiClient{base: lines["API"], token: lines["Token"]}, lines["Processes"]
	if api.base == "" || api.token == "" || procs == "" {
		return nil, errors.New("apphost printed no endpoints")
	}
	configYAML, assignment := demo.Assignment()
	var rows []ScaleOutRow
	for _, w := range []struct {
		name, config string
		n            int
	}{{"trivial", trivialConfig, cfg.TrivialN}, {"realistic", configYAML, cfg.RealisticN}} {
		if w.n == 0 {
			continue
		}
		secs, cpu, err := scaleOutBatch(ctx, api, procs, cmd.Process.Pid, w.config, assignment, w.n, cfg)
		if err != nil {
			return rows, fmt.Errorf("%s batch: %w", w.name, err)
		}
		rows = append(rows, ScaleOutRow{Setup: name, Workers: workers, Workload: w.name, N: w.n, Seconds: secs, CPU: cpu})
	}
	return rows, nil
}

// scaleOutBatch uploads n deliveries (the assignment's, cycled), grades them
// in one batch and returns its wall time and the CPU each component took.
func scaleOutBatch(ctx context.Context, c *apiClient, procs string, apphostPID int, config string, assignment []demo.Delivery, n int, cfg ScaleOutConfig) (float64, map[string]float64, error) {
	var col struct{ ID string }
	if err := c.do(ctx, "/v1/collections", "application/json", strings.NewReader(`{"name":"scaleout"}`), &col); err != nil {
		return 0, nil, err
	}
	for i := range n {
		d := assignment[i%len(assignment)]
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		_ = mw.WriteField("user", fmt.Sprintf("%s-%05d", d.User, i))
		for fname, b := range d.Files {
			part, _ := mw.CreateFormFile("files", fname)
			_, _ = part.Write(b)
		}
		_ = mw.Close()
		if err := c.do(ctx, "/v1/collections/"+col.ID+"/deliveries", mw.FormDataContentType(), &body, nil); err != nil {
			return 0, nil, err
		}
	}
	var conf struct{ ID string }
	if err := c.do(ctx, "/v1/grading-configs", "application/yaml", strings.NewReader(config), &conf); err != nil {
		return 0, nil, err
	}
	before := cpuByComponent(procs, apphostPID)
	start := time.Now()
	var batch struct{ ID string }
	req := fmt.Sprintf(`{"collection_id":%q,"config_id":%q,"concurrency":%d,"chunk_size":%d}`, col.ID, conf.ID, cfg.Concurrency, max(cfg.ChunkSize, 1))
	if err := c.do(ctx, "/v1/batches", "application/json", strings.NewReader(req), &batch); err != nil {
		return 0, nil, err
	}
	for {
		var view struct {
			Status  string
			Summary *grading.Summary
		}
		if err := c.do(ctx, "/v1/batches/"+batch.ID, "", nil, &view); err != nil {
			return 0, nil, err
		}
		if view.Status != "running" && view.Status != "" {
			if view.Status != "completed" {
				return 0, nil, fmt.Errorf("batch ended %s", view.Status)
			}
			// A batch whose deliveries all failed completes too, and fast.
			if view.Summary == nil || view.Summary.Counts.Graded != n {
				return 0, nil, fmt.Errorf("batch completed with %+v graded of %d", view.Summary, n)
			}
			break
		}
		select {
		case <-ctx.Done():
			return 0, nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	secs := time.Since(start).Seconds()
	after := cpuByComponent(procs, apphostPID)
	for k := range after {
		after[k] -= before[k]
	}
	return secs, after, nil
}

// apiClient calls the API with the apphost's local admin key.
type apiClient struct{ base, token string }

// do GETs path when body is nil, POSTs otherwise, and decodes the answer
// into out when out is not nil.
func (c *apiClient) do(ctx context.Context, path, contentType string, body io.Reader, out any) error {
	method := http.MethodGet
	if body != nil {
		method = http.MethodPost
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: read body: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d: %s", method, path, resp.StatusCode, data)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decode: %w", method, path, err)
	}
	return nil
}

// cpuByComponent sums the CPU seconds so far of apphost, of each child in
// the status directory (workers of one kind together) and of every
// postgres process on the machine.
func cpuByComponent(procs string, apphostPID int) map[string]float64 {
	out := map[string]float64{"apphost": cpuSeconds(apphostPID)}
	entries, _ := os.ReadDir(procs)
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			continue
		}
		b, err := os.ReadFile(filepath.Join(procs, e.Name()))
		if err != nil {
			continue
		}
		var st struct{ PID int }
		if json.Unmarshal(b, &st) != nil {
			continue
		}
		kind := strings.TrimRight(name, "-0123456789")
		out[kind] += cpuSeconds(st.PID)
	}
	all, _ := os.ReadDir("/proc")
	for _, e := range all {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if comm, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "comm")); strings.TrimSpace(string(comm)) == "postgres" {
			out["postgres"] += cpuSeconds(pid)
		}
	}
	return out
}

// cpuSeconds is the user plus system CPU time of pid, 0 when it is gone.
func cpuSeconds(pid int) float64 {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0
	}
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(fields) < 13 {
		return 0
	}
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	// Linux reports clock ticks of 1/100 s (USER_HZ).
	return (utime + stime) / 100
}

// ScaleOutMarkdown renders rows as the scale-out table, each rate also as a
// ratio to the dev server's on the same workload.
func ScaleOutMarkdown(rows []ScaleOutRow) string {
	base := map[string]float64{}
	comps := map[string]bool{}
	for _, r := range rows {
		if strings.HasPrefix(r.Setup, "dev") {
			base[r.Workload] = r.Rate()
		}
		for k := range r.CPU {
			comps[k] = true
		}
	}
	names := make([]string, 0, len(comps))
	for k := range comps {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("| setup | pipeline workers | batch | N | seconds | deliveries/s | ratio to dev server |")
	for _, n := range names {
		fmt.Fprintf(&b, " CPU s %s |", n)
	}
	b.WriteString("\n|---|---|---|---|---|---|---|" + strings.Repeat("---|", len(names)) + "\n")
	for _, r := range rows {
		ratio := "—"
		if base[r.Workload] > 0 {
			ratio = fmt.Sprintf("%.2f", r.Rate()/base[r.Workload])
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %d | %.1f | %.2f | %s |", r.Setup, r.Workers, r.Workload, r.N, r.Seconds, r.Rate(), ratio)
		for _, n := range names {
			fmt.Fprintf(&b, " %.1f |", r.CPU[n])
		}
		b.WriteString("\n")
	}
	return b.String()
}
