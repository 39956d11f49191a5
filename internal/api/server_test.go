package api

import (
	"context"
	"errors"
	"fmt"
	"mime/multipart"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/zinc-edu/orchestrator/internal/archive"
	"github.com/zinc-edu/orchestrator/internal/batches"
	"github.com/zinc-edu/orchestrator/internal/definition"
	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/store"
	"github.com/zinc-edu/orchestrator/internal/temporal"
)

func TestWrongMethodIsJSON405WithAllow(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		give      string
		method    string
		wantAllow []string
	}{
		{give: "/v1/collections", method: http.MethodDelete, wantAllow: []string{"GET", "HEAD", "POST"}},
		{give: "/v1/collections/abc", method: http.MethodDelete, wantAllow: []string{"GET", "HEAD"}},
		{give: "/v1/batches/abc", method: http.MethodPut, wantAllow: []string{"GET", "HEAD", "PATCH"}},
		{give: "/v1/batches/abc/cancel", method: http.MethodGet, wantAllow: []string{"POST"}},
		{give: "/v1/grading-configs", method: http.MethodPatch, wantAllow: []string{"POST"}},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.give, func(t *testing.T) {
			r := e.do(tt.method, tt.give, nil, "")
			requireError(t, r, http.StatusMethodNotAllowed, "not allowed")
			allow := strings.Split(r.header.Get("Allow"), ", ")
			assert.ElementsMatch(t, tt.wantAllow, allow)
		})
	}
}

func TestUnknownPathIsJSON404(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/", "/v1", "/v1/nothing", "/v2/collections", "/v1/batches/a/b/c"} {
		r := e.do(http.MethodGet, path, nil, "")
		requireError(t, r, http.StatusNotFound, "no route for GET "+path)
	}
}

func TestHealthRoutesAreMounted(t *testing.T) {
	e := newEnv(t)
	r := e.do(http.MethodGet, "/livez", nil, "")
	assert.Equal(t, http.StatusOK, r.code)
	r = e.do(http.MethodGet, "/readyz", nil, "")
	assert.Equal(t, http.StatusOK, r.code)
}

func TestExtensionConfiguration(t *testing.T) {
	e := newEnv(t)
	for _, name := range []string{"core", "submission", "pipeline"} {
		r := e.do(http.MethodGet, "/v1/extensions/"+name+"/configuration", nil, "")
		require.Equal(t, http.StatusOK, r.code, "body: %s", r.body)
		got := decode[temporal.Configuration](t, r)
		assert.Equal(t, temporal.Configuration{Name: "temporal", Properties: map[string]string{
			"host_port": "127.0.0.1:7233", "namespace": "zinc-test", "task_queue_prefix": "zinc",
		}}, got)
	}
	r := e.do(http.MethodGet, "/v1/extensions/grader/configuration", nil, "")
	requireError(t, r, http.StatusNotFound, `extension "grader"`)
}

func TestClassify(t *testing.T) {
	problems := []definition.Problem{{Path: "stages[0].name", Message: "required"}}
	tests := []struct {
		name        string
		give        error
		wantStatus  int
		wantMessage string
		wantDetails any
	}{
		{"body too large", fmt.Errorf("read: %w", &http.MaxBytesError{Limit: 10}), 413, "request body is larger than 10 bytes", nil},
		{"form too large", fmt.Errorf("read: %w", multipart.ErrMessageTooLarge), 413, "multipart form has too many parts or too large fields", nil},
		{"part too large", &tooLargeError{what: "the definition", limit: 5}, 413, "the definition is larger than 5 bytes", nil},
		{"archive too large", fmt.Errorf("pack: %w: more than 3 bytes", archive.ErrTooLarge), 413, "pack: too large: more than 3 bytes", nil},
		{"invalid definition", fmt.Errorf("x: %w", &definition.ValidationError{Problems: problems}), 400, "invalid grading config: 1 problem(s)", problems},
		{"bad request", badRequest("name is required"), 400, "name is required", nil},
		{"unsafe path", fmt.Errorf("pack %q: %w", "../x", archive.ErrUnsafePath), 400, `pack "../x": unsafe path`, nil},
		{"invalid archive", fmt.Errorf("pack: %w", archive.ErrInvalidArchive), 400, "pack: invalid archive", nil},
		{"invalid batch", fmt.Errorf("start batch: %w: bad", batches.ErrInvalid), 400, "start batch: invalid request: bad", nil},
		{"not found", fmt.Errorf("batch x: %w", grading.ErrNotFound), 404, "batch x: not found", nil},
		{"conflict", fmt.Errorf("pause batch x: the batch is completed: %w", grading.ErrConflict), 409, "pause batch x: the batch is completed: conflict", nil},
		{"unknown", errors.New("dial tcp: connection refused to secret-host"), 500, "internal error", nil},
		{"cancelled", context.Canceled, 500, "internal error", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := classify(tt.give)
			assert.Equal(t, tt.wantStatus, status)
			assert.Equal(t, tt.wantMessage, body.Error)
			assert.Equal(t, tt.wantDetails, body.Details)
		})
	}
}

