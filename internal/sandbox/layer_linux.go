//go:build linux

package sandbox

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// layer is one command's writable storage: a tmpfs of Limits.DiskMB
// holding the overlay's upper and work directories and the container's
// /tmp and /dev/shm. Pages written to it are charged to the container's memory cgroup;
// the disk limit is its size and inode count.
type layer struct {
	dir string
	// dev is the tmpfs's device: the layer is intact while dir is still it.
	dev uint64
}

// inodesPerMB bounds the files a command may create per MiB of disk.
const inodesPerMB = 64

// newLayer mounts the tmpfs on dir (which it creates), its root with mode
// (0700, or 0711 where the sandbox user must reach /tmp and /dev/shm in it),
// and prepares its directories; upper takes the owner and mode of the
// scratch root, so the merged view looks like the scratch directory.
func newLayer(dir string, diskMB int, scratch os.FileInfo, mode fs.FileMode) (*layer, error) {
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create layer: %w", err)
	}
	opts := "size=" + strconv.Itoa(diskMB) + "m,nr_inodes=" + strconv.Itoa(max(diskMB*inodesPerMB, 1024)) + ",mode=" + strconv.FormatUint(uint64(mode.Perm()), 8)
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
		_ = os.Remove(dir)
		return nil, fmt.Errorf("mount layer: %w", err)
	}
	l := &layer{dir: dir}
	var mounted unix.Stat_t
	if err := unix.Stat(dir, &mounted); err != nil {
		return l, fmt.Errorf("create layer: %w", errors.Join(err, l.release()))
	}
	l.dev = mounted.Dev
	st, _ := scratch.Sys().(*syscall.Stat_t)
	for _, d := range []struct {
		name     string
		mode     fs.FileMode
		uid, gid int
	}{
		{"upper", scratch.Mode().Perm(), int(st.Uid), int(st.Gid)},
		{"work", 0o700, 0, 0},
		{"tmp", 0o777 | fs.ModeSticky, 0, 0},
		{"shm", 0o777 | fs.ModeSticky, 0, 0},
	} {
		p := filepath.Join(dir, d.name)
		if err := os.Mkdir(p, 0o700); err != nil {
			return l, fmt.Errorf("create layer: %w", errors.Join(err, l.release()))
		}
		if err := os.Chown(p, d.uid, d.gid); err != nil {
			return l, fmt.Errorf("create layer: %w", errors.Join(err, l.release()))
		}
		if err := os.Chmod(p, d.mode); err != nil {
			return l, fmt.Errorf("create layer: %w", errors.Join(err, l.release()))
		}
	}
	return l, nil
}

// makeDirs makes dirs (relative, parents first) in the upper directory
// before the overlay is mounted, so that they exist in the command's view
// to be pinned (see pinnedDirs): one the scratch tree has keeps its owner
// and mode, as a copy-up would; a missing one is made for the sandbox user,
// and commit leaves it out unless the command put a file in it. Anything
// but a directory on the way (a symbolic link above all: the runtime binds
// the pins from the worker's side and would follow it on the host) is
// refused.
func (l *layer) makeDirs(scratch string, dirs []string) error {
	if len(dirs) == 0 {
		return nil
	}
	upper, err := os.OpenRoot(filepath.Join(l.dir, "upper"))
	if err != nil {
		return err
	}
	defer func() { _ = upper.Close() }()
	lower, err := os.OpenRoot(scratch)
	if err != nil {
		return fmt.Errorf("%w: scratch directory: %w", ErrInvalidSpec, err)
	}
	defer func() { _ = lower.Close() }()
	for _, d := range dirs {
		mode, uid, gid := fs.FileMode(0o755), sandboxUID, sandboxUID
		info, err := lower.Lstat(d)
		switch {
		case err == nil && !info.IsDir():
			// The runtime binds the view's d from the worker's side,
			// following a symbolic link there on the host.
			return fmt.Errorf("%w: mount target directory %s is a %s", ErrInvalidSpec, d, kindOf(info.Mode()))
		case err == nil:
			st, _ := info.Sys().(*syscall.Stat_t)
			mode, uid, gid = info.Mode().Perm()|info.Mode()&(fs.ModeSticky|fs.ModeSetgid), int(st.Uid), int(st.Gid)
		case !errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("%w: mount target directory %s: %w", ErrInvalidSpec, d, err)
		}
		if err := upper.Mkdir(d, 0o700); err != nil {
			return fmt.Errorf("make mount target directory %s: %w", d, err)
		}
		if err := upper.Lchown(d, uid, gid); err != nil {
			return fmt.Errorf("make mount target directory %s: %w", d, err)
		}
		if err := upper.Chmod(d, mode); err != nil {
			return fmt.Errorf("make mount target directory %s: %w", d, err)
		}
	}
	return nil
}

