package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/grading"
)

// courseFixture is one course's data for the access tests.
type courseFixture struct {
	course     grading.Course
	collection grading.Collection
	config     grading.Config
	own        grading.Delivery // alice's, with a result
	other      grading.Delivery // bob's, with a result
	running    grading.Batch
	finished   grading.Batch // with one failed delivery: regradable
}

func (e *env) courseFixture(name string) courseFixture {
	e.t.Helper()
	ctx := e.t.Context()
	c, err := e.store.CreateCourse(ctx, grading.Course{Name: name})
	require.NoError(e.t, err)
	f := courseFixture{course: c}
	f.collection = e.newCollection(grading.Collection{Course: c.ID})
	f.config, err = e.store.CreateConfig(ctx, grading.Config{Name: "hello", Course: c.ID, Source: helloYAML, Parsed: []byte(`{"version":1}`)})
	require.NoError(e.t, err)
	f.own = e.newDelivery(f.collection.ID, "alice")
	f.other = e.newDelivery(f.collection.ID, "bob")
	f.finished = e.newBatch(f.collection.ID, f.config.ID)
	for _, d := range []grading.Delivery{f.own, f.other} {
		_, err := e.store.SaveResult(ctx, grading.Result{
			DeliveryID: d.ID, ConfigID: f.config.ID, BatchID: f.finished.ID, Status: grading.StatusError,
			Steps: visibilitySteps(), MaxScore: 10,
		})
		require.NoError(e.t, err)
	}
	e.finish(f.finished.ID, grading.Summary{Total: 2, Counts: grading.Counts{Error: 2}})
	// Another config, so the running batch does not block new ones.
	cfg2, err := e.store.CreateConfig(ctx, grading.Config{Name: "other", Course: c.ID, Source: helloYAML, Parsed: []byte(`{"version":1}`)})
	require.NoError(e.t, err)
	f.running = e.newBatch(f.collection.ID, cfg2.ID)
	return f
}

// endpoint is one route of the matrix with a request built for a course.
type endpoint struct {
	route string
	// path builds the target for the course's fixture.
	path func(f courseFixture) string
	// body builds the request body and its content type.
	body func(t *testing.T, f courseFixture) (io.Reader, string)
	// want is the expected class per role (admin, instructor, assistant,
	// student) for the caller's own course, then for another course.
	own, other string
}

func jsonBody(format string, args ...func(courseFixture) string) func(*testing.T, courseFixture) (io.Reader, string) {
	return func(_ *testing.T, f courseFixture) (io.Reader, string) {
		vals := make([]any, len(args))
		for i, a := range args {
			vals[i] = a(f)
		}
		return strings.NewReader(fmt.Sprintf(format, vals...)), "application/json"
	}
}

var (
	courseID     = func(f courseFixture) string { return f.course.ID }
	collectionID = func(f courseFixture) string { return f.collection.ID }
	configID     = func(f courseFixture) string { return f.config.ID }
)

