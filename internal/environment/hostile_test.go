package environment_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/environment"
	"github.com/zinc-edu/orchestrator/internal/environment/envtest"
)

// umoci reads a whiteout ".wh.X" as "remove dir/X": ".wh." acts as an
// opaque whiteout, ".wh.." removes the directory it is in and ".wh..."
// that directory's parent (at the top, the worker's unpack directory
// beside the root, layout included). The scan took all three for no-ops,
// so such an image passed Inspect and then failed on every worker, as a
// retried fault.
func TestHostileImageWhiteoutOfDotOrDotDotIsRefused(t *testing.T) {
	for _, name := range []string{".wh.", ".wh..", ".wh...", "bin/.wh.", "bin/.wh..", "bin/.wh..."} {
		t.Run(name, func(t *testing.T) {
			b := envtest.NewLayout(t, shellLayer(t), envtest.Layer(t, envtest.File{Name: name})).Tar(t)

			_, err := inspect(t, b, environment.Limits{})

			require.ErrorIs(t, err, environment.ErrInvalid)
		})
	}
}
