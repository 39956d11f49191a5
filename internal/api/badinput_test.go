package api

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/store"
	"github.com/zinc-edu/orchestrator/internal/store/storetest"
)

// NUL and invalid UTF-8 are in no id, name or cursor, and PostgreSQL
// refuses to compare text holding them: such input used to reach the
// database and answer 500 there (404 or 200 on SQLite). It is a 400 naming
// the problem on every engine, and a refused mutation is still audited.
func TestBadInputTextNoIDHolds(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		e := newEnvOn(t, s)
		c := e.newCollection(grading.Collection{})
		cfg := e.newConfig()
		d := e.newDelivery(c.ID, "ada")
		// A cursor of the right shape whose id is NUL or not UTF-8:
		// base64url("123.\x00") and base64url("123.\xff").
		const nulCursor, badCursor = "MTIzLgA", "MTIzLv8"
		tests := []struct {
			method, target, body, want string
		}{
			{"GET", "/v1/collections/%00", "", "NUL character or invalid UTF-8"},
			{"GET", "/v1/collections/%ff", "", "NUL character or invalid UTF-8"},
			{"GET", "/v1/collections/a%00b/deliveries", "", "NUL character or invalid UTF-8"},
			{"GET", "/v1/grading-configs/%00", "", "NUL character or invalid UTF-8"},
			{"GET", "/v1/batches/%00/results", "", "NUL character or invalid UTF-8"},
			{"GET", "/v1/courses/%00", "", "NUL character or invalid UTF-8"},
			{"GET", "/v1/environments/%ff", "", "NUL character or invalid UTF-8"},
			{"GET", "/v1/deliveries/" + d.ID + "/results/%00", "", "NUL character or invalid UTF-8"},
			{"GET", "/v1/batches?collection_id=%00", "", `query parameter "collection_id" holds a NUL character`},
			{"GET", "/v1/audit?actor=%ff", "", `query parameter "actor" holds a NUL character or invalid UTF-8`},
			{"GET", "/v1/collections?cursor=" + nulCursor, "", "invalid cursor"},
			{"GET", "/v1/environments?cursor=" + badCursor, "", "invalid cursor"},
			{"GET", "/v1/collections/" + c.ID + "/deliveries?cursor=" + nulCursor, "", "invalid cursor"},
			{"POST", "/v1/batches/%00/cancel", "", "NUL character or invalid UTF-8"},
			{"PATCH", "/v1/batches/%00", `{"concurrency": 3}`, "NUL character or invalid UTF-8"},
			{"DELETE", "/v1/api-keys/%00", "", "NUL character or invalid UTF-8"},
			{"POST", "/v1/grading-configs?course=%00", helloYAML, `query parameter "course" holds a NUL character`},
			{"POST", "/v1/collections", `{"name": "x", "course": "\u0000"}`, `field "course" holds a NUL character`},
			{"POST", "/v1/api-keys", `{"name": "x", "role": "instructor", "courses": ["default", "a\u0000"]}`, `field "courses[1]" holds a NUL character`},
			{"POST", "/v1/batches", `{"collection_id": "\u0000", "config_id": "x"}`, `field "collection_id" holds a NUL character`},
			{"POST", "/v1/batches", fmt.Sprintf(`{"collection_id": %q, "config_id": "%s\u0000"}`, c.ID, cfg.ID), `field "config_id" holds a NUL character`},
		}
		for _, tt := range tests {
			t.Run(tt.method+" "+tt.target, func(t *testing.T) {
				r := e.doJSON(tt.method, tt.target, tt.body)
				requireError(t, r, http.StatusBadRequest, tt.want)
			})
		}
		cols, _, err := s.Collections(t.Context(), nil, "", store.MaxPageSize)
		require.NoError(t, err)
		assert.Len(t, cols, 1)
		bs, _, err := s.Batches(t.Context(), "", nil, "", store.MaxPageSize)
		require.NoError(t, err)
		assert.Empty(t, bs)
		assert.Empty(t, e.logs.lines(t, "request failed"), "no request failed inside")
		assert.Empty(t, e.logs.lines(t, "audit entry not written"), "refused mutations are audited")
	})
}

// A query string that does not parse used to lose its parameters without a
// word: ?limit=%zz listed the default 50.
func TestBadInputMalformedQueryString(t *testing.T) {
	e := newEnv(t)
	for _, target := range []string{"/v1/collections?limit=%zz", "/v1/environments?cursor=a%zz", "/v1/collections?limit=5;cursor=x"} {
		t.Run(target, func(t *testing.T) {
			requireError(t, e.do(http.MethodGet, target, nil, ""), http.StatusBadRequest, "malformed query string")
		})
	}
}

