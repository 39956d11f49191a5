package cli_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/zinc-edu/orchestrator/internal/cli"
)

// A server that answers 2xx with an object naming no batch (another service
// at ZINC_API_URL, a proxy's JSON, a broken deployment) made "batch start"
// and "batch regrade-failed" print an empty line and exit 0, so a script's
// B=$(zinc batch start …) went on with an empty id.
func TestBadInputSuccessAnswersWithoutABatchID(t *testing.T) {
	for _, body := range []string{`{}`, `{"status":"running"}`, `{"id":""}`} {
		for _, args := range [][]string{
			{"batch", "start", "--collection", "c", "--config", "g"},
			{"batch", "regrade-failed", "b1"},
		} {
			t.Run(args[1]+" "+body, func(t *testing.T) {
				ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusAccepted)
					_, _ = w.Write([]byte(body))
				}))
				defer ts.Close()

				code, stdout, stderr := run(t, ts.URL, args...)

				assert.Equal(t, cli.ExitFailure, code)
				assert.Empty(t, stdout)
				assert.Contains(t, stderr, "names no batch id")
			})
		}
	}
}

// A listing whose cursors loop (a page naming itself, or two naming each
// other) was either taken as complete, so "deliveries import" uploaded
// every user again as a new version, or followed for 10,000 requests. The
// import now stops at the first repeated cursor and uploads nothing.
func TestImportStopsAtLoopingPages(t *testing.T) {
	for name, next := range map[string]map[string]string{
		"self":  {"": "a", "a": "a"},
		"cycle": {"": "a", "a": "b", "b": "a"},
	} {
		t.Run(name, func(t *testing.T) {
			var lists, uploads atomic.Int64
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodPost {
					uploads.Add(1)
					w.WriteHeader(http.StatusCreated)
					_, _ = w.Write([]byte(`{"id":"d"}`))
					return
				}
				lists.Add(1)
				cursor := r.URL.Query().Get("cursor")
				page := map[string]any{"items": []map[string]string{{"id": "d-" + cursor, "user": "u-" + cursor}}, "next": next[cursor]}
				w.Header().Set("Content-Type", "application/json")
				_ = json.NewEncoder(w).Encode(page)
			}))
			defer ts.Close()
			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{"alice/main.c": "int main(){}", "bob/main.c": "int main(){}"})

			code, stdout, stderr := run(t, ts.URL, "deliveries", "import", filepath.Clean(dir), "--collection", "c1")

			assert.Equal(t, cli.ExitFailure, code, stdout)
			assert.Contains(t, stderr, `repeated cursor "a"`)
			assert.LessOrEqual(t, lists.Load(), int64(len(next)+1))
			assert.Zero(t, uploads.Load(), "nothing is uploaded on a listing that cannot be read")
		})
	}
}
