package api

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/definition"
	"github.com/zinc-edu/orchestrator/internal/environment/envtest"
	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/objectstore"
)

// shellLayer holds the executable /bin/sh every environment needs, plus
// more.
func shellLayer(t *testing.T, more ...envtest.File) []byte {
	t.Helper()
	return envtest.Layer(t, append([]envtest.File{{Name: "bin/"}, {Name: "bin/sh", Data: []byte("#!"), Mode: 0o755}}, more...)...)
}

// tinyImage is the tar of a small valid image layout.
func tinyImage(t *testing.T) []byte {
	t.Helper()
	return envtest.NewLayout(t, shellLayer(t)).Tar(t)
}

func (e *env) postEnvironment(name string, image []byte) response {
	e.t.Helper()
	return e.do(http.MethodPost, "/v1/environments?name="+name, bytes.NewReader(image), "application/x-tar")
}

func TestCreateAndGetEnvironment(t *testing.T) {
	e := newEnv(t)
	l := envtest.NewLayout(t, shellLayer(t))
	image := l.Tar(t)

	r := e.postEnvironment("tiny", image)

	require.Equal(t, http.StatusCreated, r.code, "body: %s", r.body)
	assert.Equal(t, "/v1/environments/tiny", r.header.Get("Location"))
	created := decode[grading.Environment](t, r)
	assert.Equal(t, "tiny", created.Name)
	assert.Equal(t, envtest.Digest(image), created.Digest)
	assert.Equal(t, l.ManifestDigest, created.ManifestDigest)
	assert.Equal(t, int64(len(image)), created.Size)
	assert.Equal(t, objectstore.EnvironmentKey(created.Digest), created.ObjectKey)
	assert.NotEmpty(t, created.CreatedBy)
	assert.Equal(t, []string{created.ObjectKey}, e.keys())

	got := e.do(http.MethodGet, "/v1/environments/tiny", nil, "")
	require.Equal(t, http.StatusOK, got.code)
	assert.Equal(t, created, decode[grading.Environment](t, got))
	list := decode[listPage[grading.Environment]](t, e.do(http.MethodGet, "/v1/environments", nil, ""))
	assert.Equal(t, []grading.Environment{created}, list.Items)

	requireError(t, e.do(http.MethodGet, "/v1/environments/missing", nil, ""), http.StatusNotFound, "not found")
}

func TestCreateEnvironmentAsMultipartForm(t *testing.T) {
	e := newEnv(t)
	image := tinyImage(t)
	body, ctype := multipartBody(t, textPart("name", "tiny"), part{field: "image", filename: "tiny.tar", data: image})

	r := e.do(http.MethodPost, "/v1/environments", body, ctype)

	require.Equal(t, http.StatusCreated, r.code, "body: %s", r.body)
	assert.Equal(t, envtest.Digest(image), decode[grading.Environment](t, r).Digest)
}

// The same upload twice is answered with the environment; other content
// under a taken name is a conflict naming what is there.
func TestCreateEnvironmentIsIdempotentAndRefusesOtherContent(t *testing.T) {
	e := newEnv(t)
	image := tinyImage(t)
	first := decode[grading.Environment](t, e.postEnvironment("tiny", image))

	again := e.postEnvironment("tiny", image)
	require.Equal(t, http.StatusOK, again.code, "body: %s", again.body)
	assert.Equal(t, first, decode[grading.Environment](t, again))

	other := envtest.NewLayout(t, shellLayer(t, envtest.File{Name: "extra", Data: []byte("x")})).Tar(t)
	body := requireError(t, e.postEnvironment("tiny", other), http.StatusConflict, `environment "tiny" already exists with other content`)
	assert.Equal(t, first.Digest, body.Details.(map[string]any)["digest"])
	assert.Equal(t, []string{first.ObjectKey}, e.keys(), "the refused image is not stored")
	assert.Equal(t, 1, e.count("environment"))
}

