package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/definition"
	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/objectstore"
	"github.com/zinc-edu/orchestrator/internal/store"
	"github.com/zinc-edu/orchestrator/internal/store/storetest"
)

// uploadYAML declares two uploaded files and one inline file.
const uploadYAML = `version: 2
name: sums
files:
  - name: checker.py
    source: upload
  - name: tests/hidden.txt
    source: upload
  - name: tests/in1.txt
    content: "1 2\n"
stages:
  - name: build
    kind: compile
    language: c
    sources: [main.c]
    output: main
  - name: judge
    kind: checker
    command: [./main]
    checker: {command: [python3, checker.py], files: [checker.py]}
    scenarios:
      - {name: one, stdin_file: tests/in1.txt, expected_file: tests/hidden.txt}
`

func TestCreateAndGetConfig(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		e := newEnvOn(t, s)
		r := e.do(http.MethodPost, "/v1/grading-configs", strings.NewReader(helloYAML), "application/yaml")
		require.Equal(t, http.StatusCreated, r.code, "body: %s", r.body)
		created := decode[grading.Config](t, r)
		require.NotEmpty(t, created.ID)
		assert.Equal(t, "/v1/grading-configs/"+created.ID, r.header.Get("Location"))
		assert.Equal(t, "hello", created.Name)
		assert.Equal(t, helloYAML, created.Source)

		stored, err := s.Config(t.Context(), created.ID)
		require.NoError(t, err)
		assert.Equal(t, helloYAML, stored.Source)
		var parsed definition.Definition
		require.NoError(t, json.Unmarshal(stored.Parsed, &parsed))
		assert.Equal(t, "hello", parsed.Name)
		require.Len(t, parsed.Stages, 2)
		assert.InDelta(t, 5.0, parsed.Stages[1].Points, 0)

		r = e.do(http.MethodGet, "/v1/grading-configs/"+created.ID, nil, "")
		require.Equal(t, http.StatusOK, r.code)
		assert.Equal(t, map[string]any{
			"id": created.ID, "name": "hello", "source": helloYAML,
			"created_at": created.CreatedAt.Format("2006-01-02T15:04:05.999999Z07:00"),
			"course":     grading.DefaultCourseID,
		}, object(t, r))
	})
}

func TestGetUnknownConfig(t *testing.T) {
	e := newEnv(t)
	requireError(t, e.do(http.MethodGet, "/v1/grading-configs/nope", nil, ""), http.StatusNotFound, "config nope: not found")
}

func TestCreateConfigListsEveryProblem(t *testing.T) {
	e := newEnv(t)
	src := `version: 1
name: broken
stages:
  - name: compile
    command: []
  - name: compile
    command: [./a]
    timeout: soon
    colour: red
`
	r := e.do(http.MethodPost, "/v1/grading-configs", strings.NewReader(src), "text/plain")
	body := requireError(t, r, http.StatusBadRequest, "invalid grading config")
	var got struct {
		Details []definition.Problem `json:"details"`
	}
	require.NoError(t, json.Unmarshal(r.body, &got))
	_, err := definition.Parse([]byte(src))
	var want *definition.ValidationError
	require.True(t, errors.As(err, &want))
	assert.Equal(t, want.Problems, got.Details)
	assert.GreaterOrEqual(t, len(got.Details), 3, "every problem is listed")
	for _, p := range got.Details {
		assert.NotEmpty(t, p.Path)
		assert.NotEmpty(t, p.Message)
	}
	assert.NotNil(t, body.Details)
	e.requireNothingWritten()
}

func TestCreateConfigRefusesBadInput(t *testing.T) {
	tests := []struct {
		name       string
		give       string
		wantStatus int
		wantError  string
	}{
		{"empty", "", 400, "invalid grading config: 1 problem(s)"},
		{"not YAML", "{{{", 400, "invalid grading config"},
		{"not UTF-8", "version: 1\nname: \xff\n", 400, "UTF-8 text without NUL"},
		{"NUL", "version: 1\nname: a\x00\n", 400, "UTF-8 text without NUL"},
		{"oversize", helloYAML + "# " + strings.Repeat("x", 1<<10) + "\n", 413, "request body is larger than 1024 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(p *Params) { p.Config.MaxConfigBytes = 1 << 10 })
			r := e.do(http.MethodPost, "/v1/grading-configs", strings.NewReader(tt.give), "application/yaml")
			requireError(t, r, tt.wantStatus, tt.wantError)
			e.requireNothingWritten()
		})
	}
}

