package servicedefaults_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/servicedefaults"
)

type readyBody struct {
	Status  string                    `json:"status"`
	Failing []servicedefaults.Failure `json:"failing"`
}

func discardLogger() *slog.Logger {
	return slog.New(slog.DiscardHandler)
}

func startHealth(t *testing.T) *servicedefaults.Health {
	t.Helper()
	h := servicedefaults.NewHealth("127.0.0.1:0", discardLogger())
	require.NoError(t, h.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, h.Stop(context.Background())) })
	return h
}

func get(t *testing.T, url string) (int, readyBody) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	var body readyBody
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	return resp.StatusCode, body
}

func TestHealthReadinessTransitions(t *testing.T) {
	h := startHealth(t)
	base := "http://" + h.Addr()
	var dbDown atomic.Bool
	h.AddReadiness("db", func(context.Context) error {
		if dbDown.Load() {
			return errors.New("connection refused")
		}
		return nil
	})
	h.AddReadiness("nats", func(context.Context) error { return nil })

	status, body := get(t, base+"/readyz")
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "ready", body.Status)

	dbDown.Store(true)
	status, body = get(t, base+"/readyz")
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Equal(t, []servicedefaults.Failure{{Name: "db", Error: "connection refused"}}, body.Failing)

	status, _ = get(t, base+"/livez")
	assert.Equal(t, http.StatusOK, status, "liveness ignores readiness checks")

	dbDown.Store(false)
	status, _ = get(t, base+"/readyz")
	assert.Equal(t, http.StatusOK, status)
}

func TestHealthListsEveryFailingCheckSorted(t *testing.T) {
	h := servicedefaults.NewHealth("127.0.0.1:0", discardLogger())
	h.AddReadiness("temporal", func(context.Context) error { return errors.New("t down") })
	h.AddReadiness("nats", func(context.Context) error { return errors.New("n down") })
	h.AddReadiness("blob", func(context.Context) error { return nil })

	got := h.Check(context.Background())

	assert.Equal(t, []servicedefaults.Failure{
		{Name: "nats", Error: "n down"},
		{Name: "temporal", Error: "t down"},
	}, got)
}

func TestHealthHungCheckFailsAfterTwoSeconds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := servicedefaults.NewHealth("127.0.0.1:0", discardLogger())
		h.AddReadiness("hung", func(ctx context.Context) error {
			<-ctx.Done()
			return ctx.Err()
		})
		mux := http.NewServeMux()
		h.Routes(mux)
		rec := httptest.NewRecorder()

		start := time.Now()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))

		assert.Equal(t, 2*time.Second, time.Since(start))
		assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
		var body readyBody
		require.NoError(t, json.NewDecoder(rec.Body).Decode(&body))
		require.Len(t, body.Failing, 1)
		assert.Equal(t, "hung", body.Failing[0].Name)
	})
}

func TestHealthRoutesRefuseOtherMethods(t *testing.T) {
	h := servicedefaults.NewHealth("127.0.0.1:0", discardLogger())
	mux := http.NewServeMux()
	h.Routes(mux)
	rec := httptest.NewRecorder()

	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/livez", nil))

	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
}

func TestHealthStopClosesListener(t *testing.T) {
	h := servicedefaults.NewHealth("127.0.0.1:0", discardLogger())
	require.NoError(t, h.Start(context.Background()))
	addr := h.Addr()
	require.NotEmpty(t, addr)

	require.NoError(t, h.Stop(context.Background()))

	_, err := http.Get("http://" + addr + "/livez")
	require.Error(t, err)
}

func TestHealthStartReportsTakenPort(t *testing.T) {
	first := startHealth(t)
	second := servicedefaults.NewHealth(first.Addr(), discardLogger())

	err := second.Start(context.Background())

	require.Error(t, err)
	assert.Empty(t, second.Addr())
}

func TestHealthStartTwice(t *testing.T) {
	h := startHealth(t)

	err := h.Start(context.Background())

	require.ErrorIs(t, err, servicedefaults.ErrHealthStarted)
}

func TestTracedSkipsHealthRoutes(t *testing.T) {
	tests := []struct {
		givePath string
		want     bool
	}{
		{givePath: "/livez", want: false},
		{givePath: "/readyz", want: false},
		{givePath: "/v1/batches", want: true},
	}
	for _, tt := range tests {
		t.Run(tt.givePath, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, tt.givePath, nil)
			assert.Equal(t, tt.want, servicedefaults.Traced(r))
		})
	}
}