// kindOf names what m is, for messages.
func kindOf(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "symbolic link"
	case m.IsRegular():
		return "file"
	}
	return "special file"
}

// full reports whether the tmpfs ran out of space or inodes.
func (l *layer) full() bool {
	var st unix.Statfs_t
	if err := unix.Statfs(l.dir, &st); err != nil {
		return false
	}
	// A few blocks of slack: a write that failed for want of space may
	// leave a little unused.
	return st.Bavail <= 4 || st.Ffree == 0
}

// fileAtLimit reports whether a regular file written by the command, in the
// scratch tree, /tmp or /dev/shm, reached limit bytes.
func (l *layer) fileAtLimit(limit int64) bool {
	found := false
	for _, d := range []string{"upper", "tmp", "shm"} {
		_ = filepath.WalkDir(filepath.Join(l.dir, d), func(_ string, e fs.DirEntry, err error) error {
			if err != nil || !e.Type().IsRegular() {
				return nil
			}
			if info, err := e.Info(); err == nil && info.Size() >= limit {
				found = true
				return fs.SkipAll
			}
			return nil
		})
	}
	return found
}

// intact reports whether the layer's tmpfs is still mounted on its
// directory.
func (l *layer) intact() bool {
	var st unix.Stat_t
	return unix.Stat(l.dir, &st) == nil && st.Dev == l.dev
}

// release unmounts the tmpfs (dropping everything the command wrote) and
// removes its mount point.
func (l *layer) release() error {
	if err := unix.Unmount(l.dir, unix.MNT_DETACH); err != nil {
		return fmt.Errorf("unmount layer: %w", err)
	}
	if err := os.Remove(l.dir); err != nil {
		return fmt.Errorf("remove layer: %w", err)
	}
	return nil
}

// commit copies what the command changed in the scratch tree back into it:
// new and changed files, directories and symbolic links, and deletions
// (overlay whiteouts and opaque directories). Paths in skip — the mount
// points of read-only mounts — are left out, and nothing is ever written
// through a symbolic link: all writes go through an os.Root of scratch.
// Nothing is copied when the files total more than limit bytes (see
// fitsLimit), or when they grow the scratch tree past it (treeFitsLimit).
func (l *layer) commit(scratch string, skip map[string]bool, uid, gid int, limit int64) (err error) {
	upper := filepath.Join(l.dir, "upper")
	defer func() {
		if err != nil && !l.intact() {
			// Not the command's doing: something on the host unmounted
			// the layer (see "Cells" in LIMITS.md).
			err = fmt.Errorf("commit changes: the command's layer was unmounted before its changes were kept: %w", err)
			return
		}
		err = commitError(err, upper, scratch)
	}()
	if err := fitsLimit(upper, limit); err != nil {
		return err
	}
	if err := treeFitsLimit(scratch, upper, limit); err != nil {
		return err
	}
	root, err := os.OpenRoot(scratch)
	if err != nil {
		return err
	}
	defer func() { _ = root.Close() }()
	// Directories the runtime made on the way to a mount point are made
	// again only for a file the command put in them.
	ancestors := map[string]bool{}
	for rel := range skip {
		for d := filepath.Dir(rel); d != "." && d != "/"; d = filepath.Dir(d) {
			if _, err := root.Lstat(d); errors.Is(err, fs.ErrNotExist) {
				ancestors[d] = true
			}
		}
	}
	dirs := &dirRoots{top: root}
	defer dirs.close()
	err = filepath.WalkDir(upper, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(upper, path)
		if err != nil || rel == "." {
			return err
		}
		if skip[rel] {
			if e.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if ancestors[rel] {
			return nil
		}
		if d := filepath.Dir(rel); ancestors[d] {
			if err := root.MkdirAll(d, 0o755); err != nil {
				return err
			}
			for a := d; a != "." && a != "/"; a = filepath.Dir(a) {
				delete(ancestors, a)
				if err := root.Lchown(a, uid, gid); err != nil {
					return err
				}
			}
		}
		dir, err := dirs.open(filepath.Dir(rel))
		if err != nil {
			return err
		}
		return commitEntry(dir, path, filepath.Base(rel), e, uid, gid)
	})
	return err
}