func TestCreateConfigWithUploads(t *testing.T) {
	e := newEnv(t)
	body, ct := multipartBody(t,
		part{field: "definition", filename: "pipeline.yaml", data: []byte(uploadYAML)},
		filePart("checker.py", []byte("print('points: 1')\n")),
		filePart("tests/hidden.txt", []byte("3\n")),
	)
	r := e.do(http.MethodPost, "/v1/grading-configs", body, ct)
	require.Equal(t, http.StatusCreated, r.code, "body: %s", r.body)
	created := decode[grading.Config](t, r)
	assert.Equal(t, uploadYAML, created.Source)

	got, err := e.bucket.ReadAll(t.Context(), objectstore.ConfigAssetKey(created.ID, "checker.py"))
	require.NoError(t, err)
	assert.Equal(t, "print('points: 1')\n", string(got))
	got, err = e.bucket.ReadAll(t.Context(), objectstore.ConfigAssetKey(created.ID, "tests/hidden.txt"))
	require.NoError(t, err)
	assert.Equal(t, "3\n", string(got))
	assert.Len(t, e.keys(), 2, "the inline file is not uploaded")
}

func TestCreateConfigDefinitionAsTextField(t *testing.T) {
	e := newEnv(t)
	body, ct := multipartBody(t, textPart("definition", helloYAML))
	r := e.do(http.MethodPost, "/v1/grading-configs", body, ct)
	require.Equal(t, http.StatusCreated, r.code, "body: %s", r.body)
	assert.Equal(t, helloYAML, decode[grading.Config](t, r).Source)
}

func TestCreateConfigRefusesBadUploads(t *testing.T) {
	checker := filePart("checker.py", []byte("x"))
	hidden := filePart("tests/hidden.txt", []byte("3\n"))
	def := part{field: "definition", filename: "p.yaml", data: []byte(uploadYAML)}
	tests := []struct {
		name        string
		giveParts   []part
		wantStatus  int
		wantError   string
		wantDetails []definition.Problem
	}{
		{
			name: "missing upload", giveParts: []part{def, checker},
			wantStatus: 400, wantError: "invalid grading config: 1 problem(s)",
			wantDetails: []definition.Problem{{Path: "files[1].source", Message: `file "tests/hidden.txt" has source: upload but was not uploaded`}},
		},
		{
			name: "undeclared upload", giveParts: []part{def, checker, hidden, filePart("extra.txt", []byte("x"))},
			wantStatus: 400, wantError: "invalid grading config: 1 problem(s)",
			wantDetails: []definition.Problem{{Message: `file "extra.txt" is uploaded but the definition declares no file of that name with source: upload`}},
		},
		{
			name: "inline file uploaded", giveParts: []part{def, checker, hidden, filePart("tests/in1.txt", []byte("x"))},
			wantStatus: 400, wantError: "invalid grading config: 1 problem(s)",
			wantDetails: []definition.Problem{{Message: `file "tests/in1.txt" is uploaded but the definition declares no file of that name with source: upload`}},
		},
		{
			name: "uploaded twice", giveParts: []part{def, checker, checker, hidden},
			wantStatus: 400, wantError: "invalid grading config: 1 problem(s)",
			wantDetails: []definition.Problem{{Message: `file "checker.py" is uploaded more than once`}},
		},
		{name: "no definition", giveParts: []part{checker}, wantStatus: 400, wantError: `field "definition" is required`},
		{name: "two definitions", giveParts: []part{def, textPart("definition", helloYAML)}, wantStatus: 400, wantError: `"definition" is given more than once`},
		{name: "unknown field", giveParts: []part{def, textPart("name", "x")}, wantStatus: 400, wantError: `unknown form field "name"`},
		{
			name: "definition too large", giveParts: []part{{field: "definition", filename: "p.yaml", data: []byte(uploadYAML + "#" + strings.Repeat("x", 2<<10))}},
			wantStatus: 413, wantError: "the definition is larger than 2048 bytes",
		},
		{
			name: "body too large", giveParts: []part{def, checker, filePart("tests/hidden.txt", []byte(strings.Repeat("x", 64<<10)))},
			wantStatus: 413, wantError: "request body is larger than 32768 bytes",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(p *Params) {
				p.Config.MaxConfigBytes = 2 << 10
				p.Config.MaxUploadBytes = 32 << 10
			})
			body, ct := multipartBody(t, tt.giveParts...)
			r := e.do(http.MethodPost, "/v1/grading-configs", body, ct)
			requireError(t, r, tt.wantStatus, tt.wantError)
			if tt.wantDetails != nil {
				var got struct {
					Details []definition.Problem `json:"details"`
				}
				require.NoError(t, json.Unmarshal(r.body, &got))
				assert.Equal(t, tt.wantDetails, got.Details)
			}
			e.requireNothingWritten()
		})
	}
}

