package environment_test

import (
	"archive/tar"

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

// A hard link to nothing, to a directory, or through a symbolic link to a
// path the image does not have passed Inspect and then failed the unpack
// on every worker, as a retried fault.
func TestHostileImageHardLinkToNoFileIsRefused(t *testing.T) {
	for name, files := range map[string][]envtest.File{
		"missing":      {{Name: "h", Type: tar.TypeLink, Link: "nope"}},
		"directory":    {{Name: "h", Type: tar.TypeLink, Link: "bin"}},
		"through link": {{Name: "esc", Type: tar.TypeSymlink, Link: "/etc"}, {Name: "h", Type: tar.TypeLink, Link: "esc/hostname"}},
	} {
		t.Run(name, func(t *testing.T) {
			b := envtest.NewLayout(t, shellLayer(t), envtest.Layer(t, files...)).Tar(t)

			_, err := inspect(t, b, environment.Limits{})

			require.ErrorIs(t, err, environment.ErrInvalid)
		})
	}
}
