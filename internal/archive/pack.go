package archive

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"
)

// File is one uploaded file. Its content is Data, or else what Reader
// yields; with neither the file is empty.
type File struct {
	// Name is a relative slash-separated path.
	Name string
	// Data is the content, when already in memory.
	Data []byte
	// Reader supplies the content when Data is nil.
	Reader io.Reader
}

// epoch is the modification time of every packed entry, so packing is
// reproducible.
var epoch = time.Unix(0, 0).UTC()

type entry struct {
	name string
	data []byte
}

// Pack writes files to w as one tar.gz. A file named *.zip, *.tar.gz or
// *.tgz is unpacked instead, its entries placed in that file's directory;
// archives found inside it are kept as files, never unpacked recursively.
// Every name, from the list or from an archive, obeys the package's path
// rules, and lim (zero fields: DefaultLimits) caps the result. Nothing is
// written unless every file passes.
func Pack(w io.Writer, files []File, lim Limits) (Stats, error) {
	lim = lim.withDefaults()
	p := &packer{tally: newTally(lim)}
	for _, f := range files {
		if err := p.add(f); err != nil {
			return Stats{}, fmt.Errorf("pack %q: %w", f.Name, err)
		}
	}
	slices.SortFunc(p.entries, func(a, b entry) int { return strings.Compare(a.name, b.name) })

	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	for _, e := range p.entries {
		hdr := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     e.name,
			Mode:     0o644,
			Size:     int64(len(e.data)),
			ModTime:  epoch,
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return Stats{}, fmt.Errorf("write header %q: %w", e.name, err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return Stats{}, fmt.Errorf("write %q: %w", e.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return Stats{}, fmt.Errorf("close tar: %w", err)
	}
	if err := gz.Close(); err != nil {
		return Stats{}, fmt.Errorf("close gzip: %w", err)
	}
	return p.tally.stats, nil
}

type packer struct {
	tally   *tally
	entries []entry
}

func (p *packer) add(f File) error {
	name, err := cleanName(f.Name)
	if err != nil {
		return err
	}
	kind := archiveKind(name)
	// An archive's own size is bounded by the total budget; a plain file's
	// by what the next file may still take.
	limit := p.tally.budget()
	if kind != "" {
		limit = p.tally.lim.MaxTotalBytes
	}
	data := f.Data
	switch {
	case data != nil:
		if int64(len(data)) > limit {
			return fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)
		}
	case f.Reader != nil:
		data, err = readAtMost(f.Reader, limit)
		if err != nil {
			return fmt.Errorf("read file: %w", err)
		}
	}

	dir := path.Dir(name)
	switch kind {
	case "zip":
		return p.addZip(dir, data)
	case "tar.gz":
		return p.addTarGz(dir, data)
	}
	return p.addFile(name, data)
}

func (p *packer) addFile(name string, data []byte) error {
	if err := p.tally.addFile(name, int64(len(data))); err != nil {
		return err
	}
	p.entries = append(p.entries, entry{name: name, data: data})
	return nil
}

// member resolves an archive entry's name against the archive's directory.
func member(dir, raw string) (string, error) {
	name, err := cleanName(raw)
	if err != nil {
		return "", err
	}
	return path.Join(dir, name), nil
}

func (p *packer) addZip(dir string, data []byte) error {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if errors.Is(err, zip.ErrInsecurePath) {
		// Only reported under GODEBUG=zipinsecurepath=0; the names are
		// checked below either way.
		err = nil
	}
	if err != nil {
		return fmt.Errorf("%w: zip: %w", ErrInvalidArchive, err)
	}
	if len(zr.File) > 2*p.tally.lim.MaxFiles {
		return fmt.Errorf("%w: zip holds %d entries, more than %d", ErrTooLarge, len(zr.File), 2*p.tally.lim.MaxFiles)
	}
	for _, zf := range zr.File {
		if zf.Mode().IsDir() && isRootDir(zf.Name) {
			continue
		}
		name, err := member(dir, zf.Name)
		if err != nil {
			return err
		}
		mode := zf.Mode()
		switch {
		case mode.IsDir():
			if err := p.tally.addDir(name); err != nil {
				return err
			}
			continue
		case mode&fs.ModeSymlink != 0:
			return unsafePath(zf.Name, "symbolic link")
		case !mode.IsRegular():
			return unsafePath(zf.Name, "not a regular file")
		}
		// The declared size may lie; it only lets an honest oversized file
		// fail before any decompression. readAtMost enforces the real cap.
		if zf.UncompressedSize64 > uint64(p.tally.budget()) {
			return p.tally.exceeded(name)
		}
		content, err := readZipFile(zf, p.tally.budget())
		if errors.Is(err, ErrTooLarge) {
			return p.tally.exceeded(name)
		}
		if err != nil {
			return fmt.Errorf("read zip entry %q: %w", zf.Name, err)
		}
		if err := p.addFile(name, content); err != nil {
			return err
		}
	}
	return nil
}

func readZipFile(zf *zip.File, limit int64) ([]byte, error) {
	rc, err := zf.Open()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidArchive, err)
	}
	defer func() { _ = rc.Close() }()
	data, err := readAtMost(rc, limit)
	if err != nil {
		return nil, classify(err)
	}
	return data, nil
}

func (p *packer) addTarGz(dir string, data []byte) error {
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("%w: gzip: %w", ErrInvalidArchive, err)
	}
	return walkTar(gz, p.tally.lim, tarVisitor{
		name: func(raw string) (string, error) { return member(dir, raw) },
		dir:  p.tally.addDir,
		file: func(name, raw string, size int64, r io.Reader) error {
			if err := p.tally.checkSize(name, size); err != nil {
				return err
			}
			// The tar reader yields at most size bytes, already checked.
			content, err := readAtMost(r, size)
			if err != nil {
				return fmt.Errorf("read tar entry %q: %w", raw, classify(err))
			}
			return p.addFile(name, content)
		},
	})
}
