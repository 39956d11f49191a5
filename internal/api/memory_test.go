package api

import (
	"bufio"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	// These match testdata/uploadapi.
	parallelUploads = 8
	uploadFiles     = 4
	uploadFileBytes = 16 << 20 // four files: 64 MiB per upload
	// rssBound is the bound on the API's resident memory.
	rssBound = 200 << 20
)

// TestParallelUploadsStayWithinMemoryBound sends eight 64 MiB deliveries at
// once to an API process and reads that process's peak resident memory.
func TestParallelUploadsStayWithinMemoryBound(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc/<pid>/status")
	}
	dir := t.TempDir()
	// The API process is testdata/uploadapi: the API and its store, built
	// without -race (whose shadow memory would be measured too) and without
	// this package's test dependencies (a Temporal server among them).
	bin := filepath.Join(dir, "uploadapi")
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "./testdata/uploadapi")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "build the API process: %s", out)
	// Not CommandContext: the context ends before the cleanup that stops
	// the process by closing its stdin.
	cmd := exec.Command(bin, dir)
	// Spooled uploads and packed archives go to dir, removed with it.
	cmd.Env = append(os.Environ(), "TMPDIR="+dir)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = stdin.Close()
		assert.NoError(t, cmd.Wait())
		http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err, "the API process did not start")
	addr, key, ok := strings.Cut(strings.TrimSpace(line), " ")
	require.True(t, ok, "child said %q", line)
	base := "http://" + addr

	c := &client{t: t, base: base, key: key}
	course := c.json("POST", "/v1/courses", `{"name":"memory"}`)
	coll := c.json("POST", "/v1/collections", fmt.Sprintf(`{"name":"big","course":%q}`, course["id"]))
	before := peakRSS(t, cmd.Process.Pid)

	var wg sync.WaitGroup
	codes := make([]int, parallelUploads)
	bodies := make([]string, parallelUploads)
	for i := range parallelUploads {
		wg.Go(func() {
			codes[i], bodies[i] = c.upload(fmt.Sprintf("%s/v1/collections/%s/deliveries", base, coll["id"]), fmt.Sprintf("student%d", i))
		})
	}
	wg.Wait()
	for i := range parallelUploads {
		assert.Equal(t, http.StatusCreated, codes[i], "upload %d: %s", i, bodies[i])
		assert.Contains(t, bodies[i], fmt.Sprintf(`"files":%d`, uploadFiles), "upload %d", i)
	}
	peak := peakRSS(t, cmd.Process.Pid)
	t.Logf("API peak RSS: %d MiB before the uploads, %d MiB after %d parallel uploads of %d MiB",
		before>>20, peak>>20, parallelUploads, uploadFiles*uploadFileBytes>>20)
	assert.Less(t, peak, int64(rssBound), "peak RSS of the API process")
}

// client talks to the API process over HTTP.
type client struct {
	t    *testing.T
	base string
	key  string
}

func (c *client) json(method, path, body string) map[string]any {
	c.t.Helper()
	req, err := http.NewRequestWithContext(c.t.Context(), method, c.base+path, strings.NewReader(body))
	require.NoError(c.t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.key)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	defer func() { _ = resp.Body.Close() }()
	got, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	require.Equal(c.t, http.StatusCreated, resp.StatusCode, "%s %s: %s", method, path, got)
	return object(c.t, response{code: resp.StatusCode, body: got})
}

// upload streams a delivery of uploadFiles generated files as user: the
// body is written while it is sent, never held in memory.
func (c *client) upload(url, user string) (int, string) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		err := mw.WriteField("user", user)
		for i := 0; err == nil && i < uploadFiles; i++ {
			var part io.Writer
			if part, err = mw.CreateFormFile("files", fmt.Sprintf("src/data%d.bin", i)); err == nil {
				_, err = io.Copy(part, io.LimitReader(&pattern{seed: byte(i)}, uploadFileBytes))
			}
		}
		if err == nil {
			err = mw.Close()
		}
		_ = pw.CloseWithError(err)
	}()
	req, err := http.NewRequestWithContext(c.t.Context(), http.MethodPost, url, pr)
	if err != nil {
		return 0, err.Error()
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+c.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		_ = pr.CloseWithError(err)
		return 0, err.Error()
	}
	defer func() { _ = resp.Body.Close() }()
	got, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(got)
}

// pattern yields an endless, cheaply compressed byte stream.
type pattern struct {
	seed byte
	n    int
}

func (p *pattern) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = p.seed + byte(p.n/4096)
		p.n++
	}
	return len(b), nil
}

// peakRSS reads a process's peak resident set size (VmHWM) in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	for line := range strings.SplitSeq(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	require.FailNow(t, "no VmHWM in /proc/<pid>/status")
	return 0
}