func TestCreateConfigRemovesAssetsWhenRowFails(t *testing.T) {
	failing := &failingStore{err: errors.New("disk full"), failCreateOnly: true}
	e := newEnv(t, func(p *Params) { failing.Store = p.Store; p.Store = failing })
	body, ct := multipartBody(t,
		part{field: "definition", filename: "p.yaml", data: []byte(uploadYAML)},
		filePart("checker.py", []byte("x")),
		filePart("tests/hidden.txt", []byte("3\n")),
	)
	r := e.do(http.MethodPost, "/v1/grading-configs", body, ct)
	requireError(t, r, http.StatusInternalServerError, "internal error")
	e.requireNothingWritten()
}

// archiveYAML takes its tests from an uploaded archive.
const archiveYAML = `version: 2
name: from-archive
files:
  - {name: tests.tar.gz, source: upload}
  - {name: extra.zip, source: upload}
stages:
  - name: run
    command: [cat]
    compare: {tokens: true}
    scenarios_from: {glob: "tests/*.in", expected: "{dir}/{stem}.out", points: 1}
`

func TestCreateConfigUnpacksArchives(t *testing.T) {
	e := newEnv(t)
	body, ct := multipartBody(t,
		textPart("definition", archiveYAML),
		filePart("tests.tar.gz", tarGzOf(t, map[string]string{
			"tests/10.in": "10", "tests/10.out": "10", "tests/2.in": "2", "tests/2.out": "2",
		})),
		filePart("extra.zip", zipOf(t, map[string]string{"checker.py": "pass"})),
	)
	r := e.do(http.MethodPost, "/v1/grading-configs", body, ct)
	require.Equal(t, http.StatusCreated, r.code, "body: %s", r.body)
	created := decode[grading.Config](t, r)

	got, err := e.bucket.ReadAll(t.Context(), objectstore.ConfigAssetKey(created.ID, "tests/10.out"))
	require.NoError(t, err)
	assert.Equal(t, "10", string(got))
	assert.Len(t, e.keys(), 5, "the archives' files are stored, not the archives")

	stored, err := e.store.Config(t.Context(), created.ID)
	require.NoError(t, err)
	var def definition.Definition
	require.NoError(t, json.Unmarshal(stored.Parsed, &def))
	require.Len(t, def.Stages[0].Scenarios, 2)
	assert.Equal(t, "2", def.Stages[0].Scenarios[0].Name, "natural order")
	assert.Equal(t, "tests/10.out", def.Stages[0].Scenarios[1].Expected.File)
}

func TestCreateConfigRefusesUnsafeArchive(t *testing.T) {
	e := newEnv(t)
	body, ct := multipartBody(t,
		textPart("definition", archiveYAML),
		filePart("tests.tar.gz", []byte("not an archive")),
		filePart("extra.zip", zipOf(t, map[string]string{"checker.py": "pass"})),
	)
	r := e.do(http.MethodPost, "/v1/grading-configs", body, ct)
	requireError(t, r, http.StatusBadRequest, `assignment archive "tests.tar.gz"`)
	e.requireNothingWritten()
}

// TestCreateConfigRefusesTwentyThousandStages: an oversized definition is
// refused with a path-addressed problem, before it is decoded in full.
func TestCreateConfigRefusesTwentyThousandStages(t *testing.T) {
	e := newEnv(t)
	var src strings.Builder
	src.WriteString("version: 2\nstages:\n")
	for i := range 20_000 {
		fmt.Fprintf(&src, "  - {name: s%d, command: [true]}\n", i)
	}
	r := e.do(http.MethodPost, "/v1/grading-configs", strings.NewReader(src.String()), "application/yaml")
	requireError(t, r, http.StatusBadRequest, "invalid grading config")
	var got struct {
		Details []definition.Problem `json:"details"`
	}
	require.NoError(t, json.Unmarshal(r.body, &got))
	assert.Equal(t, []definition.Problem{{Path: "stages", Message: "20000 stages, more than 1000"}}, got.Details)
	e.requireNothingWritten()
}
