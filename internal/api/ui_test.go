package api

import (
	"encoding/json"
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
	secret := e.apiKey(grading.RoleInstructor, "", grading.DefaultCourseID)
	r := e.do(http.MethodGet, "/ui/batches/b1?view=x&token="+secret, nil, "")
	require.Equal(t, http.StatusSeeOther, r.code)
	assert.Equal(t, "/ui/batches/b1?view=x", r.header.Get("Location"))
	cookie := r.header.Get("Set-Cookie")
	assert.Contains(t, cookie, "zinc_session="+secret)
	assert.Contains(t, cookie, "HttpOnly")
	assert.Contains(t, cookie, "SameSite=Strict")
	assert.Contains(t, cookie, "Path=/")

	r = e.do(http.MethodGet, "/ui/?token=", nil, "")
	require.Equal(t, http.StatusSeeOther, r.code)
	assert.Contains(t, r.header.Get("Set-Cookie"), "Max-Age=0", "an empty token signs out")

	r = e.do(http.MethodGet, "/v1/batches/b1?token="+secret, nil, "")
	assert.Empty(t, r.header.Get("Set-Cookie"), "only /ui/ URLs sign in")

	r = e.do(http.MethodGet, "/ui?token="+secret, nil, "")
	require.Equal(t, http.StatusSeeOther, r.code, "/ui without its slash signs in too")
	assert.Equal(t, "/ui/", r.header.Get("Location"))
	assert.Contains(t, r.header.Get("Set-Cookie"), "zinc_session="+secret)
	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		r = e.do(method, "/ui/?token="+secret, nil, "")
		assert.Empty(t, r.header.Get("Set-Cookie"), "%s signs nobody in", method)
		assert.NotEqual(t, http.StatusSeeOther, r.code, method)
	}

	assert.NotContains(t, cookie, "Secure", "plain HTTP, no proxy")
	r = e.doWith(http.MethodGet, "/ui/?token="+secret, nil, "", http.Header{"X-Forwarded-Proto": {"https"}})
	assert.Contains(t, r.header.Get("Set-Cookie"), "Secure", "behind a proxy that terminated TLS")
}

// A link on another site must not sign a visitor in with its author's key
// unasked (login CSRF): the browser says where the link came from, and the
// page asks; its button repeats the request from this site.
func TestTokenLinkFromAnotherSiteAsksFirst(t *testing.T) {
	e := newEnv(t)
	e.token = ""
	for _, site := range []string{"cross-site", "same-site"} {
		r := e.doWith(http.MethodGet, "/ui/batches/b1?view=x&token=zk_attacker", nil, "", http.Header{"Sec-Fetch-Site": {site}})
		require.Equal(t, http.StatusOK, r.code, site)
		assert.Empty(t, r.header.Get("Set-Cookie"), site)
		assert.Equal(t, "no-referrer", r.header.Get("Referrer-Policy"))
		assert.Equal(t, "no-store", r.header.Get("Cache-Control"))
		body := string(r.body)
		assert.Contains(t, body, `<form id="sign-in" method="get" action="/ui/batches/b1">`)
		assert.Contains(t, body, `<input type="hidden" name="token" value="zk_attacker">`)
		assert.Contains(t, body, `<input type="hidden" name="view" value="x">`)
	}
	mine := e.apiKey(grading.RoleInstructor, "", grading.DefaultCourseID)
	for _, site := range []string{"same-origin", "none"} {
		r := e.doWith(http.MethodGet, "/ui/batches/b1?token="+mine, nil, "", http.Header{"Sec-Fetch-Site": {site}})
		require.Equal(t, http.StatusSeeOther, r.code, site)
		assert.Contains(t, r.header.Get("Set-Cookie"), "zinc_session="+mine, site)
	}
}

// A ?token= that is not a credential (a mistyped or revoked key) is refused
// with the sign-in error page and leaves the browser's session as it was:
// bad input changes nothing.
func TestTokenLinkWithABadKeyKeepsTheSession(t *testing.T) {
	e := newEnv(t)
	created := e.doJSON(http.MethodPost, "/v1/api-keys", `{"name":"gone","role":"instructor","courses":["default"]}`)
	require.Equal(t, http.StatusCreated, created.code, "body: %s", created.body)
	var k struct{ ID, Key string }
	require.NoError(t, json.Unmarshal(created.body, &k))
	require.Equal(t, http.StatusNoContent, e.do(http.MethodDelete, "/v1/api-keys/"+k.ID, nil, "").code)
	revoked := k.Key
	browser := e.as("")
	for _, bad := range []string{"zk_mistyped", revoked} {
		r := browser.do(http.MethodGet, "/ui/batches/b1?token="+bad, nil, "")
		requireHTMLError(t, r, http.StatusUnauthorized, "unauthenticated")
		assert.Empty(t, r.header.Get("Set-Cookie"), "the session is left as it was")
		assert.Equal(t, "Bearer", r.header.Get("WWW-Authenticate"))
		assert.NotContains(t, string(r.body), bad, "the page does not echo the key")
	}
}

