package outbox

import (
	"log/slog"

	"go.uber.org/fx"

	"github.com/zinc-edu/orchestrator/internal/events"
	"github.com/zinc-edu/orchestrator/internal/store"
)

// Module provides the *Encoder and runs a *Relay from the *store.Store to
// the *events.Bus while the app runs; it needs a Config, a
// propagation.TextMapPropagator and a logger.
var Module = fx.Module("outbox",
	fx.Provide(NewEncoder, provideRelay),
	fx.Invoke(func(*Relay) {}),
)

func provideRelay(lc fx.Lifecycle, s *store.Store, b *events.Bus, cfg Config, log *slog.Logger) *Relay {
	r := NewRelay(s, b, cfg, log)
	// Publish what this process writes at once; the poll picks up the rest.
	s.OnAnnounce(r.Notify)
	lc.Append(fx.StartStopHook(r.Start, r.Stop))
	return r
}