// dirRoots opens the directories of the scratch tree a commit writes in,
// each from its parent, and keeps those on the way to the current one: an
// entry is then written with a call or two however deep the tree, where a
// lookup from the top costs one call per directory on the way, for every
// entry (a chain 2,000 deep with a file at every level: millions).
type dirRoots struct {
	top   *os.Root
	stack []openDirRoot
}

type openDirRoot struct {
	rel  string
	root *os.Root
}

// open returns the root of the tree's directory rel ("." for the top),
// closing those of directories the walk has left.
func (d *dirRoots) open(rel string) (*os.Root, error) {
	for len(d.stack) > 0 {
		last := d.stack[len(d.stack)-1]
		if last.rel == rel {
			return last.root, nil
		}
		if strings.HasPrefix(rel, last.rel+"/") {
			break
		}
		_ = last.root.Close()
		d.stack = d.stack[:len(d.stack)-1]
	}
	if rel == "." {
		return d.top, nil
	}
	from, sub := d.top, rel
	if len(d.stack) > 0 {
		last := d.stack[len(d.stack)-1]
		from, sub = last.root, strings.TrimPrefix(rel, last.rel+"/")
	}
	r, err := from.OpenRoot(sub)
	if err != nil {
		return nil, err
	}
	d.stack = append(d.stack, openDirRoot{rel: rel, root: r})
	return r, nil
}

func (d *dirRoots) close() {
	for _, o := range d.stack {
		_ = o.root.Close()
	}
	d.stack = nil
}

// fitsLimit refuses an upper directory whose regular files total more than
// limit bytes. The layer holds at most its disk limit, but a sparse file or
// a hard link takes next to nothing of it while the copy writes every byte
// of every name: without this bound, one command could have the worker
// write hundreds of gigabytes to the disk all its deliveries share.
func fitsLimit(upper string, limit int64) error {
	var total int64
	return filepath.WalkDir(upper, func(_ string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return err
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		if total += info.Size(); total > limit {
			return fmt.Errorf("the files written total more than the disk limit of %d MiB", limit>>20)
		}
		return nil
	})
}

// treeFitsLimit refuses a commit that grows the scratch tree to more than
// limit bytes, every file, directory and symbolic link counted as at least
// a block (entryBytes). Each command's layer is bounded, but the
// next command starts from the tree this one leaves: without this bound a
// pipeline of single-run stages grows it by the limit at every stage, on
// the disk all deliveries share. A commit that does not grow the tree (it
// rewrites or removes files, or writes nothing) always fits.
//
// Both trees are walked through directory descriptors, one system call or
// two per entry however deep the tree (a walk by path costs a lookup of
// every parent for each entry, and fails past PATH_MAX), and never through
// a symbolic link.
func treeFitsLimit(scratch, upper string, limit int64) error {
	u, err := openDir(unix.AT_FDCWD, upper)
	if err != nil {
		return err
	}
	defer func() { _ = unix.Close(u) }()
	l, err := openDir(unix.AT_FDCWD, scratch)
	if err != nil {
		return err
	}
	defer func() { _ = unix.Close(l) }()
	added, replaced, err := growth(u, l, ".")
	if err != nil || added <= replaced {
		return err
	}
	size, err := treeBytes(l, ".")
	if err != nil {
		return err
	}
	if after := size - replaced + added; after > limit {
		// Rounded up, so that the size named is above the limit named.
		return fmt.Errorf("the scratch tree would hold %.2f MiB of files and directories, more than the disk limit of %d MiB",
			math.Ceil(float64(after)*100/(1<<20))/100, limit>>20)
	}
	return nil
}

