package api

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/propagation"
	"go.uber.org/goleak"
	"gocloud.dev/blob"
	"gocloud.dev/blob/memblob"

	"github.com/zinc-edu/orchestrator/internal/auth"
	"github.com/zinc-edu/orchestrator/internal/batches"
	"github.com/zinc-edu/orchestrator/internal/events"
	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/outbox"
	"github.com/zinc-edu/orchestrator/internal/servicedefaults"
	"github.com/zinc-edu/orchestrator/internal/store"
	"github.com/zinc-edu/orchestrator/internal/store/storetest"
	"github.com/zinc-edu/orchestrator/internal/syncio"
	"github.com/zinc-edu/orchestrator/internal/temporal"
	"github.com/zinc-edu/orchestrator/workflows"
)

// The production types implement the interfaces the API consumes.
var (
	_ Store     = (*store.Store)(nil)
	_ Batches   = (*batches.Service)(nil)
	_ Announcer = (*outbox.Encoder)(nil)
	_ Feed      = (*events.Bus)(nil)
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// env is one API under test over a real store and an in-memory bucket.
type env struct {
	t       *testing.T
	store   *store.Store
	rows    *sql.DB // read-only view of the store's SQLite file; nil on PostgreSQL
	bucket  *blob.Bucket
	batches *fakeBatches
	events  *fakeAnnouncer
	logs    *syncBuffer
	server  *Server
	handler http.Handler
	// token authenticates every request e.do sends: an admin API key,
	// unless the test sets another (or "" for none).
	token string
}

// option adjusts the Params of a test env.
type option func(*Params)

// newEnv returns an API over a fresh SQLite store whose rows the test can
// count.
func newEnv(t *testing.T, opts ...option) *env {
	t.Helper()
	dbURL := storetest.SQLiteURL(t)
	ctx := context.Background()
	s, err := store.Open(ctx, dbURL, nil)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	require.NoError(t, s.Migrate(ctx))

	path, err := url.PathUnescape(strings.TrimPrefix(dbURL, "sqlite://"))
	require.NoError(t, err)
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, db.Close()) })

	e := newEnvOn(t, s, opts...)
	e.rows = db
	return e
}

// newEnvOn returns an API over the given store.
func newEnvOn(t *testing.T, s *store.Store, opts ...option) *env {
	t.Helper()
	bucket := memblob.OpenBucket(nil)
	t.Cleanup(func() { assert.NoError(t, bucket.Close()) })
	e := &env{
		t:       t,
		store:   s,
		bucket:  bucket,
		batches: newFakeBatches(s),
		events:  &fakeAnnouncer{enc: outbox.NewEncoder(propagation.TraceContext{})},
		logs:    &syncBuffer{},
	}
	log := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p := Params{
		Store:    s,
		Batches:  e.batches,
		Bucket:   bucket,
		Events:   e.events,
		Temporal: temporal.Config{HostPort: "127.0.0.1:7233", Namespace: "zinc-test", TaskQueuePrefix: "zinc"}.Configuration(),
		Health:   servicedefaults.NewHealth("127.0.0.1:0", log),
		Log:      log,
	}
	for _, opt := range opts {
		opt(&p)
	}
	srv, err := NewServer(p)
	require.NoError(t, err)
	e.server = srv
	e.handler = srv.Handler()
	e.token = e.apiKey(grading.RoleAdmin, "")
	return e
}

// apiKey stores a new API key with role in courses (none for an admin) for
// user, and returns the key.
func (e *env) apiKey(role grading.Role, user string, courses ...string) string {
	e.t.Helper()
	key, hash, err := auth.NewKey()
	require.NoError(e.t, err)
	_, err = e.store.CreateAPIKey(e.t.Context(), grading.APIKey{
		Name: string(role) + " key", Hash: hash, Role: role, Courses: courses, User: user,
	})
	require.NoError(e.t, err)
	return key
}

// as returns a copy of e whose requests carry token instead.
func (e *env) as(token string) *env {
	c := *e
	c.token = token
	return &c
}

