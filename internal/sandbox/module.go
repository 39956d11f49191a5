package sandbox

import "go.uber.org/fx"

// Module provides a *Runner built by New from the Config the caller supplies
// (for example with servicedefaults.LoadEnv[sandbox.Config]) and the
// *slog.Logger of servicedefaults.Module, and closes it on stop. A host
// without a usable OCI runtime makes the app refuse to start, unless
// ZINC_SANDBOX=unsafe-local.
var Module = fx.Module("sandbox",
	fx.Provide(New),
	fx.Invoke(func(lc fx.Lifecycle, r *Runner) { lc.Append(fx.StopHook(r.Close)) }),
)
