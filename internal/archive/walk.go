package archive

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
)

// tarVisitor receives the entries walkTar accepts.
type tarVisitor struct {
	// name resolves and checks an entry's raw name.
	name func(raw string) (string, error)
	// dir receives a directory entry under its resolved name.
	dir func(name string) error
	// file receives a regular file: its resolved and raw names, declared
	// size, and a reader of its content (at most size bytes).
	file func(name, raw string, size int64, content io.Reader) error
}

// walkTar reads the tar stream r, capped at lim's stream cap, and hands each
// entry to v. It is the package's one tar walk, shared by Pack (uploaded
// tar.gz files) and Unpack, so their checks cannot drift: every name goes
// through v.name, and links, devices, pipes and any other entry type are
// refused; a global header and the root directory name no entry and are
// passed over.
func walkTar(r io.Reader, lim Limits, v tarVisitor) error {
	tr := tar.NewReader(newCapReader(r, lim.streamCap()))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil && !errors.Is(err, tar.ErrInsecurePath) {
			return classify(err)
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader || (hdr.Typeflag == tar.TypeDir && isRootDir(hdr.Name)) {
			// git archive writes a global header; it names no file.
			continue
		}
		name, err := v.name(hdr.Name)
		if err != nil {
			return err
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := v.dir(name); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := v.file(name, hdr.Name, hdr.Size, tr); err != nil {
				return err
			}
		case tar.TypeSymlink, tar.TypeLink:
			return unsafePath(hdr.Name, "link")
		case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
			return unsafePath(hdr.Name, "device or pipe")
		default:
			return fmt.Errorf("%w: entry %q has unsupported type %q", ErrInvalidArchive, hdr.Name, hdr.Typeflag)
		}
	}
}
