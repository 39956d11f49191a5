package harness

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/zinc-edu/orchestrator/internal/api"
	"github.com/zinc-edu/orchestrator/internal/auth"
	"github.com/zinc-edu/orchestrator/internal/grading"
)

// API is the real API handler over the stack, with adminKey admitted as an
// admin API key: the stack driven over HTTP, as a user drives it.
func (s *Stack) API(ctx context.Context, cfg api.Config, adminKey string) (http.Handler, error) {
	srv, err := api.NewServer(api.Params{
		Config: cfg, Store: s.Store, Batches: s.Batches, Bucket: s.Bucket, Events: s.Encoder, Feed: s.Bus,
		Temporal: s.temporalConfig.Configuration(), Log: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return nil, fmt.Errorf("harness api: %w", err)
	}
	if _, err := s.Store.CreateAPIKey(ctx, grading.APIKey{Name: "harness admin", Hash: auth.HashKey(adminKey), Role: grading.RoleAdmin}); err != nil {
		return nil, fmt.Errorf("harness api: admin key: %w", err)
	}
	return srv.Handler(), nil
}