// matrix lists every route with who may use it. "ok" means authorized (any
// answer but 401, 403, 404 and 5xx); other entries are exact statuses.
func matrix() []endpoint {
	fixed := func(p string) func(courseFixture) string { return func(courseFixture) string { return p } }
	return []endpoint{
		{route: "POST /v1/courses", path: fixed("/v1/courses"), body: jsonBody(`{"name":"new"}`), own: "ok 403 403 403", other: "ok 403 403 403"},
		{route: "GET /v1/courses/{id}", path: func(f courseFixture) string { return "/v1/courses/" + f.course.ID }, own: "ok 403 403 403", other: "ok 403 403 403"},
		{route: "POST /v1/api-keys", path: fixed("/v1/api-keys"), body: jsonBody(`{"name":"k","role":"student","courses":[%q],"user":"zed"}`, courseID), own: "ok 403 403 403", other: "ok 403 403 403"},
		{route: "DELETE /v1/api-keys/{id}", path: fixed("/v1/api-keys/no-such-key"), own: "404 403 403 403", other: "404 403 403 403"},
		{route: "GET /v1/audit", path: fixed("/v1/audit"), own: "ok 403 403 403", other: "ok 403 403 403"},

		{route: "POST /v1/collections", path: fixed("/v1/collections"), body: jsonBody(`{"name":"lab","course":%q}`, courseID), own: "ok ok 403 403", other: "ok 404 403 403"},
		{route: "GET /v1/collections/{id}", path: func(f courseFixture) string { return "/v1/collections/" + f.collection.ID }, own: "ok ok ok ok", other: "ok 404 404 404"},
		{
			route: "POST /v1/collections/{id}/deliveries", path: func(f courseFixture) string { return "/v1/collections/" + f.collection.ID + "/deliveries" },
			body: func(t *testing.T, _ courseFixture) (io.Reader, string) {
				return multipartBody(t, textPart("user", "alice"), filePart("main.c", []byte("int main(){}\n")))
			},
			own: "ok ok 403 ok", other: "ok 404 404 404",
		},

		{
			route: "POST /v1/grading-configs", path: func(f courseFixture) string { return "/v1/grading-configs?course=" + f.course.ID },
			body: func(*testing.T, courseFixture) (io.Reader, string) {
				return strings.NewReader(helloYAML), "application/yaml"
			},
			own: "ok ok 403 403", other: "ok 404 403 403",
		},
		{route: "GET /v1/grading-configs/{id}", path: func(f courseFixture) string { return "/v1/grading-configs/" + f.config.ID }, own: "ok ok ok 403", other: "ok 404 404 404"},

		// Environments are global: the course does not matter. The POST
		// row runs first and creates the environment the GET rows read.
		{
			route: "POST /v1/environments", path: fixed("/v1/environments?name=matrix"),
			body: func(t *testing.T, _ courseFixture) (io.Reader, string) {
				return bytes.NewReader(tinyImage(t)), "application/x-tar"
			},
			own: "ok ok 403 403", other: "ok ok 403 403",
		},
		{route: "GET /v1/environments", path: fixed("/v1/environments"), own: "ok ok ok 403", other: "ok ok ok 403"},
		{route: "GET /v1/environments/{name}", path: fixed("/v1/environments/matrix"), own: "ok ok ok 403", other: "ok ok ok 403"},

		{route: "POST /v1/batches", path: fixed("/v1/batches"), body: jsonBody(`{"collection_id":%q,"config_id":%q}`, collectionID, configID), own: "ok ok 403 403", other: "ok 404 403 403"},
		{route: "GET /v1/batches/{id}", path: func(f courseFixture) string { return "/v1/batches/" + f.running.ID }, own: "ok ok ok 403", other: "ok 404 404 404"},
		{route: "PATCH /v1/batches/{id}", path: func(f courseFixture) string { return "/v1/batches/" + f.running.ID }, body: jsonBody(`{"concurrency":3}`), own: "ok ok 403 403", other: "ok 404 404 404"},
		{route: "POST /v1/batches/{id}/cancel", path: func(f courseFixture) string { return "/v1/batches/" + f.running.ID + "/cancel" }, own: "ok ok 403 403", other: "ok 404 404 404"},
		{route: "POST /v1/batches/{id}/pause", path: func(f courseFixture) string { return "/v1/batches/" + f.running.ID + "/pause" }, own: "ok ok 403 403", other: "ok 404 404 404"},
		{route: "POST /v1/batches/{id}/resume", path: func(f courseFixture) string { return "/v1/batches/" + f.running.ID + "/resume" }, own: "ok ok 403 403", other: "ok 404 404 404"},
		{route: "POST /v1/batches/{id}/regrade-failed", path: func(f courseFixture) string { return "/v1/batches/" + f.finished.ID + "/regrade-failed" }, own: "ok ok ok 403", other: "ok 404 404 404"},
		{route: "GET /v1/batches/{id}/results", path: func(f courseFixture) string { return "/v1/batches/" + f.finished.ID + "/results" }, own: "ok ok ok 403", other: "ok 404 404 404"},

		{route: "GET /v1/collections", path: fixed("/v1/collections"), own: "ok ok ok 403", other: "ok ok ok 403"},
		{route: "GET /v1/collections/{id}/deliveries", path: func(f courseFixture) string { return "/v1/collections/" + f.collection.ID + "/deliveries" }, own: "ok ok ok 403", other: "ok 404 404 404"},
		{route: "GET /v1/batches", path: func(f courseFixture) string { return "/v1/batches?collection_id=" + f.collection.ID }, own: "ok ok ok 403", other: "ok 404 404 403"},
		{route: "GET /v1/batches/{id}/results.csv", path: func(f courseFixture) string { return "/v1/batches/" + f.finished.ID + "/results.csv" }, own: "ok ok ok 403", other: "ok 404 404 404"},

		{route: "GET /v1/batches/{id}/events", path: func(f courseFixture) string { return "/v1/batches/" + f.finished.ID + "/events" }, own: "503 503 503 403", other: "503 404 404 404"}, // authorized; no event feed in this env,

		{route: "GET /ui/{$}", path: fixed("/ui/"), own: "ok ok ok 403", other: "ok ok ok 403"},
		{route: "GET /ui/batches/{id}", path: func(f courseFixture) string { return "/ui/batches/" + f.finished.ID }, own: "ok ok ok 403", other: "ok 404 404 404"},
		{route: "GET /ui/batches/{id}/progress", path: func(f courseFixture) string { return "/ui/batches/" + f.finished.ID + "/progress" }, own: "ok ok ok 403", other: "ok 404 404 404"},
		{route: "GET /ui/batches/{id}/deliveries", path: func(f courseFixture) string { return "/ui/batches/" + f.finished.ID + "/deliveries" }, own: "ok ok ok 403", other: "ok 404 404 404"},
		{route: "GET /ui/deliveries/{id}/results/{config_id}", path: func(f courseFixture) string { return "/ui/deliveries/" + f.own.ID + "/results/" + f.config.ID }, own: "ok ok ok 403", other: "ok 404 404 404"},

		{route: "GET /v1/deliveries/{id}/results/{config_id}", path: func(f courseFixture) string { return "/v1/deliveries/" + f.own.ID + "/results/" + f.config.ID }, own: "ok ok ok ok", other: "ok 404 404 404"},
		{route: "GET /v1/deliveries/{id}/results/{config_id} (another student's)", path: func(f courseFixture) string { return "/v1/deliveries/" + f.other.ID + "/results/" + f.config.ID }, own: "ok ok ok 404", other: "ok 404 404 404"},
		{route: "GET /v1/deliveries/{id}/results/{config_id}/gradescope", path: func(f courseFixture) string {
			return "/v1/deliveries/" + f.own.ID + "/results/" + f.config.ID + "/gradescope"
		}, own: "ok ok 403 403", other: "ok 404 404 404"},
		{route: "GET /v1/deliveries/{id}/results/{config_id}/prairielearn", path: func(f courseFixture) string {
			return "/v1/deliveries/" + f.own.ID + "/results/" + f.config.ID + "/prairielearn"
		}, own: "ok ok 403 403", other: "ok 404 404 404"},

		{route: "POST /v1/codec/encode", path: fixed("/v1/codec/encode"), body: jsonBody(`{"payloads":[]}`), own: "ok ok ok 403", other: "ok ok ok 403"},
		{route: "POST /v1/codec/decode", path: fixed("/v1/codec/decode"), body: jsonBody(`{"payloads":[]}`), own: "ok ok ok 403", other: "ok ok ok 403"},

		{route: "GET /v1/extensions/{name}/configuration", path: fixed("/v1/extensions/core/configuration"), own: "ok 403 403 403", other: "ok 403 403 403"},
	}
}

