// Package e2e runs ZINC as a user would: the apphost binary with the real
// service binaries, driven over HTTP.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/demo"
	"github.com/zinc-edu/orchestrator/internal/syncio"
)

// TestApphostGradesUploadedDeliveries builds the four binaries, starts the
// whole stack with apphost on free ports, uploads the demo deliveries through
// the API, grades them, checks every score, then stops apphost with SIGTERM
// and checks that no process it started is left.
func TestApphostGradesUploadedDeliveries(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the whole stack")
	}
	bin := buildBinaries(t)
	data := t.TempDir()

	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	a := startApphost(t, bin, "--data-dir", data)
	endpoints := a.endpoints
	api := endpoints["API"]
	require.True(t, strings.HasPrefix(api, "http://127.0.0.1:"), "endpoints: %v", endpoints)
	require.Regexp(t, `^127\.0\.0\.1:\d+$`, endpoints["Temporal"])
	require.Regexp(t, `^nats://127\.0\.0\.1:\d+$`, endpoints["NATS"])
	status, _ := get(t, ctx, endpoints["Temporal UI"]+"/")
	require.Equal(t, http.StatusOK, status, "Temporal UI")

	// Without the printed admin key the API answers 401; with it, everything.
	status, _ = get(t, ctx, api+"/v1/collections/none")
	require.Equal(t, http.StatusUnauthorized, status)
	require.Regexp(t, `^zinc_[A-Za-z0-9_-]{43}$`, endpoints["Token"])
	ctx = withToken(ctx, endpoints["Token"])

	gradeDemoBatch(t, ctx, api)

	children := childPIDs(bin)
	require.Len(t, children, 3, "api and both workers run")
	a.stop()
	require.Empty(t, childPIDs(bin), "processes left after apphost stopped")
}

// apphost is an apphost process a test started.
type apphost struct {
	t         *testing.T
	cmd       *exec.Cmd
	exited    chan error
	stderr    *syncio.Buffer
	endpoints map[string]string
}

// startApphost runs bin's apphost with args and the newcomer's defaults
// (embedded NATS, SQLite, file blobs; the API, Temporal and its UI on free
// loopback ports) and reads the endpoint lines it prints. Cleanup stops it
// the polite way first, so apphost can take its children down with it.
func startApphost(t *testing.T, bin string, args ...string) *apphost {
	t.Helper()
	cmd := exec.Command(filepath.Join(bin, "apphost"), append(args, "--bin-dir", bin,
		"--api-addr", "127.0.0.1:0", "--temporal-addr", "127.0.0.1:0", "--ui-addr", "127.0.0.1:0")...)
	cmd.Env = withoutVars(os.Environ(), "DATABASE_URL", "NATS_URL", "BLOB_URL", "OTEL_EXPORTER_OTLP_ENDPOINT")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	a := &apphost{t: t, cmd: cmd, exited: make(chan error, 1), stderr: &syncio.Buffer{}}
	cmd.Stderr = a.stderr
	require.NoError(t, cmd.Start())
	waited := make(chan struct{})
	go func() { a.exited <- cmd.Wait(); close(waited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-waited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("apphost stderr:\n%s", tail(a.stderr.String(), 6000))
		}
	})
	a.endpoints = readEndpoints(t, stdout)
	return a
}

// stop sends SIGTERM and requires a clean exit within a minute.
func (a *apphost) stop() {
	a.t.Helper()
	require.NoError(a.t, a.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-a.exited:
		require.NoError(a.t, err, "apphost exit status")
	case <-time.After(time.Minute):
		a.t.Fatal("apphost did not stop within a minute of SIGTERM")
	}
}

// gradeDemoBatch uploads the demo deliveries through the API at api, grades
// them in one batch and checks every score.
func gradeDemoBatch(t *testing.T, ctx context.Context, api string) {
	t.Helper()
	configYAML, deliveries := demo.Assignment()
	col := postJSON(t, ctx, api+"/v1/collections", `{"name":"e2e"}`, http.StatusCreated)["id"].(string)
	want := map[string]float64{}
	for _, d := range deliveries {
		upload(t, ctx, api+"/v1/collections/"+col+"/deliveries", d)
		want[d.User] = d.WantScore
	}
	cfg := post(t, ctx, api+"/v1/grading-configs", "application/yaml", strings.NewReader(configYAML), http.StatusCreated)["id"].(string)
	batch := postJSON(t, ctx, api+"/v1/batches", fmt.Sprintf(`{"collection_id":%q,"config_id":%q,"concurrency":4}`, col, cfg), http.StatusAccepted)
	id := batch["id"].(string)
	require.Equal(t, fmt.Sprintf("batch-grading:%s:%s", col, cfg), batch["workflow_id"])

	// A second batch for the pair while the first runs is a conflict.
	postJSON(t, ctx, api+"/v1/batches", fmt.Sprintf(`{"collection_id":%q,"config_id":%q}`, col, cfg), http.StatusConflict)

	var view struct {
		Status   string `json:"status"`
		Progress struct {
			Total, Done int
		} `json:"progress"`
		Summary struct {
			Total int `json:"total"`
		} `json:"summary"`
	}
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		_, body := get(c, ctx, api+"/v1/batches/"+id)
		require.NoError(c, json.Unmarshal(body, &view))
		assert.NotEqual(c, "running", view.Status)
	}, 5*time.Minute, 250*time.Millisecond)
	require.Equal(t, "completed", view.Status)
	require.Equal(t, len(deliveries), view.Summary.Total)

	_, body := get(t, ctx, api+"/v1/batches/"+id+"/results")
	var rows []struct {
		User     string   `json:"user"`
		Status   string   `json:"status"`
		Score    *float64 `json:"score"`
		MaxScore float64  `json:"max_score"`
		Stages   []struct {
			Name  string `json:"name"`
			State string `json:"state"`
		} `json:"stages"`
	}
	require.NoError(t, json.Unmarshal(body, &rows), "%s", body)
	require.Len(t, rows, len(deliveries))
	for _, r := range rows {
		require.Equal(t, "graded", r.Status, r.User)
		require.NotNil(t, r.Score, r.User)
		require.Equal(t, want[r.User], *r.Score, "score of %s", r.User)
		require.Equal(t, 10.0, r.MaxScore)
		require.NotEmpty(t, r.Stages)
	}
}

