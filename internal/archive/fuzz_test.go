package archive_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/zinc-edu/orchestrator/internal/archive"
)

// FuzzUnpack feeds arbitrary tar streams (gzipped by the harness unless the
// input already looks like gzip, so the fuzzer explores tar headers rather
// than gzip checksums) to Unpack and checks that, whatever happens, nothing
// appears outside the target directory and everything inside it is a plain
// file 0644 or a directory 0755.
func FuzzUnpack(f *testing.F) {
	packed, _, err := pack(f, []archive.File{
		{Name: "main.c", Data: []byte("int main(void){}")},
		{Name: "dir/sub/x.txt", Data: []byte("x")},
	}, archive.Limits{})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(packed)
	f.Add(rawTar(f, reg("ok", "data"), dirEntry("d/"), reg("d/f", "1")))
	f.Add(rawTar(f, reg("../escape", "evil")))
	f.Add(rawTar(f, reg("/abs", "evil")))
	f.Add(rawTar(f, reg("a/../../b", "evil")))
	f.Add(rawTar(f, symlink("link", ".."), reg("link/evil", "evil")))
	f.Add(rawTar(f, reg("dup", "1"), reg("dup", "2")))
	f.Add(rawTar(f, reg("f", "1"), reg("f/g", "2")))
	f.Add(rawTar(f, tarEntry{hdr: archiveLink("hard", "/etc/passwd")}))
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, data []byte) {
		if !bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
			data = gz(t, data)
		}
		parent := t.TempDir()
		dir := filepath.Join(parent, "scratch")

		stats, err := archive.Unpack(bytes.NewReader(data), dir, archive.Limits{MaxFiles: 50, MaxTotalBytes: 1 << 20, MaxFileBytes: 256 << 10})

		top, rerr := os.ReadDir(parent)
		if rerr != nil {
			t.Fatal(rerr)
		}
		for _, e := range top {
			if e.Name() != "scratch" {
				t.Fatalf("wrote %q outside the target directory", e.Name())
			}
		}
		files := 0
		werr := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			fi, err := os.Lstat(p)
			if err != nil {
				return err
			}
			switch {
			case p == dir:
			case fi.Mode().IsRegular() && fi.Mode().Perm() == 0o644:
				files++
			case fi.IsDir() && fi.Mode().Perm() == 0o755:
			default:
				t.Fatalf("%s has mode %v", p, fi.Mode())
			}
			return nil
		})
		if werr != nil {
			t.Fatal(werr)
		}
		if err == nil && files != stats.Files {
			t.Fatalf("stats say %d files, found %d", stats.Files, files)
		}
	})
}

// FuzzPack feeds arbitrary uploads, named as a zip or a tar.gz or as a
// plain file, to Pack, spooled through a Reader as the API does: it either
// refuses them with one of the package's errors, or writes an archive that
// Unpack accepts under the same limits with the same counts.
func FuzzPack(f *testing.F) {
	f.Add(zipBytes(f, zipEntry{name: "a/main.c", data: "int main(){}"}, zipEntry{name: "b/", mode: fs.ModeDir | 0o755}), uint8(0))
	f.Add(zipBytes(f, zipEntry{name: "../evil", data: "x"}), uint8(0))
	f.Add(zipBytes(f, zipEntry{name: "dup", data: "1"}, zipEntry{name: "dup", data: "2"}), uint8(0))
	f.Add(tarGz(f, reg("ok", "data"), dirEntry("d/"), reg("d/f", "1")), uint8(1))
	f.Add(tarGz(f, symlink("link", "..")), uint8(1))
	f.Add(rawTar(f, reg("x", "y")), uint8(1))
	f.Add([]byte("plain"), uint8(2))
	f.Add([]byte{}, uint8(0))
	lim := archive.Limits{MaxFiles: 50, MaxTotalBytes: 1 << 20, MaxFileBytes: 256 << 10}
	f.Fuzz(func(t *testing.T, data []byte, kind uint8) {
		name := []string{"up.zip", "dir/up.tar.gz", "plain.txt"}[int(kind)%3]
		var packed bytes.Buffer
		stats, err := archive.Pack(&packed, []archive.File{{Name: name, Reader: bytes.NewReader(data)}}, lim)
		if err != nil {
			if !errors.Is(err, archive.ErrTooLarge) && !errors.Is(err, archive.ErrUnsafePath) && !errors.Is(err, archive.ErrInvalidArchive) {
				t.Fatalf("unclassified error: %v", err)
			}
			if packed.Len() != 0 {
				t.Fatalf("refused with %v, but wrote %d bytes", err, packed.Len())
			}
			return
		}
		got, err := archive.Unpack(&packed, filepath.Join(t.TempDir(), "out"), lim)
		if err != nil {
			t.Fatalf("Pack's own output does not unpack: %v", err)
		}
		if got != stats {
			t.Fatalf("Pack says %+v, Unpack %+v", stats, got)
		}
	})
}