// TestAccessMatrix walks every route for every role, in the caller's own
// course and in another one, against the real handler and store, and
// checks that no credentials always means 401.
func TestAccessMatrix(t *testing.T) {
	codec := testCodec(t, "matrix")
	e := newEnv(t, func(p *Params) {
		p.Config.RateLimit, p.Config.RateBurst = 1000, 1000
		p.Codec = codec
	})
	mine, theirs := e.courseFixture("mine"), e.courseFixture("theirs")
	tokens := map[grading.Role]string{
		grading.RoleAdmin:      e.token,
		grading.RoleInstructor: e.apiKey(grading.RoleInstructor, "", mine.course.ID),
		grading.RoleAssistant:  e.apiKey(grading.RoleAssistant, "", mine.course.ID),
		grading.RoleStudent:    e.apiKey(grading.RoleStudent, "alice", mine.course.ID),
	}
	covered := map[string]bool{}
	for _, ep := range matrix() {
		method, _, _ := strings.Cut(ep.route, " ")
		covered[strings.Fields(ep.route)[0]+" "+strings.Fields(ep.route)[1]] = true
		for _, side := range []struct {
			name string
			f    courseFixture
			want string
		}{{"own course", mine, ep.own}, {"other course", theirs, ep.other}} {
			wants := strings.Fields(side.want)
			require.Len(t, wants, 4, ep.route)
			for i, role := range grading.Roles {
				t.Run(fmt.Sprintf("%s/%s/%s", ep.route, side.name, role), func(t *testing.T) {
					var body io.Reader
					var ctype string
					if ep.body != nil {
						body, ctype = ep.body(t, side.f)
					}
					target := ep.path(side.f)
					r := e.as(tokens[role]).do(method, target, body, ctype)
					requireClass(t, wants[i], target, r)
				})
			}
			t.Run(ep.route+"/"+side.name+"/anonymous", func(t *testing.T) {
				var body io.Reader
				var ctype string
				if ep.body != nil {
					body, ctype = ep.body(t, side.f)
				}
				target := ep.path(side.f)
				r := e.as("").do(method, target, body, ctype)
				if strings.HasPrefix(target, "/ui/") {
					requireHTMLError(t, r, http.StatusUnauthorized, "no credentials")
				} else {
					requireError(t, r, http.StatusUnauthorized, "no credentials")
				}
				assert.Equal(t, "Bearer", r.header.Get("WWW-Authenticate"))
			})
		}
	}
	// Every route with a rule is in the matrix, so a new rule needs a row.
	for route, rl := range rules {
		if rl.public {
			continue
		}
		assert.True(t, covered[route], "route %s has a rule but no row in the matrix", route)
	}
}

