package cli_test

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/cli"
)

// An error answer that is not the API's JSON (a proxy's, or another
// server's) was reported by its status alone, "400 Bad Request", with
// what the server said dropped. The message now quotes a text answer's
// first line, or says what kind of answer came back.
func TestBadInputNonJSONErrorAnswers(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		want        string
	}{
		{"plain text", http.StatusBadRequest, "text/plain; charset=utf-8", "collection id too long\nsecond line", `read batch b1: 400 Bad Request: "collection id too long"`},
		{"no content type", http.StatusRequestEntityTooLarge, "", "body exceeds 1m", `read batch b1: 413 Request Entity Too Large: "body exceeds 1m"`},
		{"long text", http.StatusBadGateway, "text/plain", strings.Repeat("x", 500), `502 Bad Gateway: "` + strings.Repeat("x", 200) + `…"`},
		{"html page", http.StatusBadGateway, "text/html", "<html><body>bad gateway</body></html>", "502 Bad Gateway: the answer is text/html, not the ZINC API's JSON (a proxy's, or ZINC_API_URL names another server)"},
		{"empty", http.StatusServiceUnavailable, "text/plain", "", "read batch b1: 503 Service Unavailable\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				if tt.contentType != "" {
					w.Header().Set("Content-Type", tt.contentType)
				} else {
					w.Header()["Content-Type"] = nil
				}
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			defer ts.Close()

			code, stdout, stderr := run(t, ts.URL, "batch", "status", "b1")

			assert.Equal(t, cli.ExitFailure, code)
			assert.Empty(t, stdout)
			assert.Contains(t, stderr, tt.want)
		})
	}
}

// A server that answers 200 with nothing, or with null, where the API
// answers an object (a proxy, a mock, another service at ZINC_API_URL) made
// "batch start" print an empty id and exit 0.
func TestBadInputEmptySuccessAnswers(t *testing.T) {
	for _, body := range []string{"", "null", " null\n"} {
		t.Run(strconv.Quote(body), func(t *testing.T) {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusAccepted)
				_, _ = w.Write([]byte(body))
			}))
			defer ts.Close()

			code, stdout, stderr := run(t, ts.URL, "batch", "start", "--collection", "c", "--config", "g")

			assert.Equal(t, cli.ExitFailure, code)
			assert.Empty(t, stdout)
			assert.Contains(t, stderr, "the answer is empty, not the ZINC API's JSON")
		})
	}
}

// "batch start --concurrency 0" started a batch with the service's default
// window: 0 meant "not given", so an explicit value outside 1..500 was
// dropped instead of refused. A given --concurrency is now checked with the
// workflows' rule, and nothing reaches the API.
func TestBadInputConcurrencyOutOfRangeStartsNothing(t *testing.T) {
	for _, n := range []string{"0", "-3", "501"} {
		t.Run(n, func(t *testing.T) {
			var calls atomic.Int32
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				calls.Add(1)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusAccepted)
				_, _ = w.Write([]byte(`{"id":"b1"}`))
			}))
			defer ts.Close()

			code, stdout, stderr := run(t, ts.URL, "batch", "start", "--collection", "c", "--config", "g", "--concurrency", n)

			assert.Equal(t, cli.ExitUsage, code)
			assert.Empty(t, stdout)
			assert.Contains(t, stderr, "--concurrency "+n+": want 1..500")
			assert.Zero(t, calls.Load(), "no request is sent")
		})
	}
}

// "config try --delivery" of a folder that does not exist said "copy
// delivery DIR: stat .: no such file or directory", and of a file "stat .:
// not a directory": the path the user gave was not the one quoted. Both now
// name the path given.
func TestBadInputConfigTryDeliveryNotAFolder(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"pipeline.yaml": "version: 1\nname: cat\nstages:\n  - {name: right, command: [cat, answer.txt], expected_stdout: \"42\\n\", points: 1}\n",
		"main.c":        "int main(){}\n",
	})
	tests := []struct {
		name string
		give string
		want string
	}{
		{"missing", filepath.Join(dir, "nobody"), "delivery: stat " + filepath.Join(dir, "nobody") + ": no such file or directory"},
		{"a file", filepath.Join(dir, "main.c"), "delivery " + filepath.Join(dir, "main.c") + ": not a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := run(t, "", "config", "try", filepath.Join(dir, "pipeline.yaml"), "--delivery", tt.give)

			assert.Equal(t, cli.ExitFailure, code)
			assert.Empty(t, stdout)
			assert.Contains(t, stderr, tt.want)
		})
	}
}

// A folder holding one user whose files sit in subfolders ("bob/src/main.c")
// was taken for a class folder and looked through: the delivery went to user
// "src". DIR holds one folder per user, so a single top-level folder is
// looked through only when it holds the user folders of several users.
func TestBadInputImportOneUserWithSubfolders(t *testing.T) {
	tests := []struct {
		name      string
		files     map[string]string
		wantUsers map[string][]string
	}{
		{"one user, nested files", map[string]string{"bob/src/main.c": "x", "bob/src/util.h": "y"},
			map[string][]string{"bob": {"src/main.c", "src/util.h"}}},
		{"a class folder", map[string]string{"class/ann/main.c": "x", "class/bob/src/main.c": "y"},
			map[string][]string{"ann": {"main.c"}, "bob": {"src/main.c"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, tt.files)

			subs, refused, err := cli.ReadSubmissions(dir, false)

			require.NoError(t, err)
			assert.Empty(t, refused)
			got := map[string][]string{}
			for _, s := range subs {
				for _, f := range s.Files {
					got[s.User] = append(got[s.User], f.Name)
				}
				slices.Sort(got[s.User])
			}
			assert.Equal(t, tt.wantUsers, got)
		})
	}
}
