package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/environment/envtest"
	"github.com/zinc-edu/orchestrator/internal/grading"
)

// calcConfig grades a delivery's main.txt, a program of the tiny
// "language" only the environment's image can run, and checks that the
// worker's toolchain is not there.
const calcConfig = `version: 1
name: calc
environment: {image: tiny-calc}
stages:
  - {name: small, command: [tinyrt, calc, main.txt], stdin: "2 3\n", expected_stdout: "5\n", points: 1}
  - {name: large, command: [tinyrt, calc, main.txt], stdin: "20 30\n", expected_stdout: "50\n", points: 1}
  - name: isolated
    command: [tinyrt, probe, /usr/bin/env, /etc/image-release]
    expected_stdout: "/usr/bin/env absent\n/etc/image-release present\n"
    points: 1
`

// TestBatchGradesInAnUploadedEnvironment drives the stack over HTTP as a
// user would: upload an image built here, a config naming it, deliveries,
// a batch through Temporal; the scores show every command ran in the image.
func TestBatchGradesInAnUploadedEnvironment(t *testing.T) {
	st := startStack(t, "", nil)
	ts := apiServer(t, st, "")
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	image := envtest.NewLayout(t, envtest.Layer(t, envtest.Runnable(t)...)).Tar(t)

	status, body := call(t, ts, http.MethodPost, "/v1/environments?name=tiny-calc", bytes.NewReader(image), "application/x-tar")
	require.Equal(t, http.StatusCreated, status, "body: %s", body)
	var env grading.Environment
	require.NoError(t, json.Unmarshal(body, &env))
	assert.Equal(t, envtest.Digest(image), env.Digest)

	status, body = call(t, ts, http.MethodPost, "/v1/grading-configs", strings.NewReader(calcConfig), "application/yaml")
	require.Equal(t, http.StatusCreated, status, "body: %s", body)
	configID := idOf(t, body)
	status, body = call(t, ts, http.MethodPost, "/v1/collections", strings.NewReader(`{"name":"calc lab"}`), "application/json")
	require.Equal(t, http.StatusCreated, status, "body: %s", body)
	collectionID := idOf(t, body)
	for user, program := range map[string]string{"alice": "add\n", "bob": "mul\n", "carol": "sub\n"} {
		form, ctype := deliveryForm(t, user, "main.txt", program)
		status, body = call(t, ts, http.MethodPost, "/v1/collections/"+collectionID+"/deliveries", form, ctype)
		require.Equal(t, http.StatusCreated, status, "body: %s", body)
	}

	status, body = call(t, ts, http.MethodPost, "/v1/batches",
		strings.NewReader(fmt.Sprintf(`{"collection_id":%q,"config_id":%q,"concurrency":3}`, collectionID, configID)), "application/json")
	require.Equal(t, http.StatusAccepted, status, "body: %s", body)
	var b grading.Batch
	require.NoError(t, json.Unmarshal(body, &b))
	res, err := st.Wait(ctx, b)
	require.NoError(t, err)
	assert.Equal(t, 3, res.Summary.Total)

	status, body = call(t, ts, http.MethodGet, "/v1/batches/"+b.ID+"/results", nil, "")
	require.Equal(t, http.StatusOK, status, "body: %s", body)
	var results []grading.Result
	require.NoError(t, json.Unmarshal(body, &results))
	scores := map[string]string{}
	for _, r := range results {
		scores[r.User] = fmt.Sprintf("%s %g/%g", r.Status, r.Score, r.MaxScore)
	}
	// bob multiplies (6, 600): only the isolation stage passes; carol's
	// operation does not exist in the language.
	assert.Equal(t, map[string]string{"alice": "graded 3/3", "bob": "graded 1/3", "carol": "graded 1/3"}, scores, "body: %s", body)
}

// call sends one request with the stack's admin key.
func call(t *testing.T, ts *httptest.Server, method, path string, body io.Reader, ctype string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, ts.URL+path, body)
	require.NoError(t, err)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Authorization", "Bearer "+browserToken)
	resp, err := ts.Client().Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b
}

func idOf(t *testing.T, body []byte) string {
	t.Helper()
	var v struct {
		ID string `json:"id"`
	}
	require.NoError(t, json.Unmarshal(body, &v))
	require.NotEmpty(t, v.ID, "body: %s", body)
	return v.ID
}

// deliveryForm is the multipart body of one delivery of one file.
func deliveryForm(t *testing.T, user, name, content string) (io.Reader, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	require.NoError(t, mw.WriteField("user", user))
	fw, err := mw.CreateFormFile("files", name)
	require.NoError(t, err)
	_, err = io.WriteString(fw, content)
	require.NoError(t, err)
	require.NoError(t, mw.Close())
	return &buf, mw.FormDataContentType()
}
