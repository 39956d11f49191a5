package cli

import (
	"archive/zip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// maxImportFile bounds one file read for import; the API has its own,
// usually smaller, limit.
const maxImportFile = 256 << 20

// Submission is one user's files found in an import source.
type Submission struct {
	User  string
	Files []UploadFile
}

// Refusal is something of an import source that is not imported, and why.
type Refusal struct {
	What   string
	Reason string
}

// LMS export names: Moodle folders "Full Name_1234_assignsubmission_file_"
// and Canvas files "name_1234_5678_main.c" (optionally with "_LATE").
var (
	moodleFolder = regexp.MustCompile(`^(.+?)_(\d+)_.*$`)
	canvasFile   = regexp.MustCompile(`^([^_]+?)(?:_LATE)?_(\d+)_(\d+)_(.+)$`)
)

// entry is one regular file of the source, by slash path.
type entry struct {
	path string
	open func() (io.ReadCloser, error)
	size int64
}

// ReadSubmissions reads a directory or a .zip file laid out one folder per
// user (the folder name is the user), Moodle style ("name_id_…/file", the
// user is the name, or the id with useID) or Canvas style (flat files
// "name_id_subid_file"). A single top-level folder holding the user
// folders is looked through (in a directory, only when it holds several
// users). Hidden files and __MACOSX are ignored.
func ReadSubmissions(src string, useID bool) ([]Submission, []Refusal, error) {
	entries, closeSrc, err := sourceEntries(src)
	if err != nil {
		return nil, nil, err
	}
	defer closeSrc()
	// A folder holds one folder per user: its single top-level folder is
	// a class folder only when it holds several users' folders, or a
	// lone user whose files sit in subfolders would be looked through.
	// A zip's single top-level folder is the zipped class folder.
	info, err := os.Stat(src)
	if err != nil {
		return nil, nil, fmt.Errorf("read import source: %w", err)
	}
	entries = stripCommonRoot(entries, info.IsDir())

	byUser := map[string][]UploadFile{}
	var refused []Refusal
	for _, e := range entries {
		user, name, ok := placeOf(e.path, useID)
		if !ok {
			refused = append(refused, Refusal{What: e.path, Reason: "not inside a user folder and not an LMS export file name"})
			continue
		}
		if e.size > maxImportFile {
			refused = append(refused, Refusal{What: e.path, Reason: fmt.Sprintf("larger than %d bytes", maxImportFile)})
			continue
		}
		data, err := readEntry(e)
		if err != nil {
			return nil, nil, err
		}
		byUser[user] = append(byUser[user], UploadFile{Name: name, Data: data})
	}
	users := make([]string, 0, len(byUser))
	for u := range byUser {
		users = append(users, u)
	}
	sort.Strings(users)
	subs := make([]Submission, len(users))
	for i, u := range users {
		subs[i] = Submission{User: u, Files: byUser[u]}
	}
	return subs, refused, nil
}

// placeOf maps a file's path to its user and its name in the delivery.
func placeOf(p string, useID bool) (user, name string, ok bool) {
	first, rest, nested := strings.Cut(p, "/")
	if !nested {
		m := canvasFile.FindStringSubmatch(first)
		if m == nil {
			return "", "", false
		}
		if useID {
			return m[2], m[4], true
		}
		return m[1], m[4], true
	}
	if m := moodleFolder.FindStringSubmatch(first); m != nil {
		if useID {
			return m[2], rest, true
		}
		return m[1], rest, true
	}
	return first, rest, true
}

func readEntry(e entry) ([]byte, error) {
	rc, err := e.open()
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", e.path, err)
	}
	defer func() { _ = rc.Close() }()
	data, err := io.ReadAll(io.LimitReader(rc, maxImportFile+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", e.path, err)
	}
	return data, nil
}

// ignored reports whether a path is operating-system litter.
func ignored(p string) bool {
	for _, part := range strings.Split(p, "/") {
		if part == "__MACOSX" || strings.HasPrefix(part, ".") {
			return true
		}
	}
	return false
}

// sourceEntries lists the regular files of a directory or a zip archive.
func sourceEntries(src string) ([]entry, func(), error) {
	info, err := os.Stat(src)
	if err != nil {
		return nil, nil, fmt.Errorf("read import source: %w", err)
	}
	if !info.IsDir() {
		if !strings.EqualFold(filepath.Ext(src), ".zip") {
			return nil, nil, fmt.Errorf("import source %s: want a directory or a .zip file", src)
		}
		zr, err := zip.OpenReader(src)
		if err != nil {
			return nil, nil, fmt.Errorf("open %s: %w", src, err)
		}
		var out []entry
		for _, f := range zr.File {
			name := path.Clean(strings.ReplaceAll(f.Name, `\`, "/"))
			if f.FileInfo().IsDir() || !f.Mode().IsRegular() || ignored(name) {
				continue
			}
			if !fs.ValidPath(name) {
				return nil, nil, fmt.Errorf("open %s: unsafe entry name %q", src, f.Name)
			}
			out = append(out, entry{path: name, open: f.Open, size: int64(f.UncompressedSize64)})
		}
		return out, func() { _ = zr.Close() }, nil
	}
	var out []entry
	root := os.DirFS(src)
	err = fs.WalkDir(root, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != "." && ignored(p) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		out = append(out, entry{path: p, open: func() (io.ReadCloser, error) { return root.Open(p) }, size: info.Size()})
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("read import source %s: %w", src, err)
	}
	return out, func() {}, nil
}

// stripCommonRoot drops one leading folder shared by every entry when the
// files below it are themselves in folders, so "class/alice/main.c" reads
// like "alice/main.c"; with severalUsers, only when what it holds names
// more than one user.
func stripCommonRoot(es []entry, severalUsers bool) []entry {
	if len(es) == 0 {
		return es
	}
	root, _, ok := strings.Cut(es[0].path, "/")
	if !ok {
		return es
	}
	for _, e := range es {
		first, rest, nested := strings.Cut(e.path, "/")
		if !nested || first != root || !strings.Contains(rest, "/") && !canvasFile.MatchString(rest) {
			return es
		}
	}
	out := make([]entry, len(es))
	users := map[string]bool{}
	for i, e := range es {
		e.path = strings.SplitN(e.path, "/", 2)[1]
		out[i] = e
		if user, _, ok := placeOf(e.path, false); ok {
			users[user] = true
		}
	}
	if severalUsers && len(users) < 2 {
		return es
	}
	return out
}
