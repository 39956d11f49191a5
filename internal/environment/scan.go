package environment

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// Whiteout names of the OCI layer format.
const (
	whiteoutPrefix = ".wh."
	whiteoutOpaque = ".wh..wh..opq"
)

// shell is the program the sandbox starts every command through.
const shell = "bin/sh"

// maxLinkHops bounds symbolic links followed while resolving a path, as
// the kernel's MAXSYMLINKS does.
const maxLinkHops = 40

// scanLayers reads every layer of img: it decompresses it, matches it
// against its diff_id, refuses entries that climb out of the root, counts
// entries and bytes against lim, and builds the file tree the layers stack
// up to, to check that the image has a shell.
func (l *layout) scanLayers(img image, lim Limits) error {
	lim = lim.withDefaults()
	root := newDir(-1)
	var (
		entries int
		bytes   int64
	)
	stream := &budget{left: lim.MaxUnpackedBytes, max: lim.MaxUnpackedBytes}
	for i, desc := range img.manifest.Layers {
		where := fmt.Sprintf("layers[%d]", i)
		name, err := l.blob(where, desc)
		if err != nil {
			return err
		}
		diffID, err := l.scanLayer(name, desc.MediaType, stream, func(hdr *tar.Header) error {
			entries++
			if entries > lim.MaxEntries {
				return tooLarge("the image's layers hold more than %d entries", lim.MaxEntries)
			}
			if hdr.Typeflag == tar.TypeReg {
				if bytes += hdr.Size; bytes > lim.MaxUnpackedBytes {
					return tooLarge("the image unpacks to more than %d bytes", lim.MaxUnpackedBytes)
				}
			}
			return root.apply(where, i, hdr)
		})
		if err != nil {
			return err
		}
		if want := string(img.config.RootFS.DiffIDs[i]); diffID != want {
			return invalid(where, "diff_id mismatch: the uncompressed layer hashes to %s, the config says %s", diffID, want)
		}
	}
	if !root.executable(shell) {
		return invalid("", "the image has no executable /bin/sh: the sandbox starts every command through it")
	}
	if etc, ok := root.children["etc"]; ok && etc.typ != tar.TypeDir {
		// The sandbox shows its own hosts, hostname and resolv.conf there.
		return invalid("etc", "the image's /etc is not a directory")
	}
	return nil
}

// scanLayer calls fn for each entry of the layer blob name, reading its
// uncompressed stream through stream, and returns the layer's diff_id.
func (l *layout) scanLayer(name, mediaType string, stream *budget, fn func(*tar.Header) error) (string, error) {
	f, err := os.Open(filepath.Join(l.dir, filepath.FromSlash(name)))
	if err != nil {
		return "", fmt.Errorf("open %s: %w", name, err)
	}
	defer func() { _ = f.Close() }()
	compression, _ := layerCompression(mediaType)
	var r io.Reader = f
	switch compression {
	case "gzip":
		zr, err := gzip.NewReader(f)
		if err != nil {
			return "", invalid(name, "not gzip data: %v", err)
		}
		defer func() { _ = zr.Close() }()
		r = zr
	case "zstd":
		zr, err := zstd.NewReader(f)
		if err != nil {
			return "", invalid(name, "not zstd data: %v", err)
		}
		defer zr.Close()
		r = zr
	}
	stream.r = r
	h := sha256.New()
	tr := tar.NewReader(io.TeeReader(stream, h))
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if errors.Is(err, ErrTooLarge) {
			return "", err
		}
		if err != nil {
			return "", invalid(name, "not a tar layer: %v", err)
		}
		if err := fn(hdr); err != nil {
			return "", err
		}
	}
	// The diff_id covers the whole uncompressed stream, padding included.
	_, err = io.Copy(h, stream)
	switch {
	case errors.Is(err, ErrTooLarge):
		return "", err
	case err != nil:
		return "", invalid(name, "read: %v", err)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// budget bounds the uncompressed streams of the layers together: a small
// compressed layer can hold far more than the file sizes its entries
// declare (zeros after the tar's end, long headers), and all of it is
// read, here and by every worker.
type budget struct {
	r         io.Reader
	left, max int64
}

func (b *budget) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if b.left -= int64(n); b.left < 0 {
		return n, tooLarge("the image's layers uncompress to more than %d bytes", b.max)
	}
	return n, err
}

// node is one entry of the file tree the layers stack up to.
type node struct {
	typ  byte // tar.TypeDir, TypeReg, TypeSymlink or TypeLink
	mode int64
	link string
	// layer is the layer that last wrote the entry (-1: implied by a
	// path below it).
	layer    int
	children map[string]*node
}

func newDir(layer int) *node {
	return &node{typ: tar.TypeDir, mode: 0o755, layer: layer, children: map[string]*node{}}
}