func TestSessionCookieBecomesBearerAndNeedsHTMXToChangeState(t *testing.T) {
	var got []string
	h := (&Server{}).withSession(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
	// Nothing on the page needs the script permissions its policy withholds.
	policy := page.header.Get("Content-Security-Policy")
	assert.Contains(t, policy, "script-src 'self';")
	assert.Contains(t, policy, "frame-ancestors 'none'")
	assert.NotContains(t, policy, "unsafe-eval")
	assert.NotRegexp(t, `<script>|<script [^>]*>[^<]|\son[a-z]+=|hx-on|"js:|'js:|javascript:`, body)

	frag := e.do(http.MethodGet, "/ui/batches/"+b.ID+"/progress", nil, "")
	require.Equal(t, http.StatusOK, frag.code)
	assert.True(t, strings.HasPrefix(strings.TrimSpace(string(frag.body)), `<section id="progress"`), string(frag.body))
	assert.Equal(t, policy, frag.header.Get("Content-Security-Policy"))

	del := e.do(http.MethodGet, "/ui/deliveries/"+d.ID+"/results/"+cfg.ID, nil, "")
	require.Equal(t, http.StatusOK, del.code)
	staff, student, ok := strings.Cut(string(del.body), `<div id="student">`)
	require.True(t, ok)
	assert.Contains(t, staff, "expected 42")
	assert.NotContains(t, student, "expected 42", "hidden until the due date")
	assert.Contains(t, student, "compiled fine")
	assert.Contains(t, student, "not visible to the student yet")

	missing := e.do(http.MethodGet, "/ui/batches/nope", nil, "")
	requireHTMLError(t, missing, http.StatusNotFound, "not found")
	assert.Equal(t, policy, missing.header.Get("Content-Security-Policy"))

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

// TestUIErrorsArePages checks that a refusal on an instructor page is an
// HTML page a person can read, signed in with the session cookie like a
// browser, while the API keeps answering JSON.
func TestUIErrorsArePages(t *testing.T) {
	e := newEnv(t)
	mine, theirs := e.courseFixture("mine"), e.courseFixture("theirs")
	instructor := e.apiKey(grading.RoleInstructor, "", mine.course.ID)
	browser := e.as("")
	get := func(target string) response {
		return browser.doWith(http.MethodGet, target, nil, "", http.Header{"Cookie": {sessionCookie + "=" + instructor}})
	}

	unknown := get("/ui/batches/00000000-0000-0000-0000-000000000000")
	requireHTMLError(t, unknown, http.StatusNotFound, "batch 00000000-0000-0000-0000-000000000000: not found")
	assert.Contains(t, string(unknown.body), "<title>Not Found · ZINC</title>")
	assert.Contains(t, string(unknown.body), `href="/ui/"`, "the page leads back")

	// Another course's batch is as unknown as a missing one.
	other := get("/ui/batches/" + theirs.finished.ID)
	requireHTMLError(t, other, http.StatusNotFound, "not found")
	assert.NotContains(t, string(other.body), "theirs")

	requireHTMLError(t, get("/ui/nowhere"), http.StatusNotFound, "no page at /ui/nowhere")
	assert.Equal(t, http.StatusOK, get("/ui/batches/"+mine.finished.ID).code, "the cookie does sign in")
	student := e.apiKey(grading.RoleStudent, "alice", mine.course.ID)
	refused := browser.doWith(http.MethodGet, "/ui/", nil, "", http.Header{"Cookie": {sessionCookie + "=" + student}})
	requireHTMLError(t, refused, http.StatusForbidden, "may not use GET /ui/")

	anonymous := browser.do(http.MethodGet, "/ui/batches/"+mine.finished.ID, nil, "")
	requireHTMLError(t, anonymous, http.StatusUnauthorized, "no credentials")
	assert.Contains(t, string(anonymous.body), "?token=")

	// The API's own answers stay JSON.
	api := browser.doWith(http.MethodGet, "/v1/batches/00000000-0000-0000-0000-000000000000", nil, "", http.Header{"Cookie": {sessionCookie + "=" + instructor}})
	requireError(t, api, http.StatusNotFound, "not found")
}

// A page whose URL carries a key it did not sign in with (here /ui without
// its slash, which is no sign-in URL: 401 without a session) must not send that URL on in a
// Referer: not to the page's own scripts and stylesheet, nor through a link.
func TestUIPagesSendNoReferer(t *testing.T) {
	e := newEnv(t)
	secret := e.apiKey(grading.RoleInstructor, "", grading.DefaultCourseID)
	browser := e.as("")
	for _, target := range []string{"/ui?token=" + secret, "/ui/nowhere?token=" + secret + "&x=1"} {
		r := browser.do(http.MethodGet, target, nil, "")
		assert.Contains(t, r.header.Get("Content-Type"), "text/html", target)
		assert.Equal(t, "no-referrer", r.header.Get("Referrer-Policy"), target)
	}
	for _, target := range []string{"/ui/", "/ui/batches/00000000-0000-0000-0000-000000000000"} {
		r := browser.doWith(http.MethodGet, target, nil, "", http.Header{"Cookie": {sessionCookie + "=" + secret}})
		assert.Equal(t, "no-referrer", r.header.Get("Referrer-Policy"), target)
	}
}

// The embedded scripts and stylesheet are served with their type and
// nosniff, so the pages' script-src 'self' runs them only as what they are.
func TestUIStaticFilesAreNotSniffed(t *testing.T) {
	e := newEnv(t)
	for _, f := range []string{"app.js", "htmx.min.js", "style.css"} {
		r := e.as("").do(http.MethodGet, "/ui/static/"+f, nil, "")
		require.Equal(t, http.StatusOK, r.code, f)
		assert.Equal(t, "nosniff", r.header.Get("X-Content-Type-Options"), f)
	}
}
