package cli_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/api"
	"github.com/zinc-edu/orchestrator/internal/auth"
	"github.com/zinc-edu/orchestrator/internal/cli"
	"github.com/zinc-edu/orchestrator/internal/environment/envtest"
	"github.com/zinc-edu/orchestrator/internal/harness"
)

const noopConfig = `version: 1
name: noop
stages:
  - name: noop
    command: ["true"]
    points: 1
`

// stack runs the whole grading stack (embedded Temporal, NATS, SQLite) with
// the no-op runner behind the real API handler.
func stack(t *testing.T) (*harness.Stack, *httptest.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := harness.Start(ctx, harness.Options{
		Dir: t.TempDir(), Engine: &harness.NoopEngine{}, NATSURL: os.Getenv("NATS_URL"),
		Stream: "ZINCCLI", SubjectPrefix: "zinccli", TaskQueuePrefix: "cli",
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Stop()) })
	h, err := st.API(ctx, api.Config{}, testToken)
	require.NoError(t, err)
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return st, ts
}

// testToken is the admin API key the tests' API accepts.
const testToken = auth.KeyPrefix + "cli-test-admin"

// run executes the command line and returns exit code, stdout and stderr.
func run(t *testing.T, apiURL string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	env := map[string]string{cli.EnvAPIURL: apiURL, cli.EnvToken: testToken, cli.EnvConfig: filepath.Join(t.TempDir(), "none.yaml")}
	if apiURL == "" {
		delete(env, cli.EnvAPIURL)
	}
	code := cli.Execute(t.Context(), args, cli.Env{Stdout: &out, Stderr: &errOut, Getenv: func(k string) string { return env[k] }})
	return code, out.String(), errOut.String()
}

func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
}

// TestImportGradeAndReadResults imports a class from a folder (plain and
// Moodle-style user folders), imports again to see nothing repeated, grades
// it with batch start --watch and reads the results as CSV; a delivery the
// runner fails once makes the batch finish with failures (exit 3), which
// regrade-failed then grades.
func TestImportGradeAndReadResults(t *testing.T) {
	st, ts := stack(t)
	seeded, err := st.Seed(t.Context(), noopConfig, nil)
	require.NoError(t, err)

	class := t.TempDir()
	writeFiles(t, class, map[string]string{
		"alice/main.c":     "int main(){}",
		"alice/lib/util.h": "//",
		"bob/main.c":       "int main(){}",
		"Carol Jones_1234_assignsubmission_file_/main.c": "int main(){}",
		"dave/main.c":    "int main(){}",
		"dave/fail-once": "dave-" + t.Name(),
		"notes.txt":      "stray file",
		".DS_Store":      "litter",
	})

	code, out, stderr := run(t, ts.URL, "deliveries", "import", class, "--collection", seeded.CollectionID)
	assert.Equal(t, cli.ExitFailure, code, "a refused file fails the import: %s %s", out, stderr)
	assert.Contains(t, out, "imported 4, skipped 0 (already there), refused 1")
	assert.Contains(t, out, "refused: notes.txt: not inside a user folder")
	ds, err := st.Store.LatestDeliveries(t.Context(), seeded.CollectionID, "", 100)
	require.NoError(t, err)
	var users []string
	for _, d := range ds {
		users = append(users, d.User)
	}
	assert.Equal(t, []string{"Carol Jones", "alice", "bob", "dave"}, users)

	// Resumable: a second run uploads nothing twice.
	require.NoError(t, os.Remove(filepath.Join(class, "notes.txt")))
	code, out, stderr = run(t, ts.URL, "deliveries", "import", class, "--collection", seeded.CollectionID)
	assert.Equal(t, cli.ExitOK, code, out)
	assert.Contains(t, out, "imported 0, skipped 4 (already there), refused 0")
	assert.NotContains(t, stderr, "cannot list", "the API lists the collection's deliveries")

	code, out, stderr = run(t, ts.URL, "batch", "start", "--collection", seeded.CollectionID, "--config", seeded.ConfigID, "--watch")
	require.Equal(t, cli.ExitFailures, code, "one delivery fails once: %s %s", out, stderr)
	batchID := strings.TrimSpace(strings.Split(out, "\n")[0])
	require.NotEmpty(t, batchID)
	assert.Equal(t, batchID+"\n", out, "stdout holds the batch id only")
	assert.Contains(t, stderr, "batch "+batchID+": completed\n", "the end of the batch is said once the bar is gone")
	assert.Contains(t, stderr, "progress: 4/4 done, 1 failed, 0 in flight\ngraded: 3, ungraded: 1, error: 0")

	code, out, _ = run(t, ts.URL, "batch", "results", batchID, "--format", "csv")
	require.Equal(t, cli.ExitOK, code)
	require.True(t, strings.HasPrefix(out, "user,status,score,max_score\n"), "the contract's header: %s", out)
	code, out, _ = run(t, ts.URL, "batch", "results", batchID, "--format", "csv", "--delivery-ids")
	require.Equal(t, cli.ExitOK, code)
	records, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	require.NoError(t, err)
	require.Equal(t, []string{"user", "status", "score", "max_score", "delivery_id"}, records[0])
	require.Len(t, records, 5)
	byUser := map[string][]string{}
	for _, r := range records[1:] {
		byUser[r[0]] = r[:4]
		assert.NotEmpty(t, r[4], "delivery_id of %s", r[0])
	}
	assert.Equal(t, []string{"alice", "graded", "1", "1"}, byUser["alice"])
	assert.Equal(t, []string{"dave", "ungraded", "", "1"}, byUser["dave"])

	code, out, _ = run(t, ts.URL, "batch", "status", batchID)
	assert.Equal(t, cli.ExitFailures, code)
	assert.Contains(t, out, "completed")
	assert.Contains(t, out, "failed: dave")

	code, out, _ = run(t, ts.URL, "batch", "results", batchID, "--format", "json")
	assert.Equal(t, cli.ExitOK, code)
	assert.Contains(t, out, `"delivery_id"`)

	code, out, _ = run(t, ts.URL, "batch", "regrade-failed", batchID)
	require.Equal(t, cli.ExitOK, code, out)
	regrade := strings.TrimSpace(out)
	code, out, _ = run(t, ts.URL, "batch", "status", regrade, "--watch")
	assert.Equal(t, cli.ExitOK, code, out)
	assert.Contains(t, out, "graded: 1")

	code, _, stderr = run(t, ts.URL, "batch", "pause", regrade)
	assert.Equal(t, cli.ExitFailure, code, "pausing a finished batch is refused")
	assert.Contains(t, stderr, "409")
}