// apply adds one entry of layer to the tree, or removes what a whiteout
// hides. Entries that climb out of the root are refused.
func (n *node) apply(where string, layer int, hdr *tar.Header) error {
	name, ok := cleanName(hdr.Name)
	if !ok {
		return invalid(where+": "+hdr.Name, "path traversal: the entry leaves the root")
	}
	if hdr.Typeflag == tar.TypeLink {
		if _, ok := cleanName(hdr.Linkname); !ok {
			return invalid(where+": "+hdr.Name, "path traversal: the hard link's target %q leaves the root", hdr.Linkname)
		}
	}
	if name == "" {
		return nil // the root itself
	}
	dir, base := path.Split(name)
	parent := n.mkdirAll(strings.TrimSuffix(dir, "/"), layer)
	switch {
	case base == whiteoutOpaque:
		parent.pruneBelow(layer)
		return nil
	case strings.HasPrefix(base, whiteoutPrefix):
		target := strings.TrimPrefix(base, whiteoutPrefix)
		if target == "" || target == "." || target == ".." {
			// umoci removes dir/target: ".wh." would be an opaque
			// whiteout, ".wh.." the directory itself, ".wh..." its
			// parent, above the root at the top.
			return invalid(where+": "+hdr.Name, "a whiteout of %q hides no entry", target)
		}
		delete(parent.children, target)
		return nil
	}
	e := &node{typ: hdr.Typeflag, mode: hdr.Mode, link: hdr.Linkname, layer: layer}
	switch hdr.Typeflag {
	case tar.TypeDir:
		if old, ok := parent.children[base]; ok && old.typ == tar.TypeDir {
			old.mode, old.layer = hdr.Mode, layer
			return nil
		}
		e.children = map[string]*node{}
	case tar.TypeLink:
		// umoci links to the entry itself (its directory resolved within
		// the root): one that does not exist, or a directory, fails the
		// unpack on every worker.
		ldir, lbase := path.Split(strings.TrimPrefix(path.Clean("/"+hdr.Linkname), "/"))
		var target *node
		if d := n.lookup(ldir, 0); d != nil && d.typ == tar.TypeDir {
			target = d.children[lbase]
		}
		if target == nil || target.typ == tar.TypeDir {
			return invalid(where+": "+hdr.Name, "the hard link's target %q is not a file of the image", hdr.Linkname)
		}
	case tar.TypeReg, tar.TypeSymlink:
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		// Removed when the image is sealed; for the tree they are files
		// nobody can run.
		e.typ, e.mode = tar.TypeReg, 0
	default:
		// umoci refuses any other kind (contiguous files, old GNU sparse
		// files, global headers): refused here, not on every worker.
		return invalid(where+": "+hdr.Name, "unsupported entry type %q", hdr.Typeflag)
	}
	parent.children[base] = e
	return nil
}

// mkdirAll returns the directory at rel, creating implied directories.
func (n *node) mkdirAll(rel string, layer int) *node {
	cur := n
	if rel == "" {
		return cur
	}
	for _, seg := range strings.Split(rel, "/") {
		next, ok := cur.children[seg]
		if !ok || next.typ != tar.TypeDir {
			// A non-directory on the way is replaced, as unpacking does.
			next = newDir(layer)
			cur.children[seg] = next
		}
		cur = next
	}
	return cur
}

// pruneBelow removes what lower layers left under n (an opaque whiteout),
// keeping what layer itself wrote.
func (n *node) pruneBelow(layer int) {
	for name, c := range n.children {
		switch {
		case c.layer < layer:
			delete(n.children, name)
		case c.typ == tar.TypeDir:
			c.pruneBelow(layer)
		}
	}
}

// executable reports whether rel resolves, following symbolic links
// within the root as the container will, to a regular file with an
// execute bit.
func (n *node) executable(rel string) bool {
	e := n.lookup(rel, 0)
	if e != nil && e.typ == tar.TypeLink {
		e = n.lookup(e.link, 0)
	}
	return e != nil && e.typ == tar.TypeReg && e.mode&0o111 != 0
}

// lookup resolves rel from the root; hops counts symbolic links followed.
func (n *node) lookup(rel string, hops int) *node {
	segs := strings.Split(strings.Trim(path.Clean("/"+rel), "/"), "/")
	cur := n
	for i, seg := range segs {
		if seg == "" {
			continue
		}
		next, ok := cur.children[seg]
		if !ok {
			return nil
		}
		if next.typ == tar.TypeSymlink {
			if hops >= maxLinkHops {
				return nil
			}
			target := next.link
			if !strings.HasPrefix(target, "/") {
				// Relative to the link's directory; a ".." above the root
				// stays at the root, as in the container.
				target = path.Join("/"+strings.Join(segs[:i], "/"), target)
			}
			return n.lookup(path.Join(target, strings.Join(segs[i+1:], "/")), hops+1)
		}
		if i < len(segs)-1 && next.typ != tar.TypeDir {
			return nil
		}
		cur = next
	}
	return cur
}