// A query parameter given twice was read as its first value without a
// word: POST /v1/grading-configs?course=A&course=B stored the config in A.
// Every route now refuses it, and nothing is stored.
func TestBadInputRepeatedQueryParameter(t *testing.T) {
	e := newEnv(t)
	const yaml = "version: 1\nname: sum\nstages:\n  - {name: run, command: [true], points: 1}\n"
	tests := []struct {
		method, target string
		body           string
		want           string
	}{
		{http.MethodPost, "/v1/grading-configs?course=default&course=other", yaml, `query parameter "course" is given 2 times; want once`},
		{http.MethodGet, "/v1/collections?limit=1&limit=2", "", `query parameter "limit" is given 2 times; want once`},
		{http.MethodGet, "/v1/audit?target=a&target=b&target=c", "", `query parameter "target" is given 3 times; want once`},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			r := e.do(tt.method, tt.target, strings.NewReader(tt.body), "application/yaml")
			requireError(t, r, http.StatusBadRequest, tt.want)
		})
	}
	assert.Zero(t, e.count("grading_config"))
	r := e.do(http.MethodPost, "/v1/grading-configs?course=default", strings.NewReader(yaml), "application/yaml")
	assert.Equal(t, http.StatusCreated, r.code, "body: %s", r.body)
}

// encoding/json fills a field from a name in any case and lets the last
// of two equal names win, so {"name":"k","role":"student","ROLE":"admin"}
// created an admin key, and {"NAME":"x"} a collection, although the API
// documents unknown fields as a 400. Both are refused, and nothing is
// stored.
func TestBadInputJSONNamesAreExactAndOnce(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name, target, body, want string
	}{
		{"other case", "/v1/collections", `{"NAME":"lab"}`, `unknown field "NAME" (names are case-sensitive: "name")`},
		{"twice", "/v1/collections", `{"name":"lab","name":"other"}`, `field "name" is given twice`},
		{"role in another case", "/v1/api-keys", `{"name":"k","role":"student","user":"ada","courses":["default"],"ROLE":"admin"}`, `unknown field "ROLE"`},
		{"role twice", "/v1/api-keys", `{"name":"k","role":"student","user":"ada","courses":["default"],"role":"admin"}`, `field "role" is given twice`},
	}
	collections, keys := e.count("collection"), e.count("api_key")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			requireError(t, e.doJSON(http.MethodPost, tt.target, tt.body), http.StatusBadRequest, tt.want)
		})
	}
	assert.Equal(t, collections, e.count("collection"))
	assert.Equal(t, keys, e.count("api_key"))

	// Exact names, each once, still decode.
	r := e.doJSON(http.MethodPost, "/v1/api-keys", `{"name":"k","role":"student","user":"ada","courses":["default"],"expires_at":"2030-01-01T00:00:00Z"}`)
	require.Equal(t, http.StatusCreated, r.code, "body: %s", r.body)
}

// A student key whose user was given but unusable was refused with "user
// is required for a student key: user contains control characters", which
// says the user is missing. The message now names only what is wrong.
func TestBadInputStudentKeyUser(t *testing.T) {
	e := newEnv(t)
	tests := []struct{ name, user, want, notWant string }{
		{"missing", ``, `user is required for a student key`, ""},
		{"control character", `"user":"a\u0001b",`, `user contains control characters`, "required"},
		{"too long", `"user":"` + strings.Repeat("a", 201) + `",`, `user is longer than 200 characters`, "required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.doJSON(http.MethodPost, "/v1/api-keys", `{`+tt.user+`"name":"s","role":"student","courses":["default"]}`)
			requireError(t, r, http.StatusBadRequest, tt.want)
			if tt.notWant != "" {
				assert.NotContains(t, string(r.body), tt.notWant)
			}
		})
	}
}

