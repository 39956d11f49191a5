package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	securejoin "github.com/cyphar/filepath-securejoin"

	"github.com/zinc-edu/orchestrator/internal/definition"
	"github.com/zinc-edu/orchestrator/internal/sandbox"
)

// staged is a stage prepared to run: its working directory, the read-only
// mounts of its hidden files, and cleanup, which is always safe to call.
type staged struct {
	dir     string
	mounts  []sandbox.Mount
	cleanup func()
}

// obstacleError reports something the student left in the scratch
// directory where the engine must put an assignment file or working
// directory: a symbolic link, a fifo, a directory. It fails the step.
type obstacleError struct {
	err error
}

func (e *obstacleError) Error() string { return "the submission is in the way: " + e.err.Error() }
func (e *obstacleError) Unwrap() error { return e.err }

// prepare puts the files a stage may see in place and returns the stage's
// working directory. Files visible to students are (re)placed in the
// scratch directory before every stage, so a stage cannot tamper with them
// for the next one. Files listed only for this stage never enter the
// student's tree: they are written, root-owned, to a private directory and
// mounted read-only at their place for this stage's commands only. All
// access to the scratch directory goes through its root, so a symbolic link
// the student left cannot redirect a write outside it.
func (r *run) prepare(ctx context.Context, s *definition.Stage) (st staged, err error) {
	st.cleanup = func() {}
	for _, f := range r.def.Files {
		if f.VisibleToStudent {
			if err := r.place(f); err != nil {
				return st, obstacle(err)
			}
		}
	}
	var hidden []definition.File
	for _, name := range s.Files {
		f, ok := r.def.File(name)
		if !ok {
			return st, fmt.Errorf("%w: %s", ErrMissingAsset, name)
		}
		if !f.VisibleToStudent {
			hidden = append(hidden, *f)
		}
	}
	if len(hidden) > 0 {
		if st.mounts, st.cleanup, err = r.stageHidden(ctx, s, hidden); err != nil {
			return st, err
		}
	}
	st.dir = r.in.ScratchDir
	if s.Workdir != "" {
		if err := r.root.MkdirAll(s.Workdir, 0o755); err != nil {
			return st, obstacle(fmt.Errorf("create workdir: %w", err))
		}
		if err := r.checkWorkdir(s.Workdir); err != nil {
			return st, obstacle(err)
		}
		st.dir = filepath.Join(st.dir, filepath.FromSlash(s.Workdir))
	}
	return st, nil
}

// obstacle marks a failure to write into the student's tree as the
// student's, unless an assignment file is simply missing.
func obstacle(err error) error {
	if errors.Is(err, ErrMissingAsset) {
		return err
	}
	return &obstacleError{err: err}
}

// stageHidden writes the stage's hidden files to a private directory and
// returns their read-only mounts. A target the student occupies with
// anything but a regular file (which the mount just hides) fails the step.
func (r *run) stageHidden(ctx context.Context, s *definition.Stage, files []definition.File) ([]sandbox.Mount, func(), error) {
	dir, err := os.MkdirTemp(r.in.PrivateDir, "zinc-hidden-")
	cleanup := func() {}
	if err != nil {
		return nil, cleanup, fmt.Errorf("create hidden file directory: %w", err)
	}
	cleanup = func() {
		if err := os.RemoveAll(dir); err != nil {
			r.e.log.WarnContext(ctx, "remove hidden files", "stage", s.Name, "err", err)
		}
	}
	var mounts []sandbox.Mount
	for i, f := range files {
		if err := r.checkTarget(f.Name); err != nil {
			return nil, cleanup, obstacle(err)
		}
		data, err := r.fileBytes(f.Name)
		if err != nil {
			return nil, cleanup, err
		}
		mode := fs.FileMode(0o644)
		if f.Executable {
			mode = 0o755
		}
		// One flat name per file: the directory stays 0700, only the
		// mount shows the file.
		src := filepath.Join(dir, fmt.Sprintf("%d", i))
		if err := os.WriteFile(src, data, mode); err != nil {
			return nil, cleanup, fmt.Errorf("write hidden file %s: %w", f.Name, err)
		}
		if err := os.Chmod(src, mode); err != nil {
			return nil, cleanup, fmt.Errorf("write hidden file %s: %w", f.Name, err)
		}
		mounts = append(mounts, sandbox.Mount{Source: src, Target: filepath.Join(r.in.ScratchDir, filepath.FromSlash(f.Name))})
	}
	return mounts, cleanup, nil
}

