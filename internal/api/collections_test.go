package api

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/store"
	"github.com/zinc-edu/orchestrator/internal/store/storetest"
)

func TestCreateAndGetCollection(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		e := newEnvOn(t, s)
		r := e.doJSON(http.MethodPost, "/v1/collections",
			`{"name": "Lab 1", "start_at": "2026-03-01T08:00:00Z", "due_at": "2026-03-08T23:59:00+01:00"}`)
		require.Equal(t, http.StatusCreated, r.code, "body: %s", r.body)
		created := decode[grading.Collection](t, r)
		require.NotEmpty(t, created.ID)
		assert.Equal(t, "/v1/collections/"+created.ID, r.header.Get("Location"))
		assert.Equal(t, "Lab 1", created.Name)
		require.NotNil(t, created.DueAt)
		assert.True(t, created.DueAt.Equal(time.Date(2026, 3, 8, 22, 59, 0, 0, time.UTC)))
		assert.Nil(t, created.StopAt)

		stored, err := s.Collection(t.Context(), created.ID)
		require.NoError(t, err)
		assert.Equal(t, created, stored)

		r = e.do(http.MethodGet, "/v1/collections/"+created.ID, nil, "")
		require.Equal(t, http.StatusOK, r.code)
		assert.Equal(t, created, decode[grading.Collection](t, r))
	})
}

func TestGetUnknownCollection(t *testing.T) {
	e := newEnv(t)
	r := e.do(http.MethodGet, "/v1/collections/nope", nil, "")
	requireError(t, r, http.StatusNotFound, "collection nope: not found")
}

func TestCreateCollectionRefusesBadInput(t *testing.T) {
	tests := []struct {
		name       string
		give       string
		wantStatus int
		wantError  string
	}{
		{"empty body", ``, 400, "request body is empty"},
		{"malformed", `{"name": "x"`, 400, "malformed JSON"},
		{"syntax error", `{"name": x}`, 400, "malformed JSON at byte"},
		{"unknown field", `{"name": "x", "owner": "me"}`, 400, `unknown field "owner"`},
		{"wrong type", `{"name": 42}`, 400, `field "name" must be a JSON string, not number`},
		{"not an object", `["x"]`, 400, "request body must be a JSON object, not array"},
		{"two values", `{"name": "x"} {"name": "y"}`, 400, "single JSON value"},
		{"trailing garbage", `{"name": "x"} x`, 400, "single JSON value"},
		{"missing name", `{}`, 400, "name is required"},
		{"null", `null`, 400, "name is required"},
		{"blank name", `{"name": "   "}`, 400, "name is required"},
		{"control character", `{"name": "a\u0007b"}`, 400, "name contains control characters"},
		{"long name", `{"name": "` + strings.Repeat("é", 201) + `"}`, 400, "longer than 200 characters"},
		{"bad time", `{"name": "x", "due_at": "tomorrow"}`, 400, "invalid JSON body"},
		{"time without zone", `{"name": "x", "due_at": "2026-03-01T10:00:00"}`, 400, "invalid JSON body"},
		{"due before start", `{"name": "x", "start_at": "2026-03-02T00:00:00Z", "due_at": "2026-03-01T00:00:00Z"}`, 400, "due_at (2026-03-01T00:00:00Z) is before start_at"},
		{"stop before due", `{"name": "x", "due_at": "2026-03-02T00:00:00Z", "stop_at": "2026-03-01T00:00:00Z"}`, 400, "stop_at (2026-03-01T00:00:00Z) is before due_at"},
		{"oversize", `{"name": "` + strings.Repeat("x", 2<<10) + `"}`, 413, "request body is larger than 1024 bytes"},
		{"oversize after a value", `{"name": "x"}` + strings.Repeat(" ", 2<<10), 413, "request body is larger than 1024 bytes"},
	}
	e := newEnv(t, func(p *Params) { p.Config.MaxJSONBytes = 1 << 10 })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.doJSON(http.MethodPost, "/v1/collections", tt.give)
			requireError(t, r, tt.wantStatus, tt.wantError)
			assert.Zero(t, e.count("collection"))
		})
	}
}