// requireClass checks a matrix answer: errors are JSON, except on the
// instructor pages (/ui/), which answer with an HTML page.
func requireClass(t *testing.T, want, target string, r response) {
	t.Helper()
	if want == "ok" {
		assert.NotContains(t, []int{401, 403, 404}, r.code, "body: %s", r.body)
		assert.Less(t, r.code, 500, "body: %s", r.body)
		return
	}
	assert.Equal(t, want, fmt.Sprint(r.code), "body: %s", r.body)
	if r.code >= 400 {
		wantType := "application/json"
		if strings.HasPrefix(target, "/ui/") {
			wantType = "text/html; charset=utf-8"
		}
		assert.Equal(t, wantType, r.header.Get("Content-Type"))
	}
}

func TestStudentKey(t *testing.T) {
	e := newEnv(t)
	f := e.courseFixture("lab")
	student := e.as(e.apiKey(grading.RoleStudent, "alice", f.course.ID))
	deliveries := "/v1/collections/" + f.collection.ID + "/deliveries"

	body, ctype := multipartBody(t, textPart("user", "bob"), filePart("main.c", []byte("x")))
	requireError(t, student.do(http.MethodPost, deliveries, body, ctype), http.StatusForbidden, `only as "alice"`)

	body, ctype = multipartBody(t, filePart("main.c", []byte("x")))
	r := student.do(http.MethodPost, deliveries, body, ctype)
	require.Equal(t, http.StatusCreated, r.code, "body: %s", r.body)
	assert.Equal(t, "alice", object(t, r)["user"], "the user comes from the key")

	for _, q := range []string{"", "?view=staff"} {
		r = student.do(http.MethodGet, "/v1/deliveries/"+f.own.ID+"/results/"+f.config.ID+q, nil, "")
		require.Equal(t, http.StatusOK, r.code, "body: %s", r.body)
		v := decode[resultView](t, r)
		assert.Equal(t, viewStudent, v.View)
		for _, st := range v.Stages {
			if st.Withheld {
				assert.Empty(t, st.Stdout+st.Stderr+st.Message, st.Name)
			}
		}
	}
	requireError(t, student.do(http.MethodGet, "/v1/deliveries/"+f.other.ID+"/results/"+f.config.ID, nil, ""), http.StatusNotFound, "not found")
	requireError(t, student.do(http.MethodGet, "/v1/batches/"+f.running.ID, nil, ""), http.StatusForbidden, "may not")
}