// An archive that unpacks to no file used to be stored as an empty
// delivery, which then became the user's latest in place of the one that
// had their work.
func TestBadInputDeliveryWithoutFiles(t *testing.T) {
	e := newEnv(t)
	c := e.newCollection(grading.Collection{})
	target := "/v1/collections/" + c.ID + "/deliveries"
	body, ctype := multipartBody(t, textPart("user", "ada"), filePart("main.c", []byte("int main(){}\n")))
	first := e.do(http.MethodPost, target, body, ctype)
	require.Equal(t, http.StatusCreated, first.code, "body: %s", first.body)
	keys := e.keys()

	tests := []struct {
		name string
		file part
	}{
		{"empty zip", filePart("work.zip", zipOf(t, map[string]string{}))},
		{"empty tar.gz", filePart("work.tar.gz", tarGzOf(t, map[string]string{}))},
		{"zip of directories", filePart("work.zip", zipOf(t, map[string]string{"src/": "", "src/lib/": ""}))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, ctype := multipartBody(t, textPart("user", "ada"), tt.file)
			r := e.do(http.MethodPost, target, body, ctype)
			requireError(t, r, http.StatusBadRequest, "the delivery holds no files")
			assert.Equal(t, 1, e.count("delivery"))
			assert.Equal(t, keys, e.keys())
		})
	}
	latest, err := e.store.LatestDeliveries(t.Context(), c.ID, "", 10)
	require.NoError(t, err)
	require.Len(t, latest, 1)
	assert.Equal(t, decode[deliveryResponse](t, first).ID, latest[0].ID)
}

// GET /v1/audit read "10abc" as 10, cut a limit beyond 1000 to 1000 and
// answered an empty page for a range that ends before it starts.
func TestBadInputAuditQuery(t *testing.T) {
	e := newEnv(t)
	tests := []struct{ query, want string }{
		{"limit=10abc", `limit "10abc" is not a number between 1 and 1000`},
		{"limit=5000", `limit "5000" is not a number between 1 and 1000`},
		{"limit=0", `limit "0" is not a number between 1 and 1000`},
		{"since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z", "until (2026-01-01T00:00:00Z) is before since (2026-01-02T00:00:00Z)"},
		{"cursor=not-ours", "invalid cursor"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			requireError(t, e.do(http.MethodGet, "/v1/audit?"+tt.query, nil, ""), http.StatusBadRequest, tt.want)
		})
	}
	r := e.do(http.MethodGet, "/v1/audit?limit=1000", nil, "")
	assert.Equal(t, http.StatusOK, r.code, "body: %s", r.body)
}

// A multipart upload named the environment by its "name" field and dropped
// a different ?name= without a word.
func TestBadInputEnvironmentNamedTwice(t *testing.T) {
	e := newEnv(t)
	image := tinyImage(t)
	body, ctype := multipartBody(t, textPart("name", "tiny"), part{field: "image", filename: "tiny.tar", data: image})

	r := e.do(http.MethodPost, "/v1/environments?name=other", body, ctype)

	requireError(t, r, http.StatusBadRequest, `?name="other" and the form's "name" field "tiny" disagree`)
	assert.Zero(t, e.count("environment"))
	assert.Empty(t, e.keys())

	// The same name both ways is one name.
	body, ctype = multipartBody(t, textPart("name", "tiny"), part{field: "image", filename: "tiny.tar", data: image})
	r = e.do(http.MethodPost, "/v1/environments?name=tiny", body, ctype)
	assert.Equal(t, http.StatusCreated, r.code, "body: %s", r.body)
}

// A number that is no integer, or too large for one, was refused as
// "must be a JSON number, not number 1.5", which names no problem.
func TestBadInputIntegerFields(t *testing.T) {
	e := newEnv(t)
	c := e.newCollection(grading.Collection{})
	cfg := e.newConfig()
	b := e.newBatch(c.ID, cfg.ID)
	tests := []struct{ method, target, body, want string }{
		{"POST", "/v1/batches", fmt.Sprintf(`{"collection_id": %q, "config_id": %q, "concurrency": 1.5}`, c.ID, cfg.ID),
			`field "concurrency" must be a JSON number that is an integer (digits only), not 1.5`},
		{"POST", "/v1/batches", fmt.Sprintf(`{"collection_id": %q, "config_id": %q, "chunk_size": 1e3}`, c.ID, cfg.ID),
			`field "chunk_size" must be a JSON number that is an integer (digits only), not 1e3`},
		{"POST", "/v1/batches", fmt.Sprintf(`{"collection_id": %q, "config_id": %q, "partition_size": 99999999999999999999}`, c.ID, cfg.ID),
			`field "partition_size" must be a JSON number that fits an integer, not 99999999999999999999`},
		{"PATCH", "/v1/batches/" + b.ID, `{"concurrency": 2.0}`, `field "concurrency" must be a JSON number that is an integer (digits only), not 2.0`},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			requireError(t, e.doJSON(tt.method, tt.target, tt.body), http.StatusBadRequest, tt.want)
		})
	}
	assert.Equal(t, 1, e.count("batch"))
}
