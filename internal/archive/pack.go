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
	"os"
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

// entry is one file to pack: its bytes in memory (the caller's Data), or
// else a span of the packer's spool file.
type entry struct {
	name      string
	data      []byte
	off, size int64
	spooled   bool
}

// Pack writes files to w as one tar.gz. A file named *.zip, *.tar.gz or
// *.tgz is unpacked instead, its entries placed in that file's directory;
// archives found inside it are kept as files, never unpacked recursively.
// Every name, from the list or from an archive, obeys the package's path
// rules, and lim (zero fields: DefaultLimits) caps the result. Nothing is
// written unless every file passes.
//
// Content read from a Reader, and every file expanded from an archive, is
// spooled to one temporary file (removed before Pack returns) rather than
// kept in memory, so packing holds only small buffers however large the
// delivery; it needs up to twice lim.MaxTotalBytes of temporary disk.
func Pack(w io.Writer, files []File, lim Limits) (stats Stats, err error) {
	lim = lim.withDefaults()
	p := &packer{tally: newTally(lim)}
	defer func() {
		if cerr := p.closeSpool(); cerr != nil && err == nil {
			stats, err = Stats{}, cerr
		}
	}()
	for _, f := range files {
		if err := p.add(f); err != nil {
			return Stats{}, fmt.Errorf("pack %q: %w", f.Name, err)
		}
	}
	slices.SortFunc(p.entries, func(a, b entry) int { return strings.Compare(a.name, b.name) })

	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	for _, e := range p.entries {
		content, size := p.content(e)
		hdr := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     e.name,
			Mode:     0o644,
			Size:     size,
			ModTime:  epoch,
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return Stats{}, fmt.Errorf("write header %q: %w", e.name, err)
		}
		if _, err := io.Copy(tw, content); err != nil {
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
	// spool holds streamed content back to back, created on first use;
	// end is its size.
	spool *os.File
	end   int64
}

// spoolFrom copies at most limit bytes of r to the end of the spool and
// returns where they are. More than limit bytes is ErrTooLarge; r's own
// errors are returned as they are.
func (p *packer) spoolFrom(r io.Reader, limit int64) (off, size int64, err error) {
	if p.spool == nil {
		if p.spool, err = os.CreateTemp("", "zinc-pack-*"); err != nil {
			return 0, 0, fmt.Errorf("create spool file: %w", err)
		}
	}
	off = p.end
	n, err := io.Copy(sinkWriter{p.spool}, io.LimitReader(r, limit+1))
	p.end += n
	if err != nil {
		// A failure to write is a *sinkError, which classify keeps.
		return 0, 0, err
	}
	if n > limit {
		return 0, 0, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)
	}
	return off, n, nil
}

// section reads size bytes of the spool from off.
func (p *packer) section(off, size int64) *io.SectionReader {
	return io.NewSectionReader(p.spool, off, size)
}

// content returns an entry's bytes and their number.
func (p *packer) content(e entry) (io.Reader, int64) {
	if e.spooled {
		return p.section(e.off, e.size), e.size
	}
	return bytes.NewReader(e.data), int64(len(e.data))
}

func (p *packer) closeSpool() error {
	if p.spool == nil {
		return nil
	}
	cerr := p.spool.Close()
	rerr := os.Remove(p.spool.Name())
	if err := errors.Join(cerr, rerr); err != nil {
		return fmt.Errorf("remove spool file: %w", err)
	}
	return nil
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
	// src is the file's content, size its length; e is how it is packed
	// when it is a plain file.
	var (
		src  io.ReaderAt
		size int64
		e    = entry{name: name}
	)
	switch {
	case f.Data != nil:
		if int64(len(f.Data)) > limit {
			return fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)
		}
		e.data, src, size = f.Data, bytes.NewReader(f.Data), int64(len(f.Data))
	case f.Reader != nil:
		off, n, err := p.spoolFrom(f.Reader, limit)
		if err != nil {
			return fmt.Errorf("read file: %w", err)
		}
		e.off, e.size, e.spooled = off, n, true
		src, size = p.section(off, n), n
	default:
		src = bytes.NewReader(nil)
	}

	dir := path.Dir(name)
	switch kind {
	case "zip":
		return p.addZip(dir, src, size)
	case "tar.gz":
		return p.addTarGz(dir, io.NewSectionReader(src, 0, size))
	}
	return p.addEntry(e)
}

