package environment_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/zinc-edu/orchestrator/internal/environment"
	"github.com/zinc-edu/orchestrator/internal/environment/envtest"
)

// FuzzInspect feeds arbitrary uploads to the layout checks: they refuse
// with ErrInvalid or ErrTooLarge, or accept; never anything else.
func FuzzInspect(f *testing.F) {
	shell := envtest.Layer(f, envtest.File{Name: "bin/sh", Data: []byte("#!"), Mode: 0o755})
	f.Add(envtest.NewLayout(f, shell).Tar(f))
	f.Add(envtest.Layer(f, envtest.File{Name: "oci-layout", Data: []byte(`{"imageLayoutVersion":"1.0.0"}`)}))
	f.Add([]byte{})
	dir := f.TempDir()
	lim := environment.Limits{MaxBytes: 1 << 20, MaxUnpackedBytes: 1 << 20, MaxEntries: 1000, MaxLayers: 8}
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "image.tar")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := environment.Inspect(p, lim)
		if err != nil && !errors.Is(err, environment.ErrInvalid) && !errors.Is(err, environment.ErrTooLarge) {
			t.Fatalf("unexpected error class: %v", err)
		}
	})
}
