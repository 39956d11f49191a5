//go:build linux

package sandbox

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/zinc-edu/orchestrator/internal/ci"
)

// warnings records the warnings a runner logs.
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (w *warnings) Handle(_ context.Context, rec slog.Record) error {
	msg := rec.Message
	rec.Attrs(func(a slog.Attr) bool { msg += " " + a.String(); return true })
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, msg)
	return nil
}

func (w *warnings) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *warnings) WithGroup(string) slog.Handler      { return w }

func (w *warnings) list() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.msgs...)
}

// cellProcess waits for a process named comm in one of r's cells and
// returns its PID on the host.
func cellProcess(t *testing.T, r *Runner, comm string) int {
	t.Helper()
	pid := 0
	require.Eventually(t, func() bool {
		entries, err := os.ReadDir("/proc")
		require.NoError(t, err)
		for _, e := range entries {
			p, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			name, err1 := os.ReadFile("/proc/" + e.Name() + "/comm")
			cg, err2 := os.ReadFile("/proc/" + e.Name() + "/cgroup")
			if err1 == nil && err2 == nil && strings.TrimSpace(string(name)) == comm && strings.Contains(string(cg), r.id+"-cell") {
				pid = p
				return true
			}
		}
		return false
	}, 10*time.Second, 5*time.Millisecond, "%s runs in a cell", comm)
	return pid
}

// cellCommandMounts lists the mount points of r's cell commands' layers and
// scratch views on the host.
func cellCommandMounts(t *testing.T, r *Runner) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	require.NoError(t, err)
	var points []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && strings.HasPrefix(f[4], filepath.Join(r.stateDir, "cells")+"/") &&
			(strings.HasSuffix(f[4], "/layer") || strings.HasSuffix(f[4], "/view")) {
			points = append(points, f[4])
		}
	}
	return points
}

// A network command's slirp4netns, started while a cell command runs,
// leaves that command's layer and scratch view mounted: slirp4netns makes
// its own mount namespace with only "/" private and detaches the host's
// tree from it, and an unmount in a namespace that still shares the cell
// directory's peer group propagates back to the host (its layer and view
// were gone before the commit and the clean-up: "commit changes: lstat .",
// "unmount view: invalid argument", then "create layer: … file exists").
func TestCellCommandKeepsItsMountsWhileANetworkCommandStarts(t *testing.T) {
	w := &warnings{}
	r, err := New(Config{Cells: CellsOn, Slots: 2}, slog.New(w))
	if err != nil {
		ci.SkipUnlessCI(t, "no cells on this host: %v", err)
	}
	t.Cleanup(func() { require.NoError(t, r.Close()) })
	if r.host.network != "slirp4netns" {
		ci.SkipUnlessCI(t, "slirp4netns is not installed")
	}
	dir := scratch(t)
	type outcome struct {
		res Result
		err error
	}
	ran := make(chan outcome, 1)
	go func() {
		// The test kills sleep once the network command is done; the
		// shell then writes its file, which the commit must keep.
		res, err := r.Run(context.Background(), Spec{Dir: dir, Argv: sh("sleep 60; echo kept > out"), Timeout: time.Minute})
		ran <- outcome{res, err}
	}()
	sleeper := cellProcess(t, r, "sleep")
	mounts := cellCommandMounts(t, r)
	require.Len(t, mounts, 2, "the command's layer and view")
	// A slot of its own: it starts while the cell command runs.
	res := run(t, r, Spec{Argv: sh("echo networked"), Limits: Limits{Network: true}})
	assert.Equal(t, "networked\n", string(res.Stdout), string(res.Stderr))
	assert.Equal(t, mounts, cellCommandMounts(t, r), "the cell command's mounts outlive the network command's start")
	require.NoError(t, unix.Kill(sleeper, unix.SIGKILL), "the cell command still runs")
	got := <-ran
	if assert.NoError(t, got.err) {
		assert.Equal(t, 0, got.res.ExitCode, string(got.res.Stderr))
		b, err := os.ReadFile(filepath.Join(dir, "out"))
		assert.NoError(t, err, "the command's file is committed")
		assert.Equal(t, "kept\n", string(b))
	}
	r.retiring.Wait()
	assert.Empty(t, w.list(), "no clean-up failed")
	// The cell serves the next commands.
	for range 2 * cellsPerSlot {
		next := scratch(t)
		res := run(t, r, Spec{Dir: next, Argv: sh("echo next > out")})
		assert.Equal(t, 0, res.ExitCode, string(res.Stderr))
		b, err := os.ReadFile(filepath.Join(next, "out"))
		require.NoError(t, err)
		assert.Equal(t, "next\n", string(b))
	}
}