// response is a finished request.
type response struct {
	code   int
	header http.Header
	body   []byte
}

func (e *env) do(method, target string, body io.Reader, contentType string) response {
	e.t.Helper()
	return e.doWith(method, target, body, contentType, nil)
}

// doWith is do with extra request headers.
func (e *env) doWith(method, target string, body io.Reader, contentType string, header http.Header) response {
	e.t.Helper()
	req := httptest.NewRequestWithContext(e.t.Context(), method, target, body)
	for k, vs := range header {
		req.Header[k] = vs
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if e.token != "" {
		req.Header.Set("Authorization", "Bearer "+e.token)
	}
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	return response{code: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

func (e *env) doJSON(method, target, body string) response {
	e.t.Helper()
	return e.do(method, target, strings.NewReader(body), "application/json")
}

// decode reads a JSON answer into a T, failing on unknown fields so a test
// notices shape changes.
func decode[T any](t *testing.T, r response) T {
	t.Helper()
	var v T
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&v), "body: %s", r.body)
	return v
}

// object reads a JSON object answer as a generic map.
func object(t *testing.T, r response) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m), "body: %s", r.body)
	return m
}

// requireError checks an error answer: its status, JSON content type and
// an error message containing want.
func requireError(t *testing.T, r response, status int, want string) errorBody {
	t.Helper()
	require.Equal(t, status, r.code, "body: %s", r.body)
	assert.Equal(t, "application/json", r.header.Get("Content-Type"))
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(r.body, &m), "body: %s", r.body)
	assert.Contains(t, m, "error")
	assert.Contains(t, m, "details")
	body := decode[errorBody](t, r)
	assert.Contains(t, body.Error, want)
	return body
}

// requireHTMLError checks an instructor page's error answer: the status,
// an HTML page, and the message want on it for a person to read.
func requireHTMLError(t *testing.T, r response, status int, want string) {
	t.Helper()
	require.Equal(t, status, r.code, "body: %s", r.body)
	assert.Equal(t, "text/html; charset=utf-8", r.header.Get("Content-Type"))
	body := string(r.body)
	assert.True(t, strings.HasPrefix(body, "<!doctype html>"), "body: %s", body)
	assert.Contains(t, body, `<p class="err" id="error">`)
	assert.Contains(t, body, html.EscapeString(want), "body: %s", body)
}

// count returns the number of rows of a table.
func (e *env) count(table string) int {
	e.t.Helper()
	require.NotNil(e.t, e.rows, "row counts need the SQLite env")
	var n int
	// table is a constant of the test.
	require.NoError(e.t, e.rows.QueryRowContext(e.t.Context(), "SELECT COUNT(*) FROM "+table).Scan(&n))
	return n
}

// keys lists every object in the bucket.
func (e *env) keys() []string {
	e.t.Helper()
	var keys []string
	it := e.bucket.List(nil)
	for {
		obj, err := it.Next(e.t.Context())
		if errors.Is(err, io.EOF) {
			return keys
		}
		require.NoError(e.t, err)
		keys = append(keys, obj.Key)
	}
}

// requireNothingWritten checks that a refused request left no trace.
func (e *env) requireNothingWritten() {
	e.t.Helper()
	for _, table := range []string{"delivery", "grading_config", "batch", "grading_result", "event_outbox"} {
		assert.Zero(e.t, e.count(table), "rows in %s", table)
	}
	assert.Empty(e.t, e.keys(), "objects in the bucket")
}

func (e *env) newCollection(c grading.Collection) grading.Collection {
	e.t.Helper()
	if c.Name == "" {
		c.Name = "lab 1"
	}
	c, err := e.store.CreateCollection(e.t.Context(), c)
	require.NoError(e.t, err)
	return c
}

func (e *env) newDelivery(collectionID, user string) grading.Delivery {
	e.t.Helper()
	d, err := e.store.CreateDelivery(e.t.Context(), grading.Delivery{
		CollectionID: collectionID, User: user, ObjectKey: "deliveries/x/files.tar.gz", Size: 1, Checksum: "00",
	})
	require.NoError(e.t, err)
	return d
}

