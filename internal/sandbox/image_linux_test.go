//go:build linux

package sandbox

import (
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/zinc-edu/orchestrator/internal/environment/envtest"
)

// imageRoot writes the tiny runnable image's file system, plus extra
// files, and seals it.
func imageRoot(t *testing.T, extra ...envtest.File) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "rootfs")
	require.NoError(t, os.Mkdir(dir, 0o755))
	envtest.WriteTree(t, dir, append(envtest.Runnable(t), extra...)...)
	require.NoError(t, SealRootFS(dir))
	return dir
}

// tree lists every path under dir with its mode, size and owner.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	require.NoError(t, filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		st := info.Sys().(*syscall.Stat_t)
		out = append(out, fmt.Sprintf("%s %v %d uid=%d", strings.TrimPrefix(path, dir), info.Mode(), info.Size(), st.Uid))
		return nil
	}))
	return out
}

func tinyrt(args ...string) []string { return append([]string{"/usr/bin/tinyrt"}, args...) }

// An image root replaces the worker's toolchain: the host's programs are
// gone, the image's are there, and everything else of the container is
// as before.
func TestRunInImageRootShowsTheImageNotTheHost(t *testing.T) {
	r := newTestRunner(t)
	root := imageRoot(t)
	require.FileExists(t, "/usr/bin/env", "the host's toolchain, which the image must hide")
	before := tree(t, root)

	res := run(t, r, Spec{RootFS: root, Argv: tinyrt("probe", "/usr/bin/env", "/usr/bin/gcc", "/usr/lib", "/etc/image-release", "/usr/bin/tinyrt")})
	require.Equal(t, 0, res.ExitCode, "stderr: %s", res.Stderr)
	assert.Equal(t, "/usr/bin/env absent\n/usr/bin/gcc absent\n/usr/lib absent\n/etc/image-release present\n/usr/bin/tinyrt present\n", string(res.Stdout))

	res = run(t, r, Spec{RootFS: root, Argv: tinyrt("cat", "/etc/image-release")})
	assert.Equal(t, "tiny 1\n", string(res.Stdout))
	res = run(t, r, Spec{RootFS: root, Argv: tinyrt("cat", "/etc/hosts")})
	assert.Equal(t, etcWritten["hosts"], string(res.Stdout), "the runner's hosts file, not the image's")
	res = run(t, r, Spec{RootFS: root, Argv: tinyrt("id")})
	assert.Equal(t, "65534\n", string(res.Stdout))

	assert.Equal(t, before, tree(t, root), "commands and the runtime never write the shared image")
}

func TestRunInImageRootIsReadOnlyButTheScratchIsNot(t *testing.T) {
	r := newTestRunner(t)
	root := imageRoot(t)
	dir := scratch(t)

	for _, p := range []string{"/x", "/etc/x", "/usr/bin/x", "/bin/sh"} {
		res := run(t, r, Spec{RootFS: root, Dir: dir, Argv: tinyrt("write", p)})
		assert.Contains(t, string(res.Stdout), "read-only file system", p)
	}
	res := run(t, r, Spec{RootFS: root, Dir: dir, Argv: tinyrt("write", filepath.Join(dir, "out"))})
	assert.Equal(t, "ok\n", string(res.Stdout))
	assert.FileExists(t, filepath.Join(dir, "out"), "what the command wrote is copied back")
	res = run(t, r, Spec{RootFS: root, Dir: dir, Argv: tinyrt("write", "/tmp/t")})
	assert.Equal(t, "ok\n", string(res.Stdout), "a private /tmp")
}

// A scratch directory outside /tmp needs its top-level directory as a
// mount point: the runner creates it in the image, once.
func TestRunInImageRootWithScratchOutsideTmp(t *testing.T) {
	r := newTestRunner(t)
	root := imageRoot(t)
	require.NoDirExists(t, filepath.Join(root, "var"))
	require.NoError(t, os.MkdirAll("/var/tmp", 0o1777))
	dir, err := os.MkdirTemp("/var/tmp", "zinc-image-test-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.txt"), []byte("add\n"), 0o644))

	res := run(t, r, Spec{RootFS: root, Dir: dir, Argv: tinyrt("calc", "main.txt"), Stdin: []byte("2 3\n")})

	require.Equal(t, 0, res.ExitCode, "stderr: %s", res.Stderr)
	assert.Equal(t, "5\n", string(res.Stdout))
	assert.DirExists(t, filepath.Join(root, "var"))
}