func TestKeysRevokedOrExpiredAreRefused(t *testing.T) {
	e := newEnv(t)
	r := e.doJSON(http.MethodPost, "/v1/api-keys", `{"name":"ci","role":"instructor","courses":["default"]}`)
	require.Equal(t, http.StatusCreated, r.code, "body: %s", r.body)
	created := object(t, r)
	key, id := created["key"].(string), created["id"].(string)
	assert.NotContains(t, string(r.body), "hash")
	assert.Equal(t, http.StatusOK, e.as(key).do(http.MethodGet, "/v1/collections/"+e.newCollection(grading.Collection{}).ID, nil, "").code)

	r = e.do(http.MethodDelete, "/v1/api-keys/"+id, nil, "")
	require.Equal(t, http.StatusNoContent, r.code, "body: %s", r.body)
	requireError(t, e.as(key).do(http.MethodGet, "/v1/audit", nil, ""), http.StatusUnauthorized, "revoked")

	requireError(t, e.as("zinc_nonsense").do(http.MethodGet, "/v1/audit", nil, ""), http.StatusUnauthorized, "unknown API key")

	soon := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	requireError(t, e.doJSON(http.MethodPost, "/v1/api-keys", `{"name":"s","role":"student","courses":["default"]}`), http.StatusBadRequest, "user is required")
	requireError(t, e.doJSON(http.MethodPost, "/v1/api-keys", `{"name":"s","role":"root"}`), http.StatusBadRequest, "role")
	requireError(t, e.doJSON(http.MethodPost, "/v1/api-keys", `{"name":"s","role":"assistant","courses":["nope"]}`), http.StatusNotFound, "course nope")
	requireError(t, e.doJSON(http.MethodPost, "/v1/api-keys", `{"name":"s","role":"assistant","courses":["default","default"]}`),
		http.StatusBadRequest, `courses[1] repeats courses[0] ("default")`)
	r = e.doJSON(http.MethodPost, "/v1/api-keys", `{"name":"s","role":"assistant","courses":["default"],"expires_at":"`+soon+`"}`)
	require.Equal(t, http.StatusCreated, r.code, "body: %s", r.body)
	_, err := e.store.APIKey(t.Context(), object(t, r)["id"].(string))
	require.NoError(t, err)
}

func TestAuditNamesWhoCancelledABatch(t *testing.T) {
	e := newEnv(t)
	f := e.courseFixture("lab")
	teacher := e.as(e.apiKey(grading.RoleInstructor, "", f.course.ID))
	r := teacher.doWith(http.MethodPost, "/v1/batches/"+f.running.ID+"/cancel", nil, "", http.Header{"X-Request-Id": {"cancel-1"}})
	require.Equal(t, http.StatusAccepted, r.code, "body: %s", r.body)
	// A second, refused attempt by a student is recorded too.
	student := e.as(e.apiKey(grading.RoleStudent, "alice", f.course.ID))
	require.Equal(t, http.StatusForbidden, student.do(http.MethodPost, "/v1/batches/"+f.running.ID+"/cancel", nil, "").code)

	r = e.do(http.MethodGet, "/v1/audit?target="+f.running.ID, nil, "")
	require.Equal(t, http.StatusOK, r.code, "body: %s", r.body)
	var rows []map[string]any
	require.NoError(t, json.Unmarshal(r.body, &rows))
	require.Len(t, rows, 2, "body: %s", r.body)
	for _, k := range []string{"time", "actor", "role", "action", "target", "outcome", "request_id"} {
		assert.Contains(t, rows[0], k)
	}
	assert.Equal(t, "instructor", rows[0]["role"])
	assert.Regexp(t, `^key:`, rows[0]["actor"])
	assert.Equal(t, "batch.cancel", rows[0]["action"])
	assert.Equal(t, f.running.ID, rows[0]["target"])
	assert.Equal(t, "ok", rows[0]["outcome"])
	assert.Equal(t, "cancel-1", rows[0]["request_id"])
	assert.Equal(t, "student", rows[1]["role"])
	assert.Equal(t, "denied", rows[1]["outcome"])

	// A create is recorded in the transaction of its row, with the new id.
	r = teacher.doJSON(http.MethodPost, "/v1/collections", `{"name":"lab 2"}`)
	require.Equal(t, http.StatusCreated, r.code, "body: %s", r.body)
	col := object(t, r)["id"].(string)
	assert.Equal(t, f.course.ID, object(t, r)["course"], "the instructor's one course")
	r = e.do(http.MethodGet, "/v1/audit?target="+col+"&course="+f.course.ID, nil, "")
	require.NoError(t, json.Unmarshal(r.body, &rows))
	require.Len(t, rows, 1, "body: %s", r.body)
	assert.Equal(t, "collection.create", rows[0]["action"])
	requireError(t, student.do(http.MethodGet, "/v1/audit", nil, ""), http.StatusForbidden, "may not")
}

