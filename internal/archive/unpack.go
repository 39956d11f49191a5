package archive

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
)

// Unpack extracts the tar.gz read from r — as written by Pack — into dir,
// creating dir if needed. Every entry is checked again against the path
// rules and lim (zero fields: DefaultLimits); links, devices and other
// special entries are refused. Files are written 0644 and directories 0755,
// all through an os.Root, so nothing is written outside dir even if dir
// already holds symbolic links; existing files are never overwritten.
//
// On error, files already extracted stay in dir: unpack into a fresh scratch
// directory and remove it on failure.
func Unpack(r io.Reader, dir string, lim Limits) (Stats, error) {
	lim = lim.withDefaults()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Stats{}, fmt.Errorf("create directory: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return Stats{}, fmt.Errorf("open directory: %w", err)
	}
	defer func() { _ = root.Close() }()

	u := &unpacker{root: root, tally: newTally(lim), made: make(map[string]bool)}
	if err := u.run(r); err != nil {
		return Stats{}, fmt.Errorf("unpack: %w", err)
	}
	return u.tally.stats, nil
}

type unpacker struct {
	root  *os.Root
	tally *tally
	made  map[string]bool // directories created or verified
}

func (u *unpacker) run(r io.Reader) error {
	gz, err := gzip.NewReader(sourceReader{r: r})
	if err != nil {
		return classify(err)
	}
	return walkTar(gz, u.tally.lim, tarVisitor{
		name: cleanName,
		dir: func(name string) error {
			if err := u.tally.addDir(name); err != nil {
				return err
			}
			return u.mkdirAll(name)
		},
		file: func(name, _ string, size int64, r io.Reader) error {
			if err := u.tally.addFile(name, size); err != nil {
				return err
			}
			if err := u.mkdirAll(path.Dir(name)); err != nil {
				return err
			}
			return u.writeFile(name, r, size)
		},
	})
}

// mkdirAll creates name and its parents one element at a time, so that an
// element which exists but is not a real directory (a file, a symbolic
// link) is refused rather than followed.
func (u *unpacker) mkdirAll(name string) error {
	if name == "." || u.made[name] {
		return nil
	}
	if err := u.mkdirAll(path.Dir(name)); err != nil {
		return err
	}
	err := u.root.Mkdir(name, 0o755)
	switch {
	case err == nil:
		// Mkdir's mode is filtered by the umask; the contract is 0755.
		if err := u.root.Chmod(name, 0o755); err != nil {
			return fmt.Errorf("set mode of %q: %w", name, err)
		}
	case errors.Is(err, fs.ErrExist):
		fi, err := u.root.Lstat(name)
		if err != nil {
			return fmt.Errorf("inspect %q: %w", name, err)
		}
		if !fi.IsDir() {
			return unsafePath(name, "exists and is not a directory")
		}
	default:
		return fmt.Errorf("create directory %q: %w", name, err)
	}
	u.made[name] = true
	return nil
}

func (u *unpacker) writeFile(name string, r io.Reader, size int64) error {
	// O_EXCL also refuses to open through a symbolic link at name.
	f, err := u.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return unsafePath(name, "already exists")
	}
	if err != nil {
		return fmt.Errorf("create %q: %w", name, err)
	}
	n, err := io.Copy(sinkWriter{w: f}, r)
	if err != nil {
		_ = f.Close()
		var se *sinkError
		if errors.As(err, &se) {
			return fmt.Errorf("write %q: %w", name, se.err)
		}
		return fmt.Errorf("read entry %q: %w", name, classify(err))
	}
	if n != size {
		_ = f.Close()
		return fmt.Errorf("%w: entry %q is truncated", ErrInvalidArchive, name)
	}
	if err := f.Chmod(0o644); err != nil {
		_ = f.Close()
		return fmt.Errorf("set mode of %q: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %q: %w", name, err)
	}
	return nil
}

// sinkError marks a failure to write to disk, which says nothing about the
// archive.
type sinkError struct{ err error }

func (e *sinkError) Error() string { return e.err.Error() }
func (e *sinkError) Unwrap() error { return e.err }

// sinkWriter tags its destination's errors as sinkError.
type sinkWriter struct{ w io.Writer }

// Write implements io.Writer.
func (s sinkWriter) Write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	if err != nil {
		err = &sinkError{err: err}
	}
	return n, err
}