func TestRunInImageRootReportsExitStatusAndSignals(t *testing.T) {
	r := newTestRunner(t)
	root := imageRoot(t)

	res := run(t, r, Spec{RootFS: root, Argv: tinyrt("calc", "/nonexistent")})
	assert.Equal(t, 1, res.ExitCode)
	assert.Contains(t, string(res.Stderr), "no such file")

	res = run(t, r, Spec{RootFS: root, Argv: tinyrt("term")})
	assert.Equal(t, -1, res.ExitCode)
	assert.Equal(t, "SIGTERM", res.Signal, "the image's /bin/sh is the first process, the command its child")

	res = run(t, r, Spec{RootFS: root, Argv: []string{"/usr/bin/missing"}})
	assert.NotEqual(t, 0, res.ExitCode)
}

func TestRunRefusesAnUnsealedOrRelativeRoot(t *testing.T) {
	r := newTestRunner(t)
	unsealed := t.TempDir()
	require.NoError(t, os.Chmod(unsealed, 0o777))

	for _, root := range []string{unsealed, "relative/rootfs"} {
		_, err := r.Run(t.Context(), Spec{RootFS: root, Dir: scratch(t), Argv: tinyrt("id")})
		assert.ErrorIs(t, err, ErrInvalidSpec, root)
	}
}

func TestUnsafeLocalRefusesAnImageRoot(t *testing.T) {
	r, err := New(Config{Mode: ModeUnsafeLocal}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)

	_, err = r.Run(t.Context(), Spec{RootFS: "/some/rootfs", Dir: scratch(t), Argv: []string{"/bin/true"}})

	require.ErrorIs(t, err, ErrInvalidSpec)
	assert.ErrorContains(t, err, "needs containers")
}

// Sealing takes away what the image could use to gain privileges or reach
// devices, and what would let anyone but root change it.
func TestSealRootFSNeutralisesTheImage(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("sealing changes owners and makes device nodes: needs root")
	}
	root := imageRoot(t,
		envtest.File{Name: "usr/bin/su", Data: []byte("x"), Mode: 0o4755},
		envtest.File{Name: "usr/bin/wall", Data: []byte("x"), Mode: 0o2755},
		envtest.File{Name: "srv/", Mode: 0o777},
		envtest.File{Name: "srv/data", Data: []byte("x"), Mode: 0o666},
	)
	// Sealed once already by imageRoot; what follows arrives unsealed.
	require.NoError(t, unix.Mknod(filepath.Join(root, "dev", "sda"), unix.S_IFBLK|0o666, int(unix.Mkdev(8, 0))))
	require.NoError(t, unix.Mkfifo(filepath.Join(root, "srv", "fifo"), 0o666))
	require.NoError(t, os.Chmod(filepath.Join(root, "usr/bin/su"), 0o4755|os.ModeSetuid))
	require.NoError(t, os.Lchown(filepath.Join(root, "srv/data"), 1000, 1000))
	require.NoError(t, os.Remove(filepath.Join(root, "etc", "hosts")))
	require.NoError(t, os.Symlink("/etc/passwd", filepath.Join(root, "etc", "hosts")))

	require.NoError(t, SealRootFS(root))

	assert.NoFileExists(t, filepath.Join(root, "dev", "sda"))
	assert.NoFileExists(t, filepath.Join(root, "srv", "fifo"))
	for path, want := range map[string]os.FileMode{
		"usr/bin/su": 0o755, "usr/bin/wall": 0o755, "srv": os.ModeDir | 0o755, "srv/data": 0o644,
		"tmp": os.ModeDir | os.ModeSticky | 0o755, "etc/hosts": 0o644,
	} {
		info, err := os.Lstat(filepath.Join(root, path))
		require.NoError(t, err, path)
		assert.Equal(t, want, info.Mode(), path)
		assert.Equal(t, uint32(0), info.Sys().(*syscall.Stat_t).Uid, path)
	}
}

func TestSealRootFSRequiresAShell(t *testing.T) {
	dir := t.TempDir()
	envtest.WriteTree(t, dir, envtest.File{Name: "usr/"}, envtest.File{Name: "etc/"})

	err := SealRootFS(dir)

	assert.ErrorContains(t, err, "no executable /bin/sh")
}