func TestInternalErrorIsGenericAndLoggedOnce(t *testing.T) {
	failing := &failingStore{err: errors.New("database on fire")}
	e := newEnv(t, func(p *Params) { failing.Store = p.Store; p.Store = failing })
	r := e.do(http.MethodGet, "/v1/collections/abc", nil, "")
	body := requireError(t, r, http.StatusInternalServerError, "internal error")
	assert.NotContains(t, body.Error, "fire")

	logged := e.logs.lines(t, "request failed")
	require.Len(t, logged, 1)
	assert.Equal(t, "GET", logged[0]["method"])
	assert.Equal(t, "/v1/collections/abc", logged[0]["path"])
	assert.Contains(t, logged[0]["err"], "database on fire")
}

func TestNewServerRefusesMissingDependencies(t *testing.T) {
	_, err := NewServer(Params{})
	require.Error(t, err)
	for _, want := range []string{"store is nil", "batches is nil", "bucket is nil", "events announcer is nil", "logger is nil", "temporal configuration is empty"} {
		assert.ErrorContains(t, err, want)
	}
	_, err = NewServer(Params{Config: Config{MaxJSONBytes: -1}})
	assert.ErrorContains(t, err, "max JSON bytes -1 is negative")
}

func TestServerListensServesAndStops(t *testing.T) {
	e := newEnv(t, func(p *Params) { p.Config.Addr = "127.0.0.1:0" })
	s := e.server
	assert.Empty(t, s.Addr())
	require.NoError(t, s.Start(t.Context()))
	addr := s.Addr()
	require.NotEmpty(t, addr)

	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+addr+"/v1/extensions/core/configuration", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+e.token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	assert.Error(t, s.Start(t.Context()), "a second start")
	require.NoError(t, s.Stop(t.Context()))
	_, err = net.Dial("tcp", addr)
	assert.Error(t, err, "the port is released")
}

func TestServerStartFailsOnTakenPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	e := newEnv(t, func(p *Params) { p.Config.Addr = ln.Addr().String() })
	err = e.server.Start(t.Context())
	require.ErrorContains(t, err, "listen api")
	assert.NoError(t, e.server.Stop(t.Context()), "stopping a server that never started")
}

func TestStopWithoutStart(t *testing.T) {
	e := newEnv(t)
	assert.NoError(t, e.server.Stop(context.Background()))
}

// failingStore fails the calls tests pick and passes the rest to Store.
type failingStore struct {
	Store
	err            error
	failCreateOnly bool
}

func (f *failingStore) Collection(ctx context.Context, id string) (grading.Collection, error) {
	if !f.failCreateOnly {
		return grading.Collection{}, f.err
	}
	return f.Store.Collection(ctx, id)
}

func (f *failingStore) CourseOf(ctx context.Context, kind, id string) (string, error) {
	if !f.failCreateOnly {
		return "", f.err
	}
	return f.Store.CourseOf(ctx, kind, id)
}

func (f *failingStore) CreateDeliveryAnnounced(context.Context, grading.Delivery, store.Announce[grading.Delivery]) (grading.Delivery, error) {

	return grading.Delivery{}, f.err
}

func (f *failingStore) CreateConfig(context.Context, grading.Config) (grading.Config, error) {
	return grading.Config{}, f.err
}

func TestAPIRoutesAreTracedAndHealthIsNot(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { assert.NoError(t, tp.Shutdown(context.Background())) })
	e := newEnv(t, func(p *Params) { p.TracerProvider = tp })

	e.do(http.MethodGet, "/livez", nil, "")
	e.do(http.MethodGet, "/readyz", nil, "")
	e.do(http.MethodGet, "/v1/collections/abc", nil, "")
	e.do(http.MethodGet, "/v1/unknown", nil, "")

	var names []string
	for _, s := range rec.Ended() {
		names = append(names, s.Name())
	}
	assert.Equal(t, []string{"GET /v1/collections/{id}", "GET"}, names)
}