// Entries sharing one microsecond (a busy second, or a clock that ticks
// coarsely) are read page by page through the cursor: each once, in order.
func TestAuditPagesThroughEntriesOfOneInstant(t *testing.T) {
	e := newEnv(t)
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	var want []string
	for i := range 7 {
		target := fmt.Sprintf("t%d", i)
		require.NoError(t, e.store.AppendAudit(t.Context(), grading.AuditEntry{
			Time: at, Actor: "key:x", Role: grading.RoleAdmin, Action: "probe", Target: target, Outcome: "ok",
		}))
		want = append(want, target)
	}
	for _, limit := range []int{1, 2, 3, 7} {
		var got []string
		next := fmt.Sprintf("/v1/audit?actor=key:x&limit=%d", limit)
		for pages := 0; next != ""; pages++ {
			require.Less(t, pages, 10, "limit %d: the cursor does not advance", limit)
			r := e.do(http.MethodGet, next, nil, "")
			require.Equal(t, http.StatusOK, r.code, "body: %s", r.body)
			var rows []map[string]any
			require.NoError(t, json.Unmarshal(r.body, &rows))
			for _, row := range rows {
				got = append(got, row["target"].(string))
			}
			next = ""
			if link := r.header.Get("Link"); link != "" {
				m := regexp.MustCompile(`^<([^>]+)>; rel="next"$`).FindStringSubmatch(link)
				require.NotNil(t, m, "Link: %s", link)
				next = m[1]
				assert.Contains(t, next, "cursor="+r.header.Get("X-Next-Cursor"))
			}
		}
		assert.ElementsMatch(t, want, got, "limit %d", limit)
		assert.Len(t, got, len(want), "limit %d: an entry repeated", limit)
	}
}

func TestRateLimitAnswers429WithRetryAfter(t *testing.T) {
	e := newEnv(t, func(p *Params) { p.Config.RateLimit, p.Config.RateBurst = 0.5, 2 })
	col := e.newCollection(grading.Collection{})
	for range 2 {
		require.Equal(t, http.StatusOK, e.do(http.MethodGet, "/v1/collections/"+col.ID, nil, "").code)
	}
	r := e.do(http.MethodGet, "/v1/collections/"+col.ID, nil, "")
	requireError(t, r, http.StatusTooManyRequests, "rate limit")
	assert.Equal(t, "2", r.header.Get("Retry-After"))
	// Another key has its own budget.
	other := e.as(e.apiKey(grading.RoleAssistant, "", grading.DefaultCourseID))
	assert.Equal(t, http.StatusOK, other.do(http.MethodGet, "/v1/collections/"+col.ID, nil, "").code)
}

func TestConcurrentUploadsPerKeyAreBounded(t *testing.T) {
	l := newLimits(10, 10, 2, 2)
	r1, err := l.startUpload("a")
	require.NoError(t, err)
	r2, err := l.startUpload("a")
	require.NoError(t, err)
	_, err = l.startUpload("a")
	var tm *tooManyError
	require.ErrorAs(t, err, &tm)
	_, err = l.startUpload("b")
	require.NoError(t, err, "another caller")
	r1()
	r3, err := l.startUpload("a")
	require.NoError(t, err)
	r2()
	r3()
}

