package api

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/auth"
	"github.com/zinc-edu/orchestrator/internal/devstack"
	"github.com/zinc-edu/orchestrator/internal/events"
	"github.com/zinc-edu/orchestrator/internal/grading"
)

// sseEvent is one parsed Server-Sent Event.
type sseEvent struct{ id, name, data string }

// readSSE reads events from body until stop says enough.
func readSSE(t *testing.T, resp *http.Response, stop func(sseEvent) bool) []sseEvent {
	t.Helper()
	var (
		out []sseEvent
		cur sseEvent
	)
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			out = append(out, cur)
			if stop(cur) {
				return out
			}
			cur = sseEvent{}
		case strings.HasPrefix(line, "id: "):
			cur.id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "event: "):
			cur.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			cur.data = strings.TrimPrefix(line, "data: ")
		}
	}
	require.NoError(t, sc.Err())
	return out
}

func names(evs []sseEvent) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.name)
	}
	return out
}

func TestBatchEventsStreamGradedAndResumeAfterLastEventID(t *testing.T) {
	url := os.Getenv("NATS_URL")
	if url == "" {
		n, err := devstack.StartNATS(t.Context(), devstack.NATSOptions{})
		require.NoError(t, err)
		t.Cleanup(func() { assert.NoError(t, n.Stop()) })
		url = n.URL()
	}
	stream := fmt.Sprintf("SSE%d", time.Now().UnixNano())
	bus, err := events.Connect(t.Context(), events.Config{URL: url, Stream: stream, SubjectPrefix: strings.ToLower(stream)}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(func() {
		assert.NoError(t, bus.DeleteStream(context.Background()))
		assert.NoError(t, bus.Close())
	})

	e := newEnv(t, func(p *Params) { p.Feed = bus })
	c := e.newCollection(grading.Collection{})
	cfg := e.newConfig()
	b := e.newBatch(c.ID, cfg.ID)
	other := e.newBatch(e.newCollection(grading.Collection{}).ID, cfg.ID)
	ctx := t.Context()
	for i, batchID := range []string{b.ID, other.ID, b.ID} {
		ev := events.NewResultGraded(grading.Result{DeliveryID: fmt.Sprintf("d%d", i), ConfigID: cfg.ID, BatchID: batchID, User: fmt.Sprintf("u%d", i), Status: grading.StatusGraded, Score: 1, MaxScore: 1, Attempt: 1})
		require.NoError(t, bus.Publish(ctx, events.SubjectResultGraded, ev, events.WithMsgID(ev.ID)))
	}
	done := events.NewBatchCompleted(b.ID, grading.BatchCompleted, grading.Summary{Total: 2})
	require.NoError(t, bus.Publish(ctx, events.SubjectBatchCompleted, done, events.WithMsgID(done.ID)))

	srv := httptest.NewServer(e.handler)
	t.Cleanup(srv.Close)
	get := func(lastID string) *http.Response {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/v1/batches/"+b.ID+"/events", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+e.token)
		if lastID != "" {
			req.Header.Set("Last-Event-ID", lastID)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		t.Cleanup(func() { _ = resp.Body.Close() })
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
		return resp
	}
	isEnd := func(ev sseEvent) bool { return ev.name == "completed" }

	all := readSSE(t, get(""), isEnd)
	require.Equal(t, []string{"progress", "graded", "graded", "progress", "completed"}, names(all),
		"only this batch's results, then its final progress and completion")
	assert.Contains(t, all[1].data, `"user":"u0"`)
	assert.Contains(t, all[2].data, `"user":"u2"`)
	assert.Contains(t, all[0].data, `"id":"`+b.ID+`"`)

	resumed := readSSE(t, get(all[1].id), isEnd)
	require.Equal(t, []string{"progress", "graded", "progress", "completed"}, names(resumed), "resumes after the last id seen")
	assert.Equal(t, all[2].id, resumed[1].id)
}

func TestBatchEventsRefusesBadRequests(t *testing.T) {
	e := newEnv(t)
	b := e.newBatch(e.newCollection(grading.Collection{}).ID, e.newConfig().ID)
	r := e.do(http.MethodGet, "/v1/batches/"+b.ID+"/events", nil, "")
	assert.Equal(t, http.StatusServiceUnavailable, r.code, "no feed: %s", r.body)

	e = newEnv(t, func(p *Params) { p.Feed = stubFeed{} })
	r = e.do(http.MethodGet, "/v1/batches/nope/events", nil, "")
	assert.Equal(t, http.StatusNotFound, r.code, "unknown batch: %s", r.body)
	known := e.newBatch(e.newCollection(grading.Collection{}).ID, e.newConfig().ID)
	req := httptest.NewRequest(http.MethodGet, "/v1/batches/"+known.ID+"/events", nil)
	req.Header.Set("Last-Event-ID", "x")
	req.Header.Set("Authorization", "Bearer "+e.token)
	w := httptest.NewRecorder()
	e.handler.ServeHTTP(w, req)
	assert.Equal(t, http.StatusBadRequest, w.Code, "bad Last-Event-ID: %s", w.Body)
}

// stubFeed is never reached: the requests fail before following.
type stubFeed struct{}

func (stubFeed) Follow(context.Context, []string, events.From, func(events.Record) error) error {
	return nil
}

// holdFeed follows a stream with no new events until the request ends, as
// for a live batch between two results.
type holdFeed struct{}

func (holdFeed) Follow(ctx context.Context, _ []string, _ events.From, _ func(events.Record) error) error {
	<-ctx.Done()
	return nil
}

// openEvents opens a running batch's event stream with token and reads its
// first event; the caller closes the body.
func openEvents(t *testing.T, srvURL, batchID, token string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srvURL+"/v1/batches/"+batchID+"/events", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	return resp
}

// TestBatchEventsEndWhenTheKeyIsRevoked: a stream is authorized when it
// opens, but a running batch's stream lasts for hours; once its key is
// revoked it must stop sending the batch's progress and results.
func TestBatchEventsEndWhenTheKeyIsRevoked(t *testing.T) {
	e := newEnv(t, func(p *Params) { p.Feed = holdFeed{} })
	b := e.newBatch(e.newCollection(grading.Collection{}).ID, e.newConfig().ID)
	key := e.apiKey(grading.RoleInstructor, "", grading.DefaultCourseID)
	srv := httptest.NewServer(e.handler)
	t.Cleanup(srv.Close)

	resp := openEvents(t, srv.URL, b.ID, key)
	defer func() { _ = resp.Body.Close() }()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	first := readSSE(t, resp, func(sseEvent) bool { return true })
	require.Equal(t, []string{"progress"}, names(first))

	k, err := e.store.APIKeyByHash(t.Context(), auth.HashKey(key))
	require.NoError(t, err)
	require.NoError(t, e.store.RevokeAPIKey(t.Context(), k.ID))

	ended := make(chan string, 1)
	go func() {
		rest, _ := io.ReadAll(resp.Body)
		ended <- string(rest)
	}()
	select {
	case rest := <-ended:
		assert.LessOrEqual(t, strings.Count(rest, "event: "), 1, "at most the progress under way when the key was revoked: %s", rest)
	case <-time.After(3*progressEvery + time.Second):
		_ = resp.Body.Close()
		<-ended
		t.Fatal("the stream of a revoked key still runs")
	}
	again := openEvents(t, srv.URL, b.ID, key)
	_ = again.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, again.StatusCode)
}

// TestBatchEventsPerCallerAreBounded: each stream holds a goroutine, a
// JetStream consumer and a database read every few seconds, so one caller
// may hold only so many at once.
func TestBatchEventsPerCallerAreBounded(t *testing.T) {
	e := newEnv(t, func(p *Params) {
		p.Feed = holdFeed{}
		p.Config.StreamsPerKey = 2
	})
	b := e.newBatch(e.newCollection(grading.Collection{}).ID, e.newConfig().ID)
	srv := httptest.NewServer(e.handler)
	t.Cleanup(srv.Close)

	var open []*http.Response
	for range 2 {
		resp := openEvents(t, srv.URL, b.ID, e.token)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		readSSE(t, resp, func(sseEvent) bool { return true })
		open = append(open, resp)
	}
	over := openEvents(t, srv.URL, b.ID, e.token)
	_ = over.Body.Close()
	assert.Equal(t, http.StatusTooManyRequests, over.StatusCode)
	assert.NotEmpty(t, over.Header.Get("Retry-After"))

	other := openEvents(t, srv.URL, b.ID, e.apiKey(grading.RoleInstructor, "", grading.DefaultCourseID))
	assert.Equal(t, http.StatusOK, other.StatusCode, "another caller has its own streams")
	_ = other.Body.Close()

	// A stream that ends gives its place back.
	_ = open[0].Body.Close()
	require.Eventually(t, func() bool {
		resp := openEvents(t, srv.URL, b.ID, e.token)
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 5*time.Second, 50*time.Millisecond)
	_ = open[1].Body.Close()
}

// TestBatchEventsOfAFinishedBatchEndOnceReplayed: the stream of a batch that
// had finished when it opened, with nothing left to replay (a client
// resuming after "completed", as EventSource does once the server ends the
// stream, or events the stream no longer holds), sent its progress and then
// stayed open for good, holding one of the caller's streams. It now ends
// once a whole tick passes with nothing to replay.
func TestBatchEventsOfAFinishedBatchEndOnceReplayed(t *testing.T) {
	e := newEnv(t, func(p *Params) { p.Feed = holdFeed{} })
	b := e.newBatch(e.newCollection(grading.Collection{}).ID, e.newConfig().ID)
	e.finish(b.ID, grading.Summary{Total: 1})
	srv := httptest.NewServer(e.handler)
	t.Cleanup(srv.Close)

	resp := openEvents(t, srv.URL, b.ID, e.token)
	defer func() { _ = resp.Body.Close() }()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	ended := make(chan string, 1)
	go func() {
		rest, _ := io.ReadAll(resp.Body)
		ended <- string(rest)
	}()
	select {
	case all := <-ended:
		assert.Equal(t, 1, strings.Count(all, "event: "), "one progress: %s", all)
		assert.Contains(t, all, "event: progress")
		assert.Contains(t, all, `"status":"completed"`)
	case <-time.After(3*progressEvery + time.Second):
		_ = resp.Body.Close()
		<-ended
		t.Fatal("the stream of a finished batch with nothing to replay never ends")
	}
}
