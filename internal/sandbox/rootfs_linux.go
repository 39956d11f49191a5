//go:build linux

package sandbox

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// toolchainDirs are the host directories every container sees, read-only.
var toolchainDirs = []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}

// etcFiles are the host files of /etc that programs need: the dynamic
// loader's cache and the alternatives that name compilers (cc → gcc).
var etcFiles = []string{"ld.so.cache", "ld.so.conf", "localtime"}

// etcWritten are the /etc files the container gets instead of the host's:
// no host account, host name or resolver leaks in.
var etcWritten = map[string]string{
	"passwd":        "root:x:0:0:root:/nonexistent:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
	"group":         "root:x:0:\nnogroup:x:65534:\n",
	"hosts":         "127.0.0.1\tlocalhost\n::1\tlocalhost\n",
	"hostname":      "sandbox\n",
	"nsswitch.conf": "passwd: files\ngroup: files\nhosts: files dns\n",
	// slirp4netns answers DNS on 10.0.2.3; without network nothing does.
	"resolv.conf": "nameserver 10.0.2.3\n",
}

// rootfs is the prepared, shared root file system skeleton: mount points for
// the toolchain directories (or the host's usr-merge symbolic links), and a
// minimal /etc. It is built once per runner and never written by a command:
// containers mount it read-only.
type rootfs struct {
	dir string
	// binds are the toolchain directories to bind-mount read-only.
	binds []string
	// links are the toolchain directories that are symbolic links on the
	// host (usr-merge): path and target.
	links [][2]string
}

// buildRootfs creates the skeleton under dir.
func buildRootfs(dir string) (rootfs, error) {
	rf := rootfs{dir: dir}
	for _, d := range []string{"", "etc", "proc", "dev", "tmp", "usr"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return rf, fmt.Errorf("build root file system: %w", err)
		}
	}
	for _, d := range toolchainDirs {
		info, err := os.Lstat(d)
		switch {
		case err != nil:
			continue
		case info.Mode()&fs.ModeSymlink != 0:
			// Usr-merged hosts: /bin → usr/bin and so on.
			target, err := os.Readlink(d)
			if err != nil {
				return rf, fmt.Errorf("build root file system: %w", err)
			}
			if err := os.Symlink(target, filepath.Join(dir, d)); err != nil {
				return rf, fmt.Errorf("build root file system: %w", err)
			}
			rf.links = append(rf.links, [2]string{d, target})
		case info.IsDir():
			if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
				return rf, fmt.Errorf("build root file system: %w", err)
			}
			rf.binds = append(rf.binds, d)
		}
	}
	if err := copyEtc(filepath.Join(dir, "etc")); err != nil {
		return rf, fmt.Errorf("build root file system: %w", err)
	}
	// Whatever the worker's umask, the sandbox user must traverse the
	// skeleton and read its /etc.
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case e.IsDir():
			return os.Chmod(path, 0o755)
		case e.Type().IsRegular():
			return os.Chmod(path, 0o644)
		}
		return nil
	})
	if err != nil {
		return rf, fmt.Errorf("build root file system: %w", err)
	}
	return rf, nil
}

// copyEtc fills the container's /etc.
func copyEtc(etc string) error {
	for name, content := range etcWritten {
		if err := os.WriteFile(filepath.Join(etc, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	for _, name := range etcFiles {
		if err := copyEntry(filepath.Join("/etc", name), filepath.Join(etc, name)); err != nil {
			return err
		}
	}
	alt := filepath.Join(etc, "alternatives")
	if err := os.Mkdir(alt, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir("/etc/alternatives")
	if err != nil {
		return nil // not a Debian-style host
	}
	for _, e := range entries {
		if err := copyEntry(filepath.Join("/etc/alternatives", e.Name()), filepath.Join(alt, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// copyEntry copies a symbolic link as a link and a regular file as a file;
// anything else, or a missing source, is left out.
func copyEntry(src, dst string) error {
	info, err := os.Lstat(src)
	if err != nil {
		return nil
	}
	switch {
	case info.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		return os.Symlink(target, dst)
	case info.Mode().IsRegular():
		b, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	}
	return nil
}

// mountPoint makes sure the top-level directory of path exists in the
// skeleton, so that a tmpfs can be mounted there to hold the mount point of
// a scratch directory without writing into the shared skeleton.
func (rf rootfs) mountPoint(top string) error {
	if err := os.MkdirAll(filepath.Join(rf.dir, top), 0o755); err != nil {
		return fmt.Errorf("create mount point %s: %w", top, err)
	}
	return nil
}
