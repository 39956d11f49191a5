//go:build linux

package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	securejoin "github.com/cyphar/filepath-securejoin"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// imageMountDirs are the directories an image root must hold as mount
// points, so the runtime never has to create one in the shared tree.
var imageMountDirs = []string{"proc", "dev", "tmp"}

// imageEtcFiles are the runner's generated /etc files shown read-only over
// an image's own: the container's network identity. The rest of the
// image's /etc (passwd, ld.so.cache, ...) is the image's.
var imageEtcFiles = []string{"hosts", "hostname", "resolv.conf"}

// SealRootFS prepares an unpacked image file system at dir to be a
// Spec.RootFS: every entry owned by root (when the caller is root), no
// set-user-ID, set-group-ID or file capabilities, nothing writable by
// group or others, device nodes, FIFOs and sockets removed, and the mount
// points the runner needs (proc, dev, tmp, and the /etc files it shows
// over the image's) present. The image must provide /bin/sh, through which
// every command starts. Symbolic links are never followed. Run it once,
// before the tree is shared; commands never write it.
func SealRootFS(dir string) error {
	if err := sealTree(dir); err != nil {
		return fmt.Errorf("seal root file system: %w", err)
	}
	if err := ensureMountPoints(dir); err != nil {
		return fmt.Errorf("seal root file system: %w", err)
	}
	if err := checkShell(dir); err != nil {
		return fmt.Errorf("seal root file system: %w", err)
	}
	return nil
}

func sealTree(dir string) error {
	root := os.Geteuid() == 0
	return filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch t := e.Type(); {
		case t&(fs.ModeDevice|fs.ModeCharDevice|fs.ModeNamedPipe|fs.ModeSocket) != 0:
			return os.Remove(path)
		case t&fs.ModeSymlink != 0:
			if root {
				return os.Lchown(path, 0, 0)
			}
			return nil
		}
		if root {
			if err := os.Lchown(path, 0, 0); err != nil {
				return err
			}
		}
		if err := unix.Lremovexattr(path, "security.capability"); err != nil && !errors.Is(err, unix.ENODATA) && !errors.Is(err, unix.EOPNOTSUPP) {
			return fmt.Errorf("remove file capabilities of %s: %w", path, err)
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		// Perm drops set-user-ID and set-group-ID; the sticky bit stays.
		return os.Chmod(path, info.Mode().Perm()&^0o022|info.Mode()&fs.ModeSticky)
	})
}

// ensureMountPoints creates the mount points an image lacks; one that is
// not of the right kind (a link, say) is replaced: whatever it held is
// hidden by the mount anyway.
func ensureMountPoints(dir string) error {
	for _, d := range append(imageMountDirs, "etc") {
		p := filepath.Join(dir, d)
		info, err := os.Lstat(p)
		switch {
		case err == nil && info.IsDir():
			continue
		case err == nil && d == "etc":
			return fmt.Errorf("the image's /etc is not a directory")
		case err == nil:
			if err := os.RemoveAll(p); err != nil {
				return err
			}
		case !errors.Is(err, fs.ErrNotExist):
			return err
		}
		if err := os.Mkdir(p, 0o755); err != nil {
			return err
		}
	}
	for _, name := range imageEtcFiles {
		p := filepath.Join(dir, "etc", name)
		info, err := os.Lstat(p)
		switch {
		case err == nil && info.Mode().IsRegular():
			continue
		case err == nil:
			if err := os.RemoveAll(p); err != nil {
				return err
			}
		case !errors.Is(err, fs.ErrNotExist):
			return err
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// checkShell makes sure /bin/sh resolves, within the root, to an
// executable file.
func checkShell(dir string) error {
	p, err := securejoin.SecureJoin(dir, "/bin/sh")
	if err != nil {
		return fmt.Errorf("resolve /bin/sh: %w", err)
	}
	info, err := os.Stat(p)
	if err != nil || !info.Mode().IsRegular() || info.Mode().Perm()&0o111 == 0 {
		return errors.New("the image has no executable /bin/sh: the sandbox starts every command through it")
	}
	return nil
}

// checkRootFS refuses a Spec.RootFS that SealRootFS did not prepare.
func checkRootFS(dir string) error {
	info, err := os.Lstat(dir)
	if err != nil || !info.IsDir() {
		return fmt.Errorf("%w: root file system %q is not a directory", ErrInvalidSpec, dir)
	}
	st, ok := info.Sys().(*unix.Stat_t)
	if info.Mode().Perm()&0o022 != 0 || ok && os.Geteuid() == 0 && st.Uid != 0 {
		return fmt.Errorf("%w: root file system %q is not sealed (see SealRootFS)", ErrInvalidSpec, dir)
	}
	for _, d := range imageMountDirs {
		if info, err := os.Lstat(filepath.Join(dir, d)); err != nil || !info.IsDir() {
			return fmt.Errorf("%w: root file system %q has no /%s (see SealRootFS)", ErrInvalidSpec, dir, d)
		}
	}
	return nil
}

// mountPoint makes sure the top-level directory holding the job's scratch
// tree exists in its root: in the shared skeleton, or, for an image, in
// the sealed tree, where only a missing directory is created (an empty
// mount point, as the skeleton's).
func (r *Runner) mountPoint(j job) error {
	if j.spec.RootFS == "" {
		return r.root.mountPoint(topDir(j.scratch))
	}
	if err := checkRootFS(j.spec.RootFS); err != nil {
		return err
	}
	p := filepath.Join(j.spec.RootFS, topDir(j.scratch))
	info, err := os.Lstat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.Mkdir(p, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("create mount point %s: %w", topDir(j.scratch), err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("create mount point %s: %w", topDir(j.scratch), err)
	case !info.IsDir():
		return fmt.Errorf("%w: %s in the root file system is not a directory: the scratch directory cannot be mounted there", ErrInvalidSpec, topDir(j.scratch))
	}
	return nil
}

// rootMounts are the mounts that make up the root beyond its directory:
// the toolchain for the skeleton, the runner's /etc files for an image.
func (r *Runner) rootMounts(c container) []specs.Mount {
	var ms []specs.Mount
	if c.rootfs == "" {
		for _, d := range r.root.binds {
			ms = append(ms, specs.Mount{Destination: d, Type: "bind", Source: d, Options: []string{"rbind", "ro", "nosuid", "nodev"}})
		}
		return ms
	}
	for _, name := range imageEtcFiles {
		ms = append(ms, specs.Mount{Destination: "/etc/" + name, Type: "bind", Source: filepath.Join(r.root.dir, "etc", name),
			Options: []string{"bind", "ro", "nosuid", "nodev", "noexec"}})
	}
	return ms
}

// rootPath is the container's root directory.
func (r *Runner) rootPath(c container) string {
	if c.rootfs != "" {
		return c.rootfs
	}
	return r.root.dir
}