// TestListsShowTheCallersCourses: an instructor's lists and overview show
// their course's collections and batches and nothing of another course;
// an admin's show both.
func TestListsShowTheCallersCourses(t *testing.T) {
	e := newEnv(t)
	mine, theirs := e.courseFixture("mine"), e.courseFixture("theirs")
	ids := func(r response) []string {
		require.Equal(t, http.StatusOK, r.code, "%s", r.body)
		var page struct {
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
		}
		require.NoError(t, json.Unmarshal(r.body, &page), "%s", r.body)
		var out []string
		for _, it := range page.Items {
			out = append(out, it.ID)
		}
		return out
	}
	teacher := e.as(e.apiKey(grading.RoleInstructor, "", mine.course.ID))
	assert.Equal(t, []string{mine.collection.ID}, ids(teacher.do(http.MethodGet, "/v1/collections", nil, "")))
	assert.ElementsMatch(t, []string{mine.finished.ID, mine.running.ID}, ids(teacher.do(http.MethodGet, "/v1/batches", nil, "")))
	home := teacher.do(http.MethodGet, "/ui/", nil, "")
	require.Equal(t, http.StatusOK, home.code)
	assert.Contains(t, string(home.body), mine.collection.ID)
	assert.NotContains(t, string(home.body), theirs.collection.ID)

	admin := e.as(e.apiKey(grading.RoleAdmin, ""))
	assert.ElementsMatch(t, []string{mine.collection.ID, theirs.collection.ID}, ids(admin.do(http.MethodGet, "/v1/collections", nil, "")))
}

// TestOtherCourseCollectionIsUnknown: a collection named in a body or a
// query, of a course the caller does not belong to, answers exactly as a
// collection that does not exist, and never names its course.
func TestOtherCourseCollectionIsUnknown(t *testing.T) {
	e := newEnv(t)
	mine, theirs := e.courseFixture("mine"), e.courseFixture("theirs")
	inst := e.as(e.apiKey(grading.RoleInstructor, "", mine.course.ID))
	const missing = "01a22f59-0000-7000-8000-000000000000"
	for _, tc := range []struct {
		name string
		do   func(collection string) response
	}{
		{"GET /v1/batches?collection_id=", func(c string) response {
			return inst.do(http.MethodGet, "/v1/batches?collection_id="+c, nil, "")
		}},
		{"POST /v1/batches", func(c string) response {
			body := fmt.Sprintf(`{"collection_id":%q,"config_id":%q}`, c, mine.config.ID)
			return inst.do(http.MethodPost, "/v1/batches", strings.NewReader(body), "application/json")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			unknown := requireError(t, tc.do(missing), http.StatusNotFound, missing)
			other := requireError(t, tc.do(theirs.collection.ID), http.StatusNotFound, theirs.collection.ID)
			assert.NotContains(t, other.Error, theirs.course.ID)
			assert.Equal(t, strings.ReplaceAll(unknown.Error, missing, theirs.collection.ID), other.Error)
		})
	}
}

// TestNoAnswerIsStored: every answer of a route with credentials is about
// one caller's rights (grades, hidden tests, a student's own result), and a
// browser signed in by the session cookie sends no Authorization header,
// so nothing may be kept by a browser or a shared cache. The results CSV,
// the one /v1 answer not written by writeJSON, had no Cache-Control.
func TestNoAnswerIsStored(t *testing.T) {
	codec := testCodec(t, "nostore")
	e := newEnv(t, func(p *Params) {
		p.Config.RateLimit, p.Config.RateBurst = 1000, 1000
		p.Codec = codec
	})
	f := e.courseFixture("mine")
	student := e.apiKey(grading.RoleStudent, "alice", f.course.ID)
	for _, ep := range matrix() {
		method, _, _ := strings.Cut(ep.route, " ")
		for role, token := range map[grading.Role]string{grading.RoleAdmin: e.token, grading.RoleStudent: student} {
			t.Run(ep.route+"/"+string(role), func(t *testing.T) {
				var body io.Reader
				var ctype string
				if ep.body != nil {
					body, ctype = ep.body(t, f)
				}
				r := e.as(token).do(method, ep.path(f), body, ctype)
				assert.Equal(t, "no-store", r.header.Get("Cache-Control"), "status %d", r.code)
			})
		}
	}
}
