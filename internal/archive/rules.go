package archive

import (
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Sentinel errors, checked with errors.Is.
var (
	// ErrUnsafePath reports a name that could escape the target directory
	// or is otherwise refused (see the package documentation).
	ErrUnsafePath = errors.New("unsafe path")
	// ErrTooLarge reports that a limit on files or bytes was exceeded.
	ErrTooLarge = errors.New("too large")
	// ErrInvalidArchive reports input that is not a readable zip or tar.gz.
	ErrInvalidArchive = errors.New("invalid archive")
)

// Limits caps what one delivery may hold. A zero or negative field takes the
// value of DefaultLimits.
type Limits struct {
	// MaxFiles caps the number of files; archives may also hold at most this
	// many directory entries.
	MaxFiles int
	// MaxTotalBytes caps the sum of the files' sizes, and the size of an
	// uploaded archive before it is unpacked.
	MaxTotalBytes int64
	// MaxFileBytes caps the size of any one file.
	MaxFileBytes int64
}

// DefaultLimits fits student code deliveries: 2,000 files, 64 MiB in all,
// 16 MiB per file.
func DefaultLimits() Limits {
	return Limits{MaxFiles: 2000, MaxTotalBytes: 64 << 20, MaxFileBytes: 16 << 20}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxFiles <= 0 {
		l.MaxFiles = d.MaxFiles
	}
	if l.MaxTotalBytes <= 0 {
		l.MaxTotalBytes = d.MaxTotalBytes
	}
	if l.MaxFileBytes <= 0 {
		l.MaxFileBytes = d.MaxFileBytes
	}
	return l
}

// Check reports, as ErrTooLarge, files that s describes exceeding l (zero
// fields: DefaultLimits) in number or in all: for files from several
// archives held to one budget.
func (l Limits) Check(s Stats) error {
	l = l.withDefaults()
	switch {
	case s.Files > l.MaxFiles:
		return fmt.Errorf("%w: more than %d files", ErrTooLarge, l.MaxFiles)
	case s.Bytes > l.MaxTotalBytes:
		return fmt.Errorf("%w: files total more than %d bytes", ErrTooLarge, l.MaxTotalBytes)
	}
	return nil
}

// streamCap bounds the decompressed size of a tar stream: the files' bytes
// plus generous room for headers and padding of every allowed entry. Reading
// beyond it means the archive is not what its headers claim, or a bomb.
func (l Limits) streamCap() int64 {
	const perEntry = 8 << 10
	return l.MaxTotalBytes + int64(2*l.MaxFiles+2)*perEntry
}

// zipDirectoryBytes bounds what zip.NewReader may read of an upload: the
// end of the directory, searched for in the last 65 KiB, and the central
// directory records of the 2*MaxFiles entries a zip may hold, each with
// room for a name of the longest length allowed.
func (l Limits) zipDirectoryBytes() int64 {
	const (
		end    = 128 << 10
		record = 46 + maxNameBytes
	)
	return end + int64(2*l.MaxFiles)*record
}

// Stats describes what was packed or unpacked.
type Stats struct {
	// Files is the number of regular files.
	Files int
	// Bytes is the sum of their sizes.
	Bytes int64
}

const (
	maxNameBytes    = 1024
	maxElementBytes = 255
)

// cleanName checks raw against the path rules and returns its canonical
// form: "./" elements, repeated and trailing slashes removed.
func cleanName(raw string) (string, error) {
	if raw == "" {
		return "", unsafePath(raw, "empty name")
	}
	if !utf8.ValidString(raw) {
		return "", unsafePath(raw, "not UTF-8")
	}
	for _, r := range raw {
		if unicode.IsControl(r) {
			return "", unsafePath(raw, "control character")
		}
	}
	if strings.Contains(raw, `\`) {
		return "", unsafePath(raw, "backslash")
	}
	if strings.HasPrefix(raw, "/") || hasVolume(raw) {
		return "", unsafePath(raw, "absolute path")
	}
	for el := range strings.SplitSeq(raw, "/") {
		if el == ".." {
			return "", unsafePath(raw, "parent directory reference")
		}
		if len(el) > maxElementBytes {
			return "", unsafePath(raw, "name too long")
		}
	}
	name := path.Clean(raw)
	if name == "." {
		return "", unsafePath(raw, "empty name")
	}
	if len(name) > maxNameBytes {
		return "", unsafePath(raw, "name too long")
	}
	return name, nil
}

// isRootDir reports a directory entry naming the archive's root itself,
// such as the "./" that `tar -czf x.tgz .` writes first; it is skipped.
func isRootDir(raw string) bool {
	return raw != "" && strings.Trim(raw, "./") == "" && !strings.Contains(raw, "..")
}

// hasVolume reports a Windows drive prefix such as "C:", absolute on the
// machine the archive came from.
func hasVolume(s string) bool {
	return len(s) >= 2 && s[1] == ':' && ('a' <= s[0]|0x20 && s[0]|0x20 <= 'z')
}

func unsafePath(name, reason string) error {
	return fmt.Errorf("%w %q: %s", ErrUnsafePath, name, reason)
}

// archiveKind tells whether an uploaded file is to be unpacked, and how:
// "zip", "tar.gz" or "" for a plain file.
func archiveKind(name string) string {
	lower := strings.ToLower(name)
	switch {
	case strings.HasSuffix(lower, ".zip"):
		return "zip"
	case strings.HasSuffix(lower, ".tar.gz"), strings.HasSuffix(lower, ".tgz"):
		return "tar.gz"
	}
	return ""
}

// tally enforces the limits and the one-name-one-thing rule while entries
// are added, in Pack and in Unpack alike.
type tally struct {
	lim     Limits
	stats   Stats
	dirEnts int
	files   map[string]bool
	dirs    map[string]bool
}

func newTally(lim Limits) *tally {
	return &tally{lim: lim, files: make(map[string]bool), dirs: make(map[string]bool)}
}

// addDir records a directory entry of an archive.
func (t *tally) addDir(name string) error {
	t.dirEnts++
	if t.dirEnts > t.lim.MaxFiles {
		return fmt.Errorf("%w: more than %d directory entries", ErrTooLarge, t.lim.MaxFiles)
	}
	if t.files[name] {
		return unsafePath(name, "used as a file and as a directory")
	}
	if err := t.checkParents(name); err != nil {
		return err
	}
	t.markParents(name + "/")
	return nil
}

// addFile records a file of size bytes, checking every limit first.
func (t *tally) addFile(name string, size int64) error {
	if t.stats.Files+1 > t.lim.MaxFiles {
		return fmt.Errorf("%w: more than %d files", ErrTooLarge, t.lim.MaxFiles)
	}
	if err := t.checkSize(name, size); err != nil {
		return err
	}
	if t.files[name] {
		return unsafePath(name, "duplicate name")
	}
	if t.dirs[name] {
		return unsafePath(name, "used as a file and as a directory")
	}
	if err := t.checkParents(name); err != nil {
		return err
	}
	t.files[name] = true
	t.markParents(name)
	t.stats.Files++
	t.stats.Bytes += size
	return nil
}

// checkSize reports whether a file of size bytes fits the per-file and the
// remaining total budget.
func (t *tally) checkSize(name string, size int64) error {
	if size > t.lim.MaxFileBytes {
		return fmt.Errorf("%w: file %q is larger than %d bytes", ErrTooLarge, name, t.lim.MaxFileBytes)
	}
	if t.stats.Bytes+size > t.lim.MaxTotalBytes {
		return fmt.Errorf("%w: files total more than %d bytes", ErrTooLarge, t.lim.MaxTotalBytes)
	}
	return nil
}

// exceeded is the error for a file that turned out larger than budget.
func (t *tally) exceeded(name string) error {
	return t.checkSize(name, t.budget()+1)
}

// budget is how many bytes the next file may have.
func (t *tally) budget() int64 {
	return min(t.lim.MaxFileBytes, t.lim.MaxTotalBytes-t.stats.Bytes)
}

// checkParents refuses name when one of its parent directories was added
// as a file.
func (t *tally) checkParents(name string) error {
	for p := path.Dir(name); p != "."; p = path.Dir(p) {
		if t.files[p] {
			return unsafePath(name, "parent "+p+" is a file")
		}
	}
	return nil
}

func (t *tally) markParents(name string) {
	for p := path.Dir(name); p != "."; p = path.Dir(p) {
		t.dirs[p] = true
	}
}

// capReader fails with ErrTooLarge when its source yields more than left
// bytes; a source that ends exactly at the cap still reads as EOF.
type capReader struct {
	r    io.Reader
	left int64
	cap  int64
}

func newCapReader(r io.Reader, n int64) *capReader {
	return &capReader{r: r, left: n, cap: n}
}

// Read implements io.Reader.
func (c *capReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if c.left <= 0 {
		var one [1]byte
		n, err := c.r.Read(one[:])
		if n > 0 {
			return 0, fmt.Errorf("%w: archive expands beyond %d bytes", ErrTooLarge, c.cap)
		}
		return 0, err
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

// sourceError marks a failure of the caller's reader, as opposed to
// malformed archive content.
type sourceError struct{ err error }

func (e *sourceError) Error() string { return e.err.Error() }
func (e *sourceError) Unwrap() error { return e.err }

// sourceReader tags its source's errors as sourceError.
type sourceReader struct{ r io.Reader }

// Read implements io.Reader.
func (s sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		err = &sourceError{err: err}
	}
	return n, err
}

// classify turns a failure while reading an archive into the package's
// error kinds: limit and path errors pass through, a failing source stays
// what it is, and anything else means the archive is malformed.
func classify(err error) error {
	var (
		se *sourceError
		sk *sinkError
	)
	switch {
	case errors.Is(err, ErrTooLarge), errors.Is(err, ErrUnsafePath), errors.Is(err, ErrInvalidArchive):
		return err
	case errors.As(err, &sk):
		return err
	case errors.As(err, &se):
		return se.err
	}
	return fmt.Errorf("%w: %w", ErrInvalidArchive, err)
}