// growth totals the entries (entryBytes) of the upper directory upper
// (added) and those of the tree that they replace or hide (replaced);
// lower is the tree's directory at the same place, or -1 where nothing of
// the tree shows (below a new or opaque directory). rel names the place in
// messages.
func growth(upper, lower int, rel string) (added, replaced int64, err error) {
	names, err := dirNames(upper, rel)
	if err != nil {
		return 0, 0, err
	}
	for _, name := range names {
		a, r, err := entryGrowth(upper, lower, rel, name)
		if err != nil {
			return 0, 0, err
		}
		added, replaced = added+a, replaced+r
	}
	return added, replaced, nil
}

// entryGrowth is growth for the entry name of upper.
func entryGrowth(upper, lower int, rel, name string) (added, replaced int64, err error) {
	p := filepath.Join(rel, name)
	var st, old unix.Stat_t
	if err := unix.Fstatat(upper, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return 0, 0, &fs.PathError{Op: "lstat", Path: p, Err: err}
	}
	hasOld := false
	if lower >= 0 {
		switch err := unix.Fstatat(lower, name, &old, unix.AT_SYMLINK_NOFOLLOW); {
		case err == nil:
			hasOld = true
		case !errors.Is(err, unix.ENOENT):
			return 0, 0, &fs.PathError{Op: "lstat", Path: p, Err: err}
		}
	}
	isDir, oldDir := st.Mode&unix.S_IFMT == unix.S_IFDIR, hasOld && old.Mode&unix.S_IFMT == unix.S_IFDIR
	added = entryBytes(&st)
	below := -1
	if isDir {
		d, err := openDir(upper, name)
		if err != nil {
			return 0, 0, &fs.PathError{Op: "open", Path: p, Err: err}
		}
		defer func() { _ = unix.Close(d) }()
		if oldDir && !opaqueFd(d) {
			// The directory merges with the tree's: what is replaced
			// is counted below it, entry by entry.
			if below, err = openDir(lower, name); err != nil {
				return 0, 0, &fs.PathError{Op: "open", Path: p, Err: err}
			}
			defer func() { _ = unix.Close(below) }()
		}
		a, r, err := growth(d, below, p)
		if err != nil {
			return 0, 0, err
		}
		added, replaced = added+a, r
	}
	switch {
	case oldDir && below < 0:
		// A whiteout, file, link or opaque directory here hides the
		// tree's directory and all below it.
		n, err := treeBytes(lower, name)
		if err != nil {
			return 0, 0, err
		}
		replaced += blockSize + n
	case hasOld:
		// The tree's file or link is replaced (or its directory merged
		// with this one, counted again in added).
		replaced += entryBytes(&old)
	}
	return added, replaced, nil
}

// blockSize is the least an entry of the tree is counted at: a directory,
// a symbolic link or a small file each take a block of the worker's disk
// however few bytes they hold, so that a tree of empty directories is not
// free.
const blockSize = 4096

// entryBytes is what one entry of the tree is counted at: a regular file
// its size in whole blocks (at least one), a directory or symbolic link one
// block, anything else (a whiteout, a fifo, which commit leaves behind)
// nothing.
func entryBytes(st *unix.Stat_t) int64 {
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		return max((st.Size+blockSize-1)/blockSize, 1) * blockSize
	case unix.S_IFDIR, unix.S_IFLNK:
		return blockSize
	}
	return 0
}

// treeBytes totals the entries (entryBytes) in the directory name of dir,
// never following a symbolic link.
func treeBytes(dir int, name string) (int64, error) {
	d, err := openDir(dir, name)
	if err != nil {
		return 0, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	defer func() { _ = unix.Close(d) }()
	names, err := dirNames(d, name)
	if err != nil {
		return 0, err
	}
	var size int64
	for _, n := range names {
		var st unix.Stat_t
		if err := unix.Fstatat(d, n, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return 0, &fs.PathError{Op: "lstat", Path: filepath.Join(name, n), Err: err}
		}
		size += entryBytes(&st)
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			s, err := treeBytes(d, n)
			if err != nil {
				return 0, err
			}
			size += s
		}
	}
	return size, nil
}