// checkTarget refuses a target path whose directories are not plain
// directories, or which is itself something other than a regular file.
func (r *run) checkTarget(name string) error {
	var dirs []string
	for d := path.Dir(name); d != "." && d != "/"; d = path.Dir(d) {
		dirs = append([]string{d}, dirs...)
	}
	for _, d := range dirs {
		fi, err := r.root.Lstat(d)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil
		case err != nil:
			return fmt.Errorf("check %s: %w", d, err)
		case !fi.IsDir():
			return fmt.Errorf("%s, where assignment file %s goes, is not a directory", d, name)
		}
	}
	fi, err := r.root.Lstat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("check %s: %w", name, err)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%s, where assignment file %s goes, is a %s", name, name, kindOf(fi.Mode()))
	}
	return nil
}

func kindOf(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "symbolic link"
	case m.IsDir():
		return "directory"
	case m&fs.ModeNamedPipe != 0:
		return "fifo"
	}
	return "special file"
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

// checkWorkdir refuses a workdir any part of which is a symbolic link (the
// sandbox enters the directory by path, outside the scratch root's checks)
// or a directory its owner cannot search: the sandbox makes its user the
// owner of the whole tree before every command, so such a directory, which
// only a student's command can have left, is one the command cannot enter.
func (r *run) checkWorkdir(rel string) error {
	for p := path.Clean(rel); p != "." && p != "/"; p = path.Dir(p) {
		fi, err := r.root.Lstat(p)
		if err != nil {
			return fmt.Errorf("check workdir: %w", err)
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("workdir %s: %s is a symbolic link", rel, p)
		}
		if fi.Mode().Perm()&0o100 == 0 {
			return fmt.Errorf("workdir %s: %s cannot be entered (mode %v)", rel, p, fi.Mode().Perm())
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
// does not count. Relative to any other directory (a checker's own, which
// the engine fills and the sandbox binds from the worker) it is looked up
// on the worker, even in an environment; an absolute path names a program
// of the command's root.
func (r *run) programExists(prog, dir string) bool {
	if rel := programPath(r.in.ScratchDir, dir, prog); rel != "" {
		fi, err := r.root.Stat(rel)
		return err == nil && fi.Mode().IsRegular()
	}
	stat := r.statInRoot
	if !filepath.IsAbs(prog) {
		prog, stat = filepath.Join(dir, prog), os.Stat
	}
	fi, err := stat(prog)
	return err == nil && fi.Mode().IsRegular()
}

// lookPath reports whether an executable named prog is in one of the
// directories of pathList, in the command's root. exec.LookPath cannot be
// used: it searches the worker's PATH, not the command's.
func (r *run) lookPath(prog, pathList string) bool {
	for _, d := range filepath.SplitList(pathList) {
		if d == "" || !filepath.IsAbs(d) {
			continue
		}
		fi, err := r.statInRoot(filepath.Join(d, prog))
		if err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return true
		}
	}
	return false
}

// statInRoot stats an absolute path as a command sees it: on the worker,
// or in the environment's root, where symbolic links resolve within the
// image (its absolute links point into the image, not the worker).
func (r *run) statInRoot(path string) (fs.FileInfo, error) {
	if r.in.RootFS == "" {
		return os.Stat(path)
	}
	p, err := securejoin.SecureJoin(r.in.RootFS, path)
	if err != nil {
		return nil, err
	}
	return os.Stat(p)
}

// where names the place programs come from, for messages.
func (r *run) where() string {
	switch {
	case r.in.RootFS != "" && r.def.Environment != nil:
		return "in the environment " + r.def.Environment.Image
	case r.in.RootFS != "":
		return "in the environment"
	}
	return "on this worker"
}
