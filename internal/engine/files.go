package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"github.com/zinc-edu/orchestrator/internal/definition"
)

// prepare puts the files a stage may see into the scratch directory and
// returns the stage's working directory. Files visible to students are
// (re)placed before every stage, so a stage cannot tamper with them for the
// next one; files listed only for this stage are removed by cleanup, which
// is always safe to call. All access goes through the scratch root, so a
// symbolic link the student left cannot redirect a write outside it.
func (r *run) prepare(ctx context.Context, s *definition.Stage) (dir string, cleanup func(), err error) {
	var placed []string
	cleanup = func() {
		for _, name := range placed {
			if err := r.root.RemoveAll(name); err != nil {
				r.e.log.WarnContext(ctx, "remove assignment file", "stage", s.Name, "file", name, "err", err)
			}
		}
	}
	for _, f := range r.def.Files {
		if f.VisibleToStudent {
			if err := r.place(f); err != nil {
				return "", cleanup, err
			}
		}
	}
	for _, name := range s.Files {
		f, ok := r.def.File(name)
		if !ok {
			return "", cleanup, fmt.Errorf("%w: %s", ErrMissingAsset, name)
		}
		if f.VisibleToStudent {
			continue
		}
		top, err := r.firstMissing(path.Dir(name))
		if err != nil {
			return "", cleanup, err
		}
		// Removing the topmost directory made for the file also removes
		// whatever the stage copied next to it.
		placed = append(placed, name)
		if top != "" {
			placed = append(placed, top)
		}
		if err := r.place(*f); err != nil {
			return "", cleanup, err
		}
	}
	dir = r.in.ScratchDir
	if s.Workdir != "" {
		if err := r.root.MkdirAll(s.Workdir, 0o755); err != nil {
			return "", cleanup, fmt.Errorf("create workdir: %w", err)
		}
		if err := r.noSymlinks(s.Workdir); err != nil {
			return "", cleanup, err
		}
		dir = filepath.Join(dir, filepath.FromSlash(s.Workdir))
	}
	return dir, cleanup, nil
}

// firstMissing returns the topmost directory of dir that does not exist
// yet in the scratch directory, or "" when dir exists.
func (r *run) firstMissing(dir string) (string, error) {
	missing := ""
	for d := dir; d != "." && d != "/"; d = path.Dir(d) {
		_, err := r.root.Lstat(d)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			missing = d
		case err != nil:
			return "", fmt.Errorf("check directory %s: %w", d, err)
		}
	}
	return missing, nil
}

// place writes one assignment file into the scratch directory, replacing
// whatever the student had under that name.
func (r *run) place(f definition.File) error {
	data, err := r.fileBytes(f.Name)
	if err != nil {
		return err
	}
	if err := r.root.RemoveAll(f.Name); err != nil {
		return fmt.Errorf("replace %s: %w", f.Name, err)
	}
	if d := path.Dir(f.Name); d != "." {
		if err := r.root.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("create directory of %s: %w", f.Name, err)
		}
	}
	mode := fs.FileMode(0o644)
	if f.Executable {
		mode = 0o755
	}
	// O_EXCL: the name was just removed, so anything there now is a race
	// and must not be written through.
	fh, err := r.root.OpenFile(f.Name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("create %s: %w", f.Name, err)
	}
	if _, err := fh.Write(data); err != nil {
		_ = fh.Close()
		return fmt.Errorf("write %s: %w", f.Name, err)
	}
	if err := fh.Close(); err != nil {
		return fmt.Errorf("write %s: %w", f.Name, err)
	}
	// The umask may have narrowed the mode; the sandbox user must read it.
	if err := r.root.Chmod(f.Name, mode); err != nil {
		return fmt.Errorf("chmod %s: %w", f.Name, err)
	}
	return nil
}

// noSymlinks refuses a workdir any part of which is a symbolic link: the
// sandbox enters the directory by path, outside the scratch root's checks.
func (r *run) noSymlinks(rel string) error {
	for p := path.Clean(rel); p != "." && p != "/"; p = path.Dir(p) {
		fi, err := r.root.Lstat(p)
		if err != nil {
			return fmt.Errorf("check workdir: %w", err)
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("workdir %s: %s is a symbolic link", rel, p)
		}
	}
	return nil
}

// checkerDir prepares a private directory with the checker's files and its
// three inputs. It lives outside the scratch directory, and cleanup removes
// it.
func (r *run) checkerDir(ctx context.Context, c *definition.Checker, input, expected, actual []byte) (dir string, cleanup func(), err error) {
	cleanup = func() {}
	dir, err = os.MkdirTemp(r.in.PrivateDir, "zinc-checker-")
	if err != nil {
		return "", cleanup, fmt.Errorf("create checker directory: %w", err)
	}
	cleanup = func() {
		if err := os.RemoveAll(dir); err != nil {
			r.e.log.WarnContext(ctx, "remove checker directory", "dir", dir, "err", err)
		}
	}
	// MkdirTemp makes it 0700; the sandbox may run the checker as another
	// user, and the sandbox owns its hand-over.
	if err := os.Chmod(dir, 0o755); err != nil {
		return dir, cleanup, fmt.Errorf("chmod checker directory: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return dir, cleanup, fmt.Errorf("open checker directory: %w", err)
	}
	defer func() { _ = root.Close() }()
	write := func(name string, data []byte, mode fs.FileMode) error {
		if d := path.Dir(name); d != "." {
			if err := root.MkdirAll(d, 0o755); err != nil {
				return fmt.Errorf("create directory of %s: %w", name, err)
			}
		}
		if err := root.WriteFile(name, data, mode); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
		if err := root.Chmod(name, mode); err != nil {
			return fmt.Errorf("chmod %s: %w", name, err)
		}
		return nil
	}
	for _, name := range c.Files {
		f, ok := r.def.File(name)
		if !ok {
			return dir, cleanup, fmt.Errorf("%w: %s", ErrMissingAsset, name)
		}
		data, err := r.fileBytes(name)
		if err != nil {
			return dir, cleanup, err
		}
		mode := fs.FileMode(0o644)
		if f.Executable {
			mode = 0o755
		}
		if err := write(name, data, mode); err != nil {
			return dir, cleanup, err
		}
	}
	for _, in := range []struct {
		name string
		data []byte
	}{{checkerInput, input}, {checkerExpected, expected}, {checkerActual, actual}} {
		if err := write(in.name, in.data, 0o644); err != nil {
			return dir, cleanup, err
		}
	}
	return dir, cleanup, nil
}

// programExists reports whether a program given by path exists. Inside the
// scratch directory it is looked up through the root, so a link out of it
// does not count.
func (r *run) programExists(prog, dir string) bool {
	if rel := programPath(r.in.ScratchDir, dir, prog); rel != "" {
		fi, err := r.root.Stat(rel)
		return err == nil && fi.Mode().IsRegular()
	}
	if !filepath.IsAbs(prog) {
		prog = filepath.Join(dir, prog)
	}
	fi, err := os.Stat(prog)
	return err == nil && fi.Mode().IsRegular()
}

// lookPath reports whether an executable named prog is in one of the
// directories of pathList. exec.LookPath cannot be used: it searches the
// worker's PATH, not the command's.
func lookPath(prog, pathList string) bool {
	for _, d := range filepath.SplitList(pathList) {
		if d == "" || !filepath.IsAbs(d) {
			continue
		}
		fi, err := os.Stat(filepath.Join(d, prog))
		if err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return true
		}
	}
	return false
}
