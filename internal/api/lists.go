package api

import (
	"net/http"
	"strconv"

	"github.com/zinc-edu/orchestrator/internal/store"
)

// listPage is the body of every list endpoint: the items, newest first,
// and the cursor of the next page, absent on the last one.
type listPage[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next,omitempty"`
}

// defaultPageSize is the page size when ?limit= is absent.
const defaultPageSize = 50

// pageParams reads ?cursor= and ?limit= (1..store.MaxPageSize).
func pageParams(r *http.Request) (cursor string, limit int, err error) {
	q := r.URL.Query()
	limit = defaultPageSize
	if v := q.Get("limit"); v != "" {
		n, convErr := strconv.Atoi(v)
		if convErr != nil || n < 1 || n > store.MaxPageSize {
			return "", 0, badRequest("limit %q is not a number between 1 and %d", v, store.MaxPageSize)
		}
		limit = n
	}
	return q.Get("cursor"), limit, nil
}

func writePage[T any](w http.ResponseWriter, items []T, next string) error {
	if items == nil {
		items = []T{}
	}
	return writeJSON(w, http.StatusOK, listPage[T]{Items: items, Next: next})
}

// listCollections is GET /v1/collections.
func (s *Server) listCollections(w http.ResponseWriter, r *http.Request) error {
	cursor, limit, err := pageParams(r)
	if err != nil {
		return err
	}
	items, next, err := s.store.Collections(r.Context(), listableCourses(r.Context(), staff...), cursor, limit)
	if err != nil {
		return err
	}
	return writePage(w, items, next)
}

// listDeliveries is GET /v1/collections/{id}/deliveries: every version of
// every user, each marked latest or not.
func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request) error {
	cursor, limit, err := pageParams(r)
	if err != nil {
		return err
	}
	items, next, err := s.store.CollectionDeliveries(r.Context(), r.PathValue("id"), cursor, limit)
	if err != nil {
		return err
	}
	return writePage(w, items, next)
}

// listBatches is GET /v1/batches, of one collection with ?collection_id=.
func (s *Server) listBatches(w http.ResponseWriter, r *http.Request) error {
	cursor, limit, err := pageParams(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	collection := r.URL.Query().Get("collection_id")
	if collection != "" {
		if _, err := s.requireRoleOf(ctx, ofCollection, collection, staff...); err != nil {
			return err
		}
	}
	items, next, err := s.store.Batches(ctx, collection, listableCourses(ctx, staff...), cursor, limit)
	if err != nil {
		return err
	}
	return writePage(w, items, next)
}