// addEntry records a plain file, its size checked against the limits.
func (p *packer) addEntry(e entry) error {
	_, size := p.content(e)
	if err := p.tally.addFile(e.name, size); err != nil {
		return err
	}
	p.entries = append(p.entries, e)
	return nil
}

// member resolves an archive entry's name against the archive's directory.
func member(dir, raw string) (string, error) {
	name, err := cleanName(raw)
	if err != nil {
		return "", err
	}
	// The archive's directory lengthens the name: the whole of it must pass
	// the rules, as Unpack checks it.
	return cleanName(path.Join(dir, name))
}

func (p *packer) addZip(dir string, src io.ReaderAt, size int64) error {
	dr := &directoryReader{r: src, budget: p.tally.lim.zipDirectoryBytes(), capped: true}
	zr, err := zip.NewReader(dr, size)
	// From here on only entries are read, bounded by checkNoOverlap.
	dr.capped = false
	if errors.Is(err, zip.ErrInsecurePath) {
		// Only reported under GODEBUG=zipinsecurepath=0; the names are
		// checked below either way.
		err = nil
	}
	if errors.Is(err, ErrTooLarge) {
		return err
	}
	if err != nil {
		return fmt.Errorf("%w: zip: %w", ErrInvalidArchive, err)
	}
	if len(zr.File) > 2*p.tally.lim.MaxFiles {
		return fmt.Errorf("%w: zip holds %d entries, more than %d", ErrTooLarge, len(zr.File), 2*p.tally.lim.MaxFiles)
	}
	if err := checkNoOverlap(zr.File, size); err != nil {
		return err
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
		// fail before any decompression. spoolFrom enforces the real cap.
		if zf.UncompressedSize64 > uint64(p.tally.budget()) {
			return p.tally.exceeded(name)
		}
		off, n, err := p.spoolZipFile(zf, p.tally.budget())
		if errors.Is(err, ErrTooLarge) {
			return p.tally.exceeded(name)
		}
		if err != nil {
			return fmt.Errorf("read zip entry %q: %w", zf.Name, err)
		}
		if err := p.addEntry(entry{name: name, off: off, size: n, spooled: true}); err != nil {
			return err
		}
	}
	return nil
}

// directoryReader is a zip as zip.NewReader reads it. That keeps every
// central directory record in memory, at about five times its size on
// disk, before the entries can be counted, so while capped it fails with
// ErrTooLarge once more than budget bytes have been asked of it.
type directoryReader struct {
	r            io.ReaderAt
	budget, read int64
	capped       bool
}

// ReadAt implements io.ReaderAt.
func (d *directoryReader) ReadAt(p []byte, off int64) (int, error) {
	if d.capped {
		d.read += int64(len(p))
		if d.read > d.budget {
			return 0, fmt.Errorf("%w: zip directory larger than %d bytes", ErrTooLarge, d.budget)
		}
	}
	return d.r.ReadAt(p, off)
}

// checkNoOverlap refuses entries whose compressed data add up to more than
// the zip's size: in a well-formed zip each entry has bytes of its own, and
// entries sharing theirs would each be inflated in turn. The limits count
// only the output, and empty deflate blocks yield none, so a few MiB shared
// by thousands of entries would otherwise cost minutes of CPU.
func checkNoOverlap(files []*zip.File, size int64) error {
	var left uint64
	if size > 0 {
		left = uint64(size)
	}
	for _, zf := range files {
		if zf.CompressedSize64 > left {
			return fmt.Errorf("%w: zip entries overlap: their compressed data add up to more than the archive's %d bytes", ErrInvalidArchive, size)
		}
		left -= zf.CompressedSize64
	}
	return nil
}

// spoolZipFile decompresses a zip entry of at most limit bytes into the
// spool.
func (p *packer) spoolZipFile(zf *zip.File, limit int64) (off, size int64, err error) {
	rc, err := zf.Open()
	if err != nil {
		return 0, 0, fmt.Errorf("%w: %w", ErrInvalidArchive, err)
	}
	defer func() { _ = rc.Close() }()
	off, size, err = p.spoolFrom(rc, limit)
	if err != nil {
		return 0, 0, classify(err)
	}
	return off, size, nil
}

func (p *packer) addTarGz(dir string, src io.Reader) error {
	gz, err := gzip.NewReader(src)
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
			off, n, err := p.spoolFrom(r, size)
			if err != nil {
				return fmt.Errorf("read tar entry %q: %w", raw, classify(err))
			}
			return p.addEntry(entry{name: name, off: off, size: n, spooled: true})
		},
	})
}
