package archive_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/archive"
)

// tarEntry is one raw entry for hand-built, possibly hostile, tar archives.
type tarEntry struct {
	hdr  tar.Header
	data string
}

func reg(name, data string) tarEntry {
	return tarEntry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(data))}, data: data}
}

func dirEntry(name string) tarEntry {
	return tarEntry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755}}
}

func symlink(name, target string) tarEntry {
	return tarEntry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target}}
}

func rawTar(t testing.TB, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := e.hdr
		if hdr.ModTime.IsZero() && hdr.Typeflag != tar.TypeXGlobalHeader {
			hdr.ModTime = time.Unix(0, 0)
		}
		require.NoError(t, tw.WriteHeader(&hdr))
		if e.data != "" {
			_, err := tw.Write([]byte(e.data))
			require.NoError(t, err)
		}
	}
	require.NoError(t, tw.Close())
	return buf.Bytes()
}

func gz(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write(data)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

func tarGz(t testing.TB, entries ...tarEntry) []byte {
	t.Helper()
	return gz(t, rawTar(t, entries...))
}

// zipEntry is one raw entry for hand-built zip archives.
type zipEntry struct {
	name string
	data string
	mode fs.FileMode // 0: regular file 0644
}

func zipBytes(t testing.TB, entries ...zipEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		fh := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		fh.SetMode(mode)
		w, err := zw.CreateHeader(fh)
		require.NoError(t, err)
		_, err = w.Write([]byte(e.data))
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

func pack(t testing.TB, files []archive.File, lim archive.Limits) ([]byte, archive.Stats, error) {
	t.Helper()
	var buf bytes.Buffer
	stats, err := archive.Pack(&buf, files, lim)
	return buf.Bytes(), stats, err
}

// unpacked lists every path under dir with its content ("" for
// directories), failing on anything that is neither a file nor a directory.
func unpacked(t testing.TB, dir string) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		switch {
		case d.IsDir():
			got[filepath.ToSlash(rel)+"/"] = ""
		case d.Type().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			got[filepath.ToSlash(rel)] = string(data)
		default:
			t.Errorf("%s has type %v", rel, d.Type())
		}
		return nil
	})
	require.NoError(t, err)
	return got
}

func archiveGlobalHeader() tar.Header {
	return tar.Header{
		Typeflag:   tar.TypeXGlobalHeader,
		Name:       "pax_global_header",
		PAXRecords: map[string]string{"comment": strings.Repeat("c", 1000)},
	}
}

func archiveLink(name, target string) tar.Header {
	return tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target}
}

// sharedBodyZip hand-builds a zip whose entries, named 0, 1, …, all point
// at one local header and its deflated body, which no zip writer does.
func sharedBodyZip(body []byte, entries int) []byte {
	var b []byte
	u16 := func(v int) { b = binary.LittleEndian.AppendUint16(b, uint16(v)) }
	u32 := func(v int) { b = binary.LittleEndian.AppendUint32(b, uint32(v)) }
	// Local header: version, flags, deflate, time, date, CRC 0, sizes, name.
	u32(0x04034b50)
	u16(20)
	u16(0)
	u16(int(zip.Deflate))
	u16(0)
	u16(0x21)
	u32(0)
	u32(len(body))
	u32(0)
	u16(1)
	u16(0)
	b = append(b, 'x')
	b = append(b, body...)
	dirAt := len(b)
	for i := range entries {
		name := strconv.Itoa(i)
		u32(0x02014b50)
		u16(20)
		u16(20)
		u16(0)
		u16(int(zip.Deflate))
		u16(0)
		u16(0x21)
		u32(0)
		u32(len(body))
		u32(0) // uncompressed size 0: the body inflates to nothing
		u16(len(name))
		u16(0)
		u16(0)
		u16(0)
		u16(0)
		u32(0)
		u32(0) // every entry's local header is at offset 0
		b = append(b, name...)
	}
	dirSize := len(b) - dirAt
	u32(0x06054b50)
	u16(0)
	u16(0)
	u16(entries)
	u16(entries)
	u32(dirSize)
	u32(dirAt)
	u16(0)
	return b
}

// emptyDeflateBlocks is n empty stored deflate blocks and a final one: a
// valid deflate stream that is 5n+5 bytes long and inflates to nothing.
func emptyDeflateBlocks(n int) []byte {
	return append(bytes.Repeat([]byte{0x00, 0x00, 0x00, 0xff, 0xff}, n), 0x01, 0x00, 0x00, 0xff, 0xff)
}