// Every bad image is a 400 naming where it is wrong, and stores nothing.
func TestCreateEnvironmentRefusesBadImages(t *testing.T) {
	tests := []struct {
		name     string
		give     func(t *testing.T) []byte
		wantPath string
		want     string
	}{
		{name: "not a tar", give: func(*testing.T) []byte { return []byte(strings.Repeat("junk ", 200)) }, want: "not a tar archive"},
		{
			name: "no index.json",
			give: func(t *testing.T) []byte {
				l := envtest.NewLayout(t, shellLayer(t))
				l.Remove("index.json")
				return l.Tar(t)
			},
			wantPath: "index.json", want: "missing: not an OCI image layout",
		},
		{
			name: "missing blob",
			give: func(t *testing.T) []byte {
				l := envtest.NewLayout(t, shellLayer(t))
				l.Remove(envtest.Blob(l.LayerDigests[0]))
				return l.Tar(t)
			},
			wantPath: "manifest layers[0]", want: "is missing from the layout",
		},
		{
			name: "digest mismatch",
			give: func(t *testing.T) []byte {
				l := envtest.NewLayout(t, shellLayer(t))
				l.Set(envtest.Blob(l.ConfigDigest), []byte(`{"os":"linux"}`))
				return l.Tar(t)
			},
			want: "digest mismatch",
		},
		{
			name: "path traversal in a layer",
			give: func(t *testing.T) []byte {
				return envtest.NewLayout(t, shellLayer(t, envtest.File{Name: "../../etc/passwd", Data: []byte("x")})).Tar(t)
			},
			wantPath: "layers[0]: ../../etc/passwd", want: "path traversal",
		},
		{
			name: "hard link out of the root",
			give: func(t *testing.T) []byte {
				return envtest.NewLayout(t, shellLayer(t, envtest.File{Name: "x", Type: tar.TypeLink, Link: "/../../etc/shadow"})).Tar(t)
			},
			wantPath: "layers[0]: x", want: "path traversal",
		},
		{
			name: "no shell",
			give: func(t *testing.T) []byte {
				return envtest.NewLayout(t, envtest.Layer(t, envtest.File{Name: "etc/"})).Tar(t)
			},
			wantPath: "", want: "no executable /bin/sh",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)

			body := requireError(t, e.postEnvironment("tiny", tt.give(t)), http.StatusBadRequest, "invalid environment image: ")

			assert.Contains(t, body.Error, tt.want)
			details, ok := body.Details.([]any)
			require.True(t, ok, "details: %v", body.Details)
			require.Len(t, details, 1)
			if tt.wantPath != "" {
				assert.Equal(t, tt.wantPath, details[0].(map[string]any)["path"])
			}
			assert.Contains(t, details[0].(map[string]any)["message"], tt.want)
			assert.Zero(t, e.count("environment"))
			assert.Empty(t, e.keys())
		})
	}
}

func TestCreateEnvironmentRefusesBadRequests(t *testing.T) {
	tests := []struct {
		name       string
		target     string
		wantStatus int
		want       string
	}{
		{name: "no name", target: "/v1/environments", wantStatus: 400, want: "name is required"},
		{name: "bad name", target: "/v1/environments?name=Bad_Name", wantStatus: 400, want: `invalid environment name "Bad_Name"`},
		{name: "too large", target: "/v1/environments?name=tiny", wantStatus: 413, want: "request body is larger than 2048 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(p *Params) { p.Config.MaxEnvironmentBytes = 2 << 10 })

			r := e.do(http.MethodPost, tt.target, bytes.NewReader(tinyImage(t)), "application/x-tar")

			requireError(t, r, tt.wantStatus, tt.want)
			assert.Zero(t, e.count("environment"))
			assert.Empty(t, e.keys())
		})
	}
}

// A config names an environment by name: an unknown one is a problem of
// the config, like any other; a known one is stored with its digest.
func TestCreateConfigResolvesItsEnvironment(t *testing.T) {
	e := newEnv(t)
	src := "version: 1\nenvironment: {image: tiny}\nstages:\n  - {name: run, command: [calc, main.txt], points: 1}\n"

	body := requireError(t, e.do(http.MethodPost, "/v1/grading-configs", strings.NewReader(src), "application/yaml"),
		http.StatusBadRequest, "invalid grading config: 1 problem(s)")
	assert.Equal(t, []any{map[string]any{
		"path": "environment.image", "message": `unknown environment "tiny" (upload it with POST /v1/environments)`,
	}}, body.Details)

	env := decode[grading.Environment](t, e.postEnvironment("tiny", tinyImage(t)))
	r := e.do(http.MethodPost, "/v1/grading-configs", strings.NewReader(src), "application/yaml")
	require.Equal(t, http.StatusCreated, r.code, "body: %s", r.body)
	cfg, err := e.store.Config(t.Context(), decode[grading.Config](t, r).ID)
	require.NoError(t, err)
	var def definition.Definition
	require.NoError(t, json.Unmarshal(cfg.Parsed, &def))
	assert.Equal(t, &definition.Environment{Image: "tiny", Digest: env.Digest}, def.Environment)
}

// An upload is recorded in the audit log under the environment's name.
func TestCreateEnvironmentIsAudited(t *testing.T) {
	e := newEnv(t)
	require.Equal(t, http.StatusCreated, e.postEnvironment("tiny", tinyImage(t)).code)
	require.Equal(t, http.StatusOK, e.postEnvironment("tiny", tinyImage(t)).code)

	entries, _, err := e.store.Audit(t.Context(), grading.AuditFilter{Target: "tiny"})
	require.NoError(t, err)
	require.Len(t, entries, 2)
	for _, en := range entries {
		assert.Equal(t, "environment.create", en.Action)
		assert.Equal(t, "ok", en.Outcome)
	}
}
