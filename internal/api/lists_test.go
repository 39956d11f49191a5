package api

import (
	"net/http"
	"net/url"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/store"
)

// pageOf reads every page of a list, limit items at a time.
func pageOf[T any](t *testing.T, e *env, path string, limit int) [][]T {
	t.Helper()
	var pages [][]T
	cursor := ""
	for {
		u := path + "?limit=" + strconv.Itoa(limit)
		if cursor != "" {
			u += "&cursor=" + url.QueryEscape(cursor)
		}
		r := e.do(http.MethodGet, u, nil, "")
		require.Equal(t, http.StatusOK, r.code, "body: %s", r.body)
		p := decode[listPage[T]](t, r)
		pages = append(pages, p.Items)
		if p.Next == "" {
			return pages
		}
		cursor = p.Next
	}
}

func TestListCollectionsNewestFirst(t *testing.T) {
	e := newEnv(t)
	var ids []string
	for range 5 {
		ids = append(ids, e.newCollection(grading.Collection{}).ID)
	}
	pages := pageOf[grading.Collection](t, e, "/v1/collections", 2)
	require.Len(t, pages, 3)
	var got []string
	for _, p := range pages {
		for _, c := range p {
			got = append(got, c.ID)
		}
	}
	assert.Equal(t, []string{ids[4], ids[3], ids[2], ids[1], ids[0]}, got)

	requireError(t, e.do(http.MethodGet, "/v1/collections?cursor=garbage!", nil, ""), http.StatusBadRequest, "invalid cursor")
	requireError(t, e.do(http.MethodGet, "/v1/collections?limit=0", nil, ""), http.StatusBadRequest, "limit")
}

func TestListDeliveriesEveryVersion(t *testing.T) {
	e := newEnv(t)
	c := e.newCollection(grading.Collection{})
	ada1 := e.newDelivery(c.ID, "ada")
	bob := e.newDelivery(c.ID, "bob")
	ada2 := e.newDelivery(c.ID, "ada")

	pages := pageOf[store.ListedDelivery](t, e, "/v1/collections/"+c.ID+"/deliveries", 2)
	var got []string
	for _, p := range pages {
		for _, d := range p {
			got = append(got, d.ID+"/"+map[bool]string{true: "latest", false: "old"}[d.Latest])
		}
	}
	assert.Equal(t, []string{ada2.ID + "/latest", bob.ID + "/latest", ada1.ID + "/old"}, got)

	requireError(t, e.do(http.MethodGet, "/v1/collections/nope/deliveries", nil, ""), http.StatusNotFound, "not found")
}

func TestListBatchesOfCollection(t *testing.T) {
	e := newEnv(t)
	c1, c2 := e.newCollection(grading.Collection{}), e.newCollection(grading.Collection{})
	cfg := e.newConfig()
	b1 := e.newBatch(c1.ID, cfg.ID)
	b2 := e.newBatch(c2.ID, cfg.ID)

	r := e.do(http.MethodGet, "/v1/batches?collection_id="+c1.ID, nil, "")
	require.Equal(t, http.StatusOK, r.code, "body: %s", r.body)
	p := decode[listPage[grading.Batch]](t, r)
	require.Len(t, p.Items, 1)
	assert.Equal(t, b1.ID, p.Items[0].ID)
	assert.Empty(t, p.Next)

	p = decode[listPage[grading.Batch]](t, e.do(http.MethodGet, "/v1/batches", nil, ""))
	require.Len(t, p.Items, 2)
	assert.Equal(t, b2.ID, p.Items[0].ID, "newest first")
}

func TestListRejectsBadPageParams(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/v1/collections", "/v1/batches", "/v1/environments"} {
		for _, limit := range []string{"0", "-1", "501", "abc", "99999999999999999999", "1.5"} {
			requireError(t, e.do(http.MethodGet, path+"?limit="+limit, nil, ""), http.StatusBadRequest, "limit")
		}
		for _, cursor := range []string{"garbage!", "Zm9v", "LTEu", "MTIzLgA"} {
			requireError(t, e.do(http.MethodGet, path+"?cursor="+cursor, nil, ""), http.StatusBadRequest, "invalid cursor")
		}
	}
}
