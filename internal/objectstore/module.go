package objectstore

import (
	"context"
	"time"

	"go.uber.org/fx"
	"gocloud.dev/blob"

	"github.com/zinc-edu/orchestrator/internal/servicedefaults"
)

// openTimeout bounds opening the bucket at construction.
const openTimeout = 10 * time.Second

// Module provides the *blob.Bucket at the caller-supplied Config's URL,
// registers it as the "blob" readiness check and closes it when the app
// stops. It needs servicedefaults.Module.
var Module = fx.Module("objectstore", fx.Provide(provideBucket))

func provideBucket(lc fx.Lifecycle, cfg Config, h *servicedefaults.Health) (*blob.Bucket, error) {
	ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
	defer cancel()
	b, err := Open(ctx, cfg.URL)
	if err != nil {
		return nil, err
	}
	h.AddReadiness("blob", func(ctx context.Context) error { return Ready(ctx, b) })
	lc.Append(fx.StopHook(b.Close))
	return b, nil
}
