package pipeline

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestScratchRemovesDeadWorkersDirectories: a worker starting up removes
// the scratch directories of dead workers (nobody holds their lock), never
// those of live ones, and removes its own when it stops.
func TestScratchRemovesDeadWorkersDirectories(t *testing.T) {
	base := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	live, err := OpenScratch(ScratchConfig{Dir: base}, log)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(live.Dir(), "main.c"), []byte("int main(){}"), 0o644))

	// A worker killed mid-grading: its directory and lock file stay, the
	// lock itself went with the process.
	dead := filepath.Join(base, scratchPrefix+"999999-dead")
	require.NoError(t, os.MkdirAll(filepath.Join(dead, "zinc-grade-1"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dead, scratchLock), nil, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dead, "zinc-grade-1", "main.c"), []byte("student code"), 0o644))
	unrelated := filepath.Join(base, "someone-else")
	require.NoError(t, os.Mkdir(unrelated, 0o755))

	next, err := OpenScratch(ScratchConfig{Dir: base}, log)
	require.NoError(t, err)
	require.NoDirExists(t, dead)
	require.DirExists(t, live.Dir(), "a live worker's directory stays")
	require.FileExists(t, filepath.Join(live.Dir(), "main.c"))
	require.DirExists(t, unrelated)

	require.NoError(t, next.Close())
	require.NoDirExists(t, next.Dir())
	require.NoError(t, live.Close())
	require.NoDirExists(t, live.Dir())
}
