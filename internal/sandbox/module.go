package sandbox

import "go.uber.org/fx"

// Module provides a *Runner built by New from the Config the caller supplies
// (for example with servicedefaults.LoadEnv[sandbox.Config]) and the
// *slog.Logger of servicedefaults.Module. A host that cannot isolate as
// Config requires makes the app refuse to start.
var Module = fx.Module("sandbox", fx.Provide(New))
