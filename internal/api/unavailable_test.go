package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/batches"
)

// TestTemporalUnavailableIs503: when Temporal cannot be reached the client
// is told to come back (503 with Retry-After), not that the server broke.
func TestTemporalUnavailableIs503(t *testing.T) {
	s := &Server{log: slog.New(slog.DiscardHandler)}
	rec := httptest.NewRecorder()
	err := fmt.Errorf("get batch b1: %w", errors.Join(batches.ErrUnavailable, errors.New("context deadline exceeded")))
	s.writeError(rec, httptest.NewRequest(http.MethodGet, "/v1/batches/b1", nil), err)

	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.Equal(t, retryAfterUnavailable, rec.Header().Get("Retry-After"))
	var body errorBody
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
	require.Equal(t, "temporal is unavailable, retry later", body.Error)
}