// TestExitCodes covers usage errors and failures that need no stack.
func TestExitCodes(t *testing.T) {
	tests := []struct {
		name     string
		giveURL  string
		giveArgs []string
		wantCode int
		wantErr  string
	}{
		{"unknown command", "http://127.0.0.1:1", []string{"frobnicate"}, cli.ExitUsage, "unknown command"},
		{"unknown flag", "http://127.0.0.1:1", []string{"batch", "status", "x", "--bogus"}, cli.ExitUsage, "unknown flag"},
		{"missing argument", "http://127.0.0.1:1", []string{"batch", "pause"}, cli.ExitUsage, "want a batch ID"},
		{"bad format", "http://127.0.0.1:1", []string{"batch", "results", "x", "--format", "xml"}, cli.ExitUsage, "want table, csv or json"},
		{"missing collection", "http://127.0.0.1:1", []string{"batch", "start", "--config", "c"}, cli.ExitUsage, "--collection and --config are required"},
		{"bad deliveries", "http://127.0.0.1:1", []string{"batch", "start", "--collection", "c", "--config", "c", "--deliveries", "some"}, cli.ExitUsage, `--deliveries "some": want latest or all`},
		{"no api url", "", []string{"batch", "status", "x"}, cli.ExitUsage, "ZINC_API_URL"},
		{"unreachable api", "http://127.0.0.1:1", []string{"batch", "status", "x"}, cli.ExitFailure, "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := run(t, tt.giveURL, tt.giveArgs...)
			assert.Equal(t, tt.wantCode, code)
			assert.Contains(t, stderr, tt.wantErr)
		})
	}
}

// TestConfigValidate checks the offline validation: exit 0 when valid, 1
// with path-addressed problems otherwise.
func TestConfigValidate(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"good.yaml": noopConfig,
		"bad.yaml":  "version: 1\nname: bad\nstages:\n  - name: x\n    command: []\n    points: -1\n",
	})
	code, out, _ := run(t, "", "config", "validate", filepath.Join(dir, "good.yaml"))
	assert.Equal(t, cli.ExitOK, code, out)
	assert.Contains(t, out, "valid")

	code, out, _ = run(t, "", "config", "validate", filepath.Join(dir, "bad.yaml"))
	assert.Equal(t, cli.ExitFailure, code, out)
	assert.Contains(t, out, "invalid grading config")
	assert.Contains(t, out, "stages[0].command")
}

