package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/grading"
)

func TestTokenLinkSetsSessionCookieAndDropsToken(t *testing.T) {
	e := newEnv(t)
	r := e.do(http.MethodGet, "/ui/batches/b1?view=x&token=zk_secret", nil, "")
	require.Equal(t, http.StatusSeeOther, r.code)
	assert.Equal(t, "/ui/batches/b1?view=x", r.header.Get("Location"))
	cookie := r.header.Get("Set-Cookie")
	assert.Contains(t, cookie, "zinc_session=zk_secret")
	assert.Contains(t, cookie, "HttpOnly")
	assert.Contains(t, cookie, "SameSite=Strict")
	assert.Contains(t, cookie, "Path=/")

	r = e.do(http.MethodGet, "/ui/?token=", nil, "")
	require.Equal(t, http.StatusSeeOther, r.code)
	assert.Contains(t, r.header.Get("Set-Cookie"), "Max-Age=0", "an empty token signs out")

	r = e.do(http.MethodGet, "/v1/batches/b1?token=zk_secret", nil, "")
	assert.Empty(t, r.header.Get("Set-Cookie"), "only /ui/ URLs sign in")
}

func TestSessionCookieBecomesBearerAndNeedsHTMXToChangeState(t *testing.T) {
	var got []string
	h := withSession(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Get("Authorization"))
	}))
	serve := func(method string, header map[string]string) int {
		req := httptest.NewRequest(method, "http://zinc.test/v1/batches/b1/pause", nil)
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: "zk_cookie"})
		for k, v := range header {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	tests := []struct {
		name       string
		giveMethod string
		giveHeader map[string]string
		wantCode   int
		wantAuth   []string
	}{
		{"read", http.MethodGet, nil, http.StatusOK, []string{"Bearer zk_cookie"}},
		{"explicit credential wins", http.MethodGet, map[string]string{"Authorization": "Bearer zk_header"}, http.StatusOK, []string{"Bearer zk_header"}},
		{"htmx post", http.MethodPost, map[string]string{"HX-Request": "true", "Origin": "http://zinc.test"}, http.StatusOK, []string{"Bearer zk_cookie"}},
		{"plain form post", http.MethodPost, nil, http.StatusForbidden, nil},
		{"cross-origin htmx post", http.MethodPost, map[string]string{"HX-Request": "true", "Origin": "http://evil.test"}, http.StatusForbidden, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got = nil
			assert.Equal(t, tt.wantCode, serve(tt.giveMethod, tt.giveHeader))
			assert.Equal(t, tt.wantAuth, got)
		})
	}
}

func TestInstructorPages(t *testing.T) {
	e := newEnv(t, func(p *Params) { p.Config.TemporalUIURL = "http://ui.test:8233/" })
	c := e.newCollection(grading.Collection{Name: "Lab <1>", DueAt: &future})
	d := e.newDelivery(c.ID, "alice")
	cfg := e.newConfig()
	b := e.newBatch(c.ID, cfg.ID)
	_, err := e.store.SaveResult(t.Context(), grading.Result{
		DeliveryID: d.ID, ConfigID: cfg.ID, BatchID: b.ID, Status: grading.StatusGraded, Score: 1, MaxScore: 2,
		Steps: []grading.Step{
			{Stage: "build", State: grading.StepSuccess, Stdout: "compiled fine"},
			{Stage: "tests", State: grading.StepFailed, Stdout: "expected 42", Visibility: "after_due", Points: 0, MaxPoints: 1},
		},
	})
	require.NoError(t, err)
	e.finish(b.ID, grading.Summary{Total: 1, Counts: grading.Counts{Graded: 1}})

	home := e.do(http.MethodGet, "/ui/", nil, "")
	require.Equal(t, http.StatusOK, home.code)
	assert.Equal(t, "text/html; charset=utf-8", home.header.Get("Content-Type"))
	assert.Contains(t, string(home.body), "Lab &lt;1&gt;", "names are escaped")
	assert.Contains(t, string(home.body), `href="/ui/batches/`+b.ID+`"`)

	page := e.do(http.MethodGet, "/ui/batches/"+b.ID, nil, "")
	require.Equal(t, http.StatusOK, page.code)
	body := string(page.body)
	assert.Contains(t, body, `hx-post="/v1/batches/`+b.ID+`/pause"`)
	assert.Contains(t, body, `href="http://ui.test:8233/namespaces/zinc-test/workflows/`)
	assert.Contains(t, body, `data-user="alice" data-status="graded"`)
	assert.Contains(t, body, "tests&nbsp;failed")

	frag := e.do(http.MethodGet, "/ui/batches/"+b.ID+"/progress", nil, "")
	require.Equal(t, http.StatusOK, frag.code)
	assert.True(t, strings.HasPrefix(strings.TrimSpace(string(frag.body)), `<section id="progress"`), string(frag.body))
	assert.NotContains(t, string(frag.body), "every 1s", "a finished batch is not polled")

	del := e.do(http.MethodGet, "/ui/deliveries/"+d.ID+"/results/"+cfg.ID, nil, "")
	require.Equal(t, http.StatusOK, del.code)
	staff, student, ok := strings.Cut(string(del.body), `<div id="student">`)
	require.True(t, ok)
	assert.Contains(t, staff, "expected 42")
	assert.NotContains(t, student, "expected 42", "hidden until the due date")
	assert.Contains(t, student, "compiled fine")
	assert.Contains(t, student, "not visible to the student yet")

	missing := e.do(http.MethodGet, "/ui/batches/nope", nil, "")
	assert.Equal(t, http.StatusNotFound, missing.code)

	js := e.do(http.MethodGet, "/ui/static/htmx.min.js", nil, "")
	assert.Equal(t, http.StatusOK, js.code)
	assert.Contains(t, js.header.Get("Content-Type"), "javascript")
}

// TestInstructorPageListsEveryPendingVersion: a running batch of all
// deliveries shows each version of a user as pending, not only the latest.
func TestInstructorPageListsEveryPendingVersion(t *testing.T) {
	e := newEnv(t)
	c := e.newCollection(grading.Collection{})
	cfg := e.newConfig()
	e.newDelivery(c.ID, "ada")
	e.newDelivery(c.ID, "ada")
	for _, tt := range []struct {
		deliveries string
		want       int
	}{{grading.DeliveriesLatest, 1}, {grading.DeliveriesAll, 2}} {
		b, err := e.store.CreateBatch(t.Context(), grading.Batch{
			WorkflowID: "w-" + tt.deliveries, CollectionID: c.ID, ConfigID: cfg.ID, Deliveries: tt.deliveries,
		})
		require.NoError(t, err)
		page := e.do(http.MethodGet, "/ui/batches/"+b.ID, nil, "")
		require.Equal(t, http.StatusOK, page.code)
		assert.Equal(t, tt.want, strings.Count(string(page.body), `data-user="ada" data-status="pending"`), tt.deliveries)
	}
}