func (e *env) newConfig() grading.Config {
	e.t.Helper()
	cfg, err := e.store.CreateConfig(e.t.Context(), grading.Config{Name: "hello", Source: helloYAML, Parsed: []byte(`{"version":1}`)})
	require.NoError(e.t, err)
	return cfg
}

// helloYAML is a valid version 1 definition.
const helloYAML = `version: 1
name: hello
stages:
  - name: compile
    command: [gcc, -o, hello, hello.c]
  - name: run
    command: [./hello]
    stdin: "World\n"
    expected_stdout: "Hello, World\n"
    points: 5
`

// part is one part of a multipart body. A part with a filename is a file.
type part struct {
	field    string
	filename string
	data     []byte
}

func textPart(field, value string) part { return part{field: field, data: []byte(value)} }

func filePart(name string, data []byte) part { return part{field: "files", filename: name, data: data} }

// multipartBody encodes parts; filenames are written as given, path and
// all, the way curl -F 'files=@x;filename=dir/x' sends them.
func multipartBody(t *testing.T, parts ...part) (io.Reader, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		if p.filename == "" {
			h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q`, p.field))
		} else {
			h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, p.field, p.filename))
			h.Set("Content-Type", "application/octet-stream")
		}
		w, err := mw.CreatePart(h)
		require.NoError(t, err)
		_, err = w.Write(p.data)
		require.NoError(t, err)
	}
	require.NoError(t, mw.Close())
	return &buf, mw.FormDataContentType()
}

// zipOf builds a zip archive of name → content.
func zipOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, content := range files {
		w, err := zw.Create(name)
		require.NoError(t, err)
		_, err = io.WriteString(w, content)
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// tarGzOf builds a tar.gz archive of name → content.
func tarGzOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, content := range files {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg}))
		_, err := io.WriteString(tw, content)
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	require.NoError(t, gz.Close())
	return buf.Bytes()
}

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct{ syncio.Buffer }

// lines returns the logged records whose message is msg.
func (b *syncBuffer) lines(t *testing.T, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range bytes.Split(b.Bytes(), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal(line, &m))
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// fakeAnnouncer encodes events with the real encoder, or fails with err.
type fakeAnnouncer struct {
	enc *outbox.Encoder
	mu  sync.Mutex
	err error
}

func (a *fakeAnnouncer) Encode(ctx context.Context, ev events.Event) (store.Event, error) {
	a.mu.Lock()
	err := a.err
	a.mu.Unlock()
	if err != nil {
		return store.Event{}, err
	}
	return a.enc.Encode(ctx, ev)
}

// fakeBatches stands in for the Temporal-backed batch service: batches are
// real store rows, and the controls follow the service's rules on state.
type fakeBatches struct {
	store *store.Store

	mu          sync.Mutex
	progress    workflows.Progress
	paused      map[string]bool
	concurrency map[string]int
	cancelled   map[string]bool
	byPair      map[string]string // workflow id → last batch id
	started     []batches.StartRequest
}

func newFakeBatches(s *store.Store) *fakeBatches {
	return &fakeBatches{
		store: s, paused: map[string]bool{}, concurrency: map[string]int{}, cancelled: map[string]bool{}, byPair: map[string]string{},
	}
}

func (f *fakeBatches) Start(ctx context.Context, req batches.StartRequest) (grading.Batch, error) {
	if _, err := f.store.Collection(ctx, req.CollectionID); err != nil {
		return grading.Batch{}, fmt.Errorf("start batch: %w", err)
	}
	if _, err := f.store.Config(ctx, req.ConfigID); err != nil {
		return grading.Batch{}, fmt.Errorf("start batch: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	wid := workflows.BatchWorkflowID(req.CollectionID, req.ConfigID)
	if id, ok := f.byPair[wid]; ok {
		if b, err := f.store.Batch(ctx, id); err == nil && b.Status == grading.BatchRunning {
			return grading.Batch{}, fmt.Errorf("start batch: a batch is already running (workflow %s): %w", wid, grading.ErrConflict)
		}
	}
	b, err := f.store.CreateBatch(ctx, grading.Batch{WorkflowID: wid, CollectionID: req.CollectionID, ConfigID: req.ConfigID, Deliveries: req.Deliveries})
	if err != nil {
		return grading.Batch{}, err
	}
	f.byPair[wid] = b.ID
	f.started = append(f.started, req)
	return b, nil
}

func (f *fakeBatches) Get(ctx context.Context, id string) (batches.View, error) {
	b, err := f.store.Batch(ctx, id)
	if err != nil {
		return batches.View{}, fmt.Errorf("get batch %s: %w", id, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.progress
	p.Paused = f.paused[id]
	return batches.View{Batch: b, Progress: p}, nil
}

func (f *fakeBatches) Results(ctx context.Context, id string) ([]grading.Result, error) {
	return f.store.BatchResults(ctx, id)
}

// running returns a conflict unless the batch is running.
func (f *fakeBatches) running(ctx context.Context, id, verb string) error {
	b, err := f.store.Batch(ctx, id)
	if err != nil {
		return fmt.Errorf("%s batch %s: %w", verb, id, err)
	}
	if b.Status != grading.BatchRunning {
		return fmt.Errorf("%s batch %s: the batch is %s: %w", verb, id, b.Status, grading.ErrConflict)
	}
	return nil
}

func (f *fakeBatches) Cancel(ctx context.Context, id string) error {
	if err := f.running(ctx, id, "cancel"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cancelled[id] = true
	return nil
}

func (f *fakeBatches) Pause(ctx context.Context, id string) error {
	if err := f.running(ctx, id, "pause"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.paused[id] {
		return fmt.Errorf("pause batch %s: batch is already paused: %w", id, grading.ErrConflict)
	}
	f.paused[id] = true
	return nil
}

func (f *fakeBatches) Resume(ctx context.Context, id string) error {
	if err := f.running(ctx, id, "resume"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.paused[id] {
		return fmt.Errorf("resume batch %s: batch is not paused: %w", id, grading.ErrConflict)
	}
	f.paused[id] = false
	return nil
}

func (f *fakeBatches) SetConcurrency(ctx context.Context, id string, n int) error {
	if err := f.running(ctx, id, "set concurrency of"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.concurrency[id] = n
	return nil
}

func (f *fakeBatches) RegradeFailed(ctx context.Context, id string) (grading.Batch, error) {
	b, err := f.store.Batch(ctx, id)
	if err != nil {
		return grading.Batch{}, fmt.Errorf("regrade batch %s: %w", id, err)
	}
	if b.Status == grading.BatchRunning {
		return grading.Batch{}, fmt.Errorf("regrade batch %s: the batch is still running: %w", id, grading.ErrConflict)
	}
	return f.store.CreateBatch(ctx, grading.Batch{WorkflowID: b.WorkflowID, CollectionID: b.CollectionID, ConfigID: b.ConfigID, RegradeOf: id, Deliveries: b.Deliveries})
}

// newBatch stores a running batch directly.
func (e *env) newBatch(collectionID, configID string) grading.Batch {
	e.t.Helper()
	b, err := e.store.CreateBatch(e.t.Context(), grading.Batch{
		WorkflowID: workflows.BatchWorkflowID(collectionID, configID), CollectionID: collectionID, ConfigID: configID,
	})
	require.NoError(e.t, err)
	return b
}

// finish records a batch's outcome.
func (e *env) finish(id string, summary grading.Summary) {
	e.t.Helper()
	require.NoError(e.t, e.store.RecordBatchOutcome(e.t.Context(), id, grading.BatchCompleted, summary))
}

// past and future are dates clearly on either side of any test's now.
var (
	past   = time.Now().Add(-24 * time.Hour).UTC().Truncate(time.Second)
	future = time.Now().Add(24 * time.Hour).UTC().Truncate(time.Second)
)