// TestConfigTry runs a small pipeline on one delivery in the local sandbox.
func TestConfigTry(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"pipeline.yaml": `version: 1
name: cat
stages:
  - name: right
    command: [cat, answer.txt]
    expected_stdout: "42\n"
    timeout: 10s
    points: 3
  - name: wrong
    command: [cat, answer.txt]
    expected_stdout: "41\n"
    timeout: 10s
    points: 2
`,
		"alice/answer.txt": "42\n",
	})
	code, out, stderr := run(t, "", "config", "try", filepath.Join(dir, "pipeline.yaml"), "--delivery", filepath.Join(dir, "alice"))
	require.Equal(t, cli.ExitOK, code, "%s %s", out, stderr)
	assert.Contains(t, out, "right: success")
	assert.Contains(t, out, "wrong: failed")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	assert.Equal(t, "score: 3/5", lines[len(lines)-1])
}

// TestConfigTryUnpacksArchives: an uploaded .tar.gz is unpacked into
// assignment files, as the API does, so scenarios_from finds its tests
// and an archive whose content a stage cannot use is refused by path,
// instead of the stage running once with no input and no comparison.
func TestConfigTryUnpacksArchives(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"pipeline.yaml": `version: 2
name: sums
files:
  - {name: tests.tar.gz, source: upload}
stages:
  - name: bb
    command: [sh, -c, "read a b; echo $((a + b))"]
    scenarios_from: {glob: "tests/*.in", expected: "{dir}/{stem}.out", points: 1}
`,
		"wrong.yaml": `version: 2
name: sums
files:
  - {name: tests.tar.gz, source: upload}
stages:
  - name: bb
    command: [cat]
    scenarios_from: {glob: "other/*.in", expected: "{dir}/{stem}.out", points: 1}
`,
		"alice/README": "sums\n",
	})
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, body := range map[string]string{
		"tests/2.in": "1 1\n", "tests/2.out": "2\n",
		"tests/10.in": "5 5\n", "tests/10.out": "11\n",
	} {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}))
		_, err := tw.Write([]byte(body))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	require.NoError(t, gz.Close())
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tests.tar.gz"), buf.Bytes(), 0o600))

	code, out, stderr := run(t, "", "config", "try", filepath.Join(dir, "pipeline.yaml"), "--delivery", filepath.Join(dir, "alice"))
	require.Equal(t, cli.ExitOK, code, "%s %s", out, stderr)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 3, out)
	assert.Equal(t, "bb/2: success (exit 0) 1/1 points", lines[0])
	assert.True(t, strings.HasPrefix(lines[1], "bb/10: failed (exit 0) 0/1 points"), lines[1])
	assert.Equal(t, "score: 1/2", lines[2])

	code, out, _ = run(t, "", "config", "try", filepath.Join(dir, "wrong.yaml"), "--delivery", filepath.Join(dir, "alice"))
	assert.Equal(t, cli.ExitFailure, code, out)
	assert.Contains(t, out, "invalid grading config")
	assert.Contains(t, out, "stages[0].scenarios_from.glob")
}

// TestConfigTryInAnEnvironment runs a pipeline in an image given as a
// layout tar, as it would run once the image is uploaded; without the tar
// the command refuses rather than run on this machine's toolchain.
func TestConfigTryInAnEnvironment(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"pipeline.yaml": `version: 1
name: calc
environment: {image: tiny}
stages:
  - {name: add, command: [tinyrt, calc, main.txt], stdin: "2 3\n", expected_stdout: "5\n", points: 1}
  - {name: host, command: [tinyrt, probe, /usr/bin/env], expected_stdout: "/usr/bin/env absent\n", points: 1}
`,
		"alice/main.txt": "add\n",
	})
	image := filepath.Join(dir, "tiny.tar")
	require.NoError(t, os.WriteFile(image, envtest.NewLayout(t, envtest.Layer(t, envtest.Runnable(t)...)).Tar(t), 0o600))
	pipeline, alice := filepath.Join(dir, "pipeline.yaml"), filepath.Join(dir, "alice")

	code, _, stderr := run(t, "", "config", "try", pipeline, "--delivery", alice)
	assert.Equal(t, cli.ExitUsage, code)
	assert.Contains(t, stderr, `the definition runs in environment "tiny": pass its image layout tar with --image`)

	code, out, stderr := run(t, "", "config", "try", pipeline, "--delivery", alice, "--image", image)
	require.Equal(t, cli.ExitOK, code, "%s %s", out, stderr)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	assert.Equal(t, "score: 2/2", lines[len(lines)-1])
}