// buildBinaries compiles apphost, the three services and temporal-service
// into a temporary directory.
func buildBinaries(t *testing.T) string {
	t.Helper()
	bin := t.TempDir()
	root, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	require.NoError(t, err)
	cmd := exec.Command("go", "build", "-o", bin+"/", "./cmd/apphost", "./cmd/api", "./cmd/submission-worker", "./cmd/pipeline-worker", "./cmd/temporal-service")
	cmd.Dir = strings.TrimSpace(string(root))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// tokenKey carries the bearer credential the request helpers send.
type tokenKey struct{}

func withToken(ctx context.Context, token string) context.Context {
	return context.WithValue(ctx, tokenKey{}, token)
}

// authorize adds the context's bearer credential to req, if any.
func authorize(req *http.Request) {
	if token, ok := req.Context().Value(tokenKey{}).(string); ok {
		req.Header.Set("Authorization", "Bearer "+token)
	}
}

// readEndpoints reads apphost's stdout until the five endpoint lines came,
// then keeps draining it so apphost never blocks on a full pipe.
func readEndpoints(t *testing.T, r io.Reader) map[string]string {
	t.Helper()
	lines := make(chan string)
	found := make(chan struct{})
	defer close(found)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-found: // keep draining, nobody listens any more
			}
		}
	}()
	got := map[string]string{}
	timeout := time.After(5 * time.Minute)
	for len(got) < 6 {
		select {
		case line, ok := <-lines:
			require.True(t, ok, "apphost stdout closed after %v", got)
			for _, k := range []string{"API", "Temporal", "Temporal UI", "NATS", "Token", "Processes"} {
				if v, found := strings.CutPrefix(line, k+": "); found {
					got[k] = v
				}
			}
		case <-timeout:
			t.Fatalf("apphost printed only %v", got)
		}
	}
	return got
}

func upload(t *testing.T, ctx context.Context, url string, d demo.Delivery) {
	t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	require.NoError(t, w.WriteField("user", d.User))
	for name, data := range d.Files {
		part, err := w.CreateFormFile("files", name)
		require.NoError(t, err)
		_, err = part.Write(data)
		require.NoError(t, err)
	}
	require.NoError(t, w.Close())
	post(t, ctx, url, w.FormDataContentType(), &body, http.StatusCreated)
}

func postJSON(t *testing.T, ctx context.Context, url, body string, want int) map[string]any {
	t.Helper()
	return post(t, ctx, url, "application/json", strings.NewReader(body), want)
}

func post(t *testing.T, ctx context.Context, url, contentType string, body io.Reader, want int) map[string]any {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, body)
	require.NoError(t, err)
	req.Header.Set("Content-Type", contentType)
	authorize(req)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, want, resp.StatusCode, "POST %s: %s", url, data)
	var v map[string]any
	require.NoError(t, json.Unmarshal(data, &v), "%s", data)
	return v
}

// get fails t on a transport error; t may be an EventuallyWithT collector.
func get(t require.TestingT, ctx context.Context, url string) (int, []byte) {
	if h, ok := t.(interface{ Helper() }); ok {
		h.Helper()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	require.NoError(t, err)
	authorize(req)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, data
}

// childPIDs lists running processes whose executable lies in dir, apphost
// itself excepted.
func childPIDs(dir string) []string {
	var pids []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if err != nil || filepath.Dir(exe) != dir || filepath.Base(exe) == "apphost" {
			continue
		}
		pids = append(pids, e.Name()+":"+filepath.Base(exe))
	}
	return pids
}

func withoutVars(env []string, names ...string) []string {
	var out []string
	for _, kv := range env {
		keep := true
		for _, n := range names {
			if strings.HasPrefix(kv, n+"=") {
				keep = false
			}
		}
		if keep {
			out = append(out, kv)
		}
	}
	return out
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