// openDir opens the directory name of dir, never following a symbolic link.
func openDir(dir int, name string) (int, error) {
	return unix.Openat(dir, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
}

// dirNames lists the entries of the open directory dir (rel in messages),
// leaving dir open.
func dirNames(dir int, rel string) ([]string, error) {
	d, err := unix.Openat(dir, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: rel, Err: err}
	}
	f := os.NewFile(uintptr(d), rel)
	defer func() { _ = f.Close() }()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: rel, Err: err}
	}
	return names, nil
}

// opaqueFd reports an overlay opaque directory, open as fd.
func opaqueFd(fd int) bool {
	buf := make([]byte, 1)
	n, err := unix.Fgetxattr(fd, "trusted.overlay.opaque", buf)
	return err == nil && n == 1 && buf[0] == 'y'
}

// commitError blames the command for a failed commit unless the host is at
// fault: its disk full, read-only or failing is the worker's problem, and
// the delivery must be retried, not failed.
//
// The command's own failure reaches the student: it names paths relative to
// the scratch tree (never the worker's directories in dirs, the layer's and
// the tree's) and is clipped, however deep the tree the command made.
func commitError(err error, dirs ...string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.ENOSPC), errors.Is(err, unix.EDQUOT), errors.Is(err, unix.EIO),
		errors.Is(err, unix.EROFS), errors.Is(err, unix.ENOMEM):
		return fmt.Errorf("commit changes: %w", err)
	}
	msg := err.Error()
	for _, d := range dirs {
		msg = strings.ReplaceAll(strings.ReplaceAll(msg, d+"/", ""), d, ".")
	}
	if len(msg) > maxCommitMessage {
		msg = strings.ToValidUTF8(msg[:maxCommitMessage], "") + "…"
	}
	return fmt.Errorf("%w: %s", ErrCommit, msg)
}

// maxCommitMessage bounds the message of a refused commit.
const maxCommitMessage = 512

// commitEntry applies one entry of the upper directory, at path, to the
// scratch tree: to name in the tree's directory root.
func commitEntry(root *os.Root, path, name string, e fs.DirEntry, uid, gid int) error {
	info, err := e.Info()
	if err != nil {
		return err
	}
	mode := info.Mode()
	switch {
	case mode&fs.ModeCharDevice != 0:
		// A whiteout: the command deleted name.
		if st, ok := info.Sys().(*syscall.Stat_t); ok && st.Rdev == 0 {
			return root.RemoveAll(name)
		}
		return nil
	case mode.IsDir():
		if opaque(path) {
			if err := root.RemoveAll(name); err != nil {
				return err
			}
		}
		if fi, err := root.Lstat(name); err == nil && !fi.IsDir() {
			if err := root.RemoveAll(name); err != nil {
				return err
			}
		}
		if err := root.Mkdir(name, mode.Perm()); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		return root.Lchown(name, uid, gid)
	case mode&fs.ModeSymlink != 0:
		target, err := os.Readlink(path)
		if err != nil {
			return err
		}
		if err := root.RemoveAll(name); err != nil {
			return err
		}
		if err := root.Symlink(target, name); err != nil {
			return err
		}
		return root.Lchown(name, uid, gid)
	case mode.IsRegular():
		return commitFile(root, path, name, mode.Perm(), info.ModTime(), uid, gid)
	}
	// Fifos, sockets and devices stay behind with the layer.
	return nil
}

func commitFile(root *os.Root, path, name string, perm fs.FileMode, mtime time.Time, uid, gid int) error {
	src, err := os.Open(path)
	if err != nil {
		return err
	}
	defer func() { _ = src.Close() }()
	if err := root.RemoveAll(name); err != nil {
		return err
	}
	dst, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		_ = dst.Close()
		return err
	}
	if err := dst.Close(); err != nil {
		return err
	}
	if err := root.Chmod(name, perm); err != nil {
		return err
	}
	if err := root.Chtimes(name, mtime, mtime); err != nil {
		return err
	}
	return root.Lchown(name, uid, gid)
}

// opaque reports an overlay opaque directory: one the command removed and
// recreated, hiding everything below it in the scratch tree.
func opaque(path string) bool {
	buf := make([]byte, 1)
	n, err := unix.Lgetxattr(path, "trusted.overlay.opaque", buf)
	return err == nil && n == 1 && buf[0] == 'y'
}
