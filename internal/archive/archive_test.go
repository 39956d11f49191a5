package archive_test

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/archive"
)

func TestPackUnpackRoundTrip(t *testing.T) {
	files := []archive.File{
		{Name: "main.c", Data: []byte("int main(void) { return 0; }\n")},
		{Name: "src/lib/util.h", Reader: strings.NewReader("#pragma once\n")},
		{Name: "./docs//notes.txt", Data: []byte("notes")},
		{Name: "empty"},
	}
	packed, stats, err := pack(t, files, archive.Limits{})
	require.NoError(t, err)
	assert.Equal(t, archive.Stats{Files: 4, Bytes: 29 + 13 + 5}, stats)
	dir := filepath.Join(t.TempDir(), "scratch")

	got, err := archive.Unpack(bytes.NewReader(packed), dir, archive.Limits{})

	require.NoError(t, err)
	assert.Equal(t, stats, got)
	assert.Equal(t, map[string]string{
		"main.c":         "int main(void) { return 0; }\n",
		"src/":           "",
		"src/lib/":       "",
		"src/lib/util.h": "#pragma once\n",
		"docs/":          "",
		"docs/notes.txt": "notes",
		"empty":          "",
	}, unpacked(t, dir))
}

func TestUnpackSetsModes(t *testing.T) {
	packed, _, err := pack(t, []archive.File{{Name: "a/b.txt", Data: []byte("x")}}, archive.Limits{})
	require.NoError(t, err)
	dir := t.TempDir()

	_, err = archive.Unpack(bytes.NewReader(packed), dir, archive.Limits{})
	require.NoError(t, err)

	fi, err := os.Stat(filepath.Join(dir, "a", "b.txt"))
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o644), fi.Mode().Perm())
	fi, err = os.Stat(filepath.Join(dir, "a"))
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o755), fi.Mode().Perm())
}

func TestUnpackNormalisesModesFromForeignArchives(t *testing.T) {
	exe := reg("run.sh", "#!/bin/sh\n")
	exe.hdr.Mode = 0o4777
	dir := t.TempDir()

	_, err := archive.Unpack(bytes.NewReader(tarGz(t, dirEntry("d/"), exe)), dir, archive.Limits{})
	require.NoError(t, err)

	fi, err := os.Stat(filepath.Join(dir, "run.sh"))
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o644), fi.Mode(), "no setuid, no exec bit")
}

func TestPackIsCanonical(t *testing.T) {
	a := []archive.File{{Name: "b.c", Data: []byte("b")}, {Name: "a.c", Data: []byte("a")}}
	b := []archive.File{{Name: "a.c", Data: []byte("a")}, {Name: "b.c", Data: []byte("b")}}

	first, _, err := pack(t, a, archive.Limits{})
	require.NoError(t, err)
	second, _, err := pack(t, b, archive.Limits{})
	require.NoError(t, err)

	assert.Equal(t, first, second)
}

func TestPackUnpacksZipMembers(t *testing.T) {
	upload := zipBytes(t,
		zipEntry{name: "lib/", mode: fs.ModeDir | 0o755},
		zipEntry{name: "main.c", data: "main"},
		zipEntry{name: "lib/x.c", data: "x"},
		zipEntry{name: "inner.zip", data: "kept as a file"},
	)
	files := []archive.File{
		{Name: "README.md", Data: []byte("readme")},
		{Name: "submission.ZIP", Data: upload},
		{Name: "sub/code.zip", Reader: bytes.NewReader(zipBytes(t, zipEntry{name: "main.c", data: "nested"}))},
	}

	packed, stats, err := pack(t, files, archive.Limits{})
	require.NoError(t, err)
	dir := t.TempDir()
	_, err = archive.Unpack(bytes.NewReader(packed), dir, archive.Limits{})
	require.NoError(t, err)

	assert.Equal(t, 5, stats.Files)
	assert.Equal(t, map[string]string{
		"README.md":  "readme",
		"main.c":     "main",
		"lib/":       "",
		"lib/x.c":    "x",
		"inner.zip":  "kept as a file",
		"sub/":       "",
		"sub/main.c": "nested",
	}, unpacked(t, dir))
}

func TestPackUnpacksTarGzMembers(t *testing.T) {
	global := tarEntry{hdr: archiveGlobalHeader()}
	files := []archive.File{
		{Name: "upload.tar.gz", Data: tarGz(t, global, dirEntry("./"), dirEntry("./src/"), reg("./src/a.py", "print(1)"))},
		{Name: "more/extra.tgz", Data: tarGz(t, reg("b.py", "print(2)"))},
	}

	packed, stats, err := pack(t, files, archive.Limits{})
	require.NoError(t, err)
	dir := t.TempDir()
	_, err = archive.Unpack(bytes.NewReader(packed), dir, archive.Limits{})
	require.NoError(t, err)

	assert.Equal(t, archive.Stats{Files: 2, Bytes: 16}, stats)
	assert.Equal(t, map[string]string{
		"src/":      "",
		"src/a.py":  "print(1)",
		"more/":     "",
		"more/b.py": "print(2)",
	}, unpacked(t, dir))
}

var unsafeNames = []string{
	"../x",
	"/etc/passwd",
	"a/../../b",
	"a/..",
	"..",
	"",
	".",
	"./",
	"a\x00b",
	"a\nb",
	`..\x`,
	"C:/Windows/x",
	strings.Repeat("d/", 600) + "f",
	strings.Repeat("n", 256),
	"\xff\xfe",
}

func TestPackRefusesUnsafeNames(t *testing.T) {
	for _, name := range unsafeNames {
		t.Run(name, func(t *testing.T) {
			_, _, err := pack(t, []archive.File{{Name: name, Data: []byte("x")}}, archive.Limits{})

			require.ErrorIs(t, err, archive.ErrUnsafePath)
		})
	}
}

func TestPackRefusesUnsafeNamesInsideZip(t *testing.T) {
	for _, name := range unsafeNames {
		if name == "" || name == "." || name == "./" {
			continue // not a file name a zip writer accepts as a file
		}
		t.Run(name, func(t *testing.T) {
			upload := zipBytes(t, zipEntry{name: name, data: "x"})

			_, _, err := pack(t, []archive.File{{Name: "up.zip", Data: upload}}, archive.Limits{})

			require.ErrorIs(t, err, archive.ErrUnsafePath)
		})
	}
}

func TestPackRefusesUnsafeNamesInsideTarGz(t *testing.T) {
	for _, name := range unsafeNames {
		if name == "./" || strings.ContainsRune(name, 0) {
			continue // the tar format cannot carry these as file names
		}
		t.Run(name, func(t *testing.T) {
			upload := tarGz(t, reg(name, "x"))

			_, _, err := pack(t, []archive.File{{Name: "up.tgz", Data: upload}}, archive.Limits{})

			require.ErrorIs(t, err, archive.ErrUnsafePath)
		})
	}
}

// TestPackRefusesMembersTooLongInTheirArchivesDirectory: a member name
// within the length limit can exceed it once the archive's directory is put
// in front; Pack must refuse it, not write an archive Unpack then refuses.
func TestPackRefusesMembersTooLongInTheirArchivesDirectory(t *testing.T) {
	dir := strings.Repeat("d", 200) + "/"
	member := strings.Repeat(strings.Repeat("m", 200)+"/", 4) + strings.Repeat("f", 200) // 1,004 bytes
	uploads := []archive.File{
		{Name: dir + "up.tar.gz", Data: tarGz(t, reg(member, "x"))},
		{Name: dir + "up.zip", Data: zipBytes(t, zipEntry{name: member, data: "x"})},
	}
	for _, upload := range uploads {
		t.Run(upload.Name[len(dir):], func(t *testing.T) {
			packed, _, err := pack(t, []archive.File{upload}, archive.Limits{})
			if err == nil {
				_, uerr := archive.Unpack(bytes.NewReader(packed), t.TempDir(), archive.Limits{})
				require.NoError(t, uerr, "Pack's own output must unpack")
			}

			require.ErrorIs(t, err, archive.ErrUnsafePath)
			assert.Contains(t, err.Error(), "name too long")
		})
	}
}

func TestPackRefusesDuplicatesAndConflicts(t *testing.T) {
	tests := []struct {
		name      string
		giveFiles []archive.File
	}{
		{name: "same name", giveFiles: []archive.File{{Name: "a.c"}, {Name: "a.c"}}},
		{name: "same after cleaning", giveFiles: []archive.File{{Name: "a.c"}, {Name: "./a.c"}}},
		{name: "file then directory", giveFiles: []archive.File{{Name: "a"}, {Name: "a/b"}}},
		{name: "directory then file", giveFiles: []archive.File{{Name: "a/b"}, {Name: "a"}}},
		{name: "zip entry repeats upload", giveFiles: []archive.File{
			{Name: "main.c"},
			{Name: "up.zip", Data: zipBytes(t, zipEntry{name: "main.c", data: "again"})},
		}},
		{name: "two archives collide", giveFiles: []archive.File{
			{Name: "one.tgz", Data: tarGz(t, reg("x", "1"))},
			{Name: "two.zip", Data: zipBytes(t, zipEntry{name: "x", data: "2"})},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := pack(t, tt.giveFiles, archive.Limits{})

			require.ErrorIs(t, err, archive.ErrUnsafePath)
		})
	}
}

func TestPackRefusesSpecialEntries(t *testing.T) {
	char := reg("dev", "")
	char.hdr.Typeflag = '3'
	hardlink := tarEntry{hdr: archiveLink("hard", "main.c")}
	tests := []struct {
		name       string
		giveUpload archive.File
	}{
		{name: "tar symlink", giveUpload: archive.File{Name: "a.tar.gz", Data: tarGz(t, symlink("link", "/etc/passwd"))}},
		{name: "tar hard link", giveUpload: archive.File{Name: "a.tar.gz", Data: tarGz(t, reg("main.c", "x"), hardlink)}},
		{name: "tar device", giveUpload: archive.File{Name: "a.tar.gz", Data: tarGz(t, char)}},
		{name: "zip symlink", giveUpload: archive.File{Name: "a.zip", Data: zipBytes(t, zipEntry{name: "link", data: "/etc/passwd", mode: fs.ModeSymlink | 0o777})}},
		{name: "zip device", giveUpload: archive.File{Name: "a.zip", Data: zipBytes(t, zipEntry{name: "dev", mode: fs.ModeDevice | 0o600})}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := pack(t, []archive.File{tt.giveUpload}, archive.Limits{})

			require.ErrorIs(t, err, archive.ErrUnsafePath)
		})
	}
}

func TestPackLimits(t *testing.T) {
	lim := archive.Limits{MaxFiles: 3, MaxTotalBytes: 100, MaxFileBytes: 60}
	many := make([]archive.File, 4)
	for i := range many {
		many[i] = archive.File{Name: string(rune('a' + i))}
	}
	manyInZip := make([]zipEntry, 4)
	for i := range manyInZip {
		manyInZip[i] = zipEntry{name: string(rune('a' + i))}
	}
	tests := []struct {
		name      string
		giveFiles []archive.File
	}{
		{name: "too many files", giveFiles: many},
		{name: "too many files in zip", giveFiles: []archive.File{{Name: "z.zip", Data: zipBytes(t, manyInZip...)}}},
		{name: "file too large", giveFiles: []archive.File{{Name: "big", Data: make([]byte, 61)}}},
		{name: "reader too large", giveFiles: []archive.File{{Name: "big", Reader: io.LimitReader(zeros{}, 1<<30)}}},
		{name: "total too large", giveFiles: []archive.File{{Name: "a", Data: make([]byte, 60)}, {Name: "b", Data: make([]byte, 41)}}},
		{name: "zip entry too large", giveFiles: []archive.File{{Name: "z.zip", Data: zipBytes(t, zipEntry{name: "a", data: strings.Repeat("x", 61)})}}},
		{name: "tar entry too large", giveFiles: []archive.File{{Name: "t.tgz", Data: tarGz(t, reg("a", strings.Repeat("x", 61)))}}},
		{name: "archive itself too large", giveFiles: []archive.File{{Name: "t.tgz", Data: make([]byte, 101)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := pack(t, tt.giveFiles, lim)

			require.ErrorIs(t, err, archive.ErrTooLarge)
		})
	}
}

func TestPackStopsZipBombAtCap(t *testing.T) {
	// 4 MiB of zeros deflates to a few KiB.
	bomb := zipBytes(t, zipEntry{name: "zeros", data: strings.Repeat("\x00", 4<<20)})
	require.Less(t, len(bomb), 64<<10)

	_, _, err := pack(t, []archive.File{{Name: "bomb.zip", Data: bomb}}, archive.Limits{MaxFileBytes: 256 << 10, MaxTotalBytes: 1 << 20})

	require.ErrorIs(t, err, archive.ErrTooLarge)
	assert.Contains(t, err.Error(), "larger than 262144 bytes")
}

func TestPackStopsZipBombThatUnderstatesItsSize(t *testing.T) {
	var compressed bytes.Buffer
	fw, err := flate.NewWriter(&compressed, flate.BestCompression)
	require.NoError(t, err)
	_, err = fw.Write(make([]byte, 4<<20))
	require.NoError(t, err)
	require.NoError(t, fw.Close())
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateRaw(&zip.FileHeader{
		Name:               "zeros",
		Method:             zip.Deflate,
		CompressedSize64:   uint64(compressed.Len()),
		UncompressedSize64: 100, // the lie
	})
	require.NoError(t, err)
	_, err = w.Write(compressed.Bytes())
	require.NoError(t, err)
	require.NoError(t, zw.Close())

	_, _, err = pack(t, []archive.File{{Name: "bomb.zip", Data: buf.Bytes()}}, archive.Limits{MaxFileBytes: 256 << 10, MaxTotalBytes: 1 << 20})

	require.ErrorIs(t, err, archive.ErrInvalidArchive, "reading stops as soon as the entry outgrows its header")
}

func TestPackStopsOverlappingZipBombAtTotal(t *testing.T) {
	entries := make([]zipEntry, 10)
	for i := range entries {
		entries[i] = zipEntry{name: string(rune('a' + i)), data: strings.Repeat("\x00", 256<<10)}
	}
	bomb := zipBytes(t, entries...)

	_, _, err := pack(t, []archive.File{{Name: "bomb.zip", Data: bomb}}, archive.Limits{MaxFileBytes: 512 << 10, MaxTotalBytes: 1 << 20})

	require.ErrorIs(t, err, archive.ErrTooLarge)
	assert.Contains(t, err.Error(), "total more than")
}

// TestPackRefusesZipEntriesSharingTheirData: entries pointing at the same
// compressed bytes would each be inflated in turn. Empty deflate blocks
// yield nothing for the limits to count, so a few MiB shared by 2,000
// entries would cost the API minutes of CPU; such a zip is malformed.
func TestPackRefusesZipEntriesSharingTheirData(t *testing.T) {
	bomb := sharedBodyZip(emptyDeflateBlocks(64<<10), 50)

	_, stats, err := pack(t, []archive.File{{Name: "bomb.zip", Data: bomb}}, archive.Limits{})

	require.ErrorIs(t, err, archive.ErrInvalidArchive, "packed %+v", stats)
	assert.Contains(t, err.Error(), "overlap")
}

// TestPackReadsABoundedZipDirectory: zip.NewReader keeps every central
// directory record in memory, at about five times its size on disk, before
// Pack can count them. A 64 MiB upload of minimal records took 364 MiB of
// heap; reading the directory is now capped by what the limits allow.
func TestPackReadsABoundedZipDirectory(t *testing.T) {
	records := sharedBodyZip(emptyDeflateBlocks(0), 300_000) // 16 MiB
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)

	_, _, err := pack(t, []archive.File{{Name: "records.zip", Data: records}}, archive.Limits{MaxFiles: 50})

	runtime.ReadMemStats(&after)
	require.ErrorIs(t, err, archive.ErrTooLarge)
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(8<<20), "bytes allocated while refusing the zip")

	// The cap leaves room for as many entries as the limits allow, each
	// with a name of the longest length allowed.
	var full []zipEntry
	for i := range 50 {
		dir := fmt.Sprintf("%03d/", i) + strings.Repeat(strings.Repeat("d", 200)+"/", 4)
		full = append(full, zipEntry{name: dir, mode: fs.ModeDir | 0o755})
		full = append(full, zipEntry{name: dir + strings.Repeat("f", 1024-len(dir)), data: "x"})
	}
	_, stats, err := pack(t, []archive.File{{Name: "full.zip", Data: zipBytes(t, full...)}}, archive.Limits{MaxFiles: 50})
	require.NoError(t, err)
	assert.Equal(t, 50, stats.Files)
}

func TestPackRefusesCorruptArchives(t *testing.T) {
	valid := tarGz(t, reg("a", strings.Repeat("data", 1000)))
	tests := []struct {
		name       string
		giveUpload archive.File
	}{
		{name: "garbage zip", giveUpload: archive.File{Name: "a.zip", Data: []byte("not a zip")}},
		{name: "empty zip", giveUpload: archive.File{Name: "a.zip"}},
		{name: "garbage tgz", giveUpload: archive.File{Name: "a.tgz", Data: []byte("not gzip")}},
		{name: "gzip of garbage", giveUpload: archive.File{Name: "a.tgz", Data: gz(t, bytes.Repeat([]byte("garbage!"), 200))}},
		{name: "truncated tgz", giveUpload: archive.File{Name: "a.tgz", Data: valid[:len(valid)/2]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := pack(t, []archive.File{tt.giveUpload}, archive.Limits{})

			require.ErrorIs(t, err, archive.ErrInvalidArchive)
		})
	}
}

func TestPackReportsReaderFailure(t *testing.T) {
	boom := errors.New("client went away")

	_, _, err := pack(t, []archive.File{{Name: "a", Reader: failingReader{err: boom}}}, archive.Limits{})

	require.ErrorIs(t, err, boom)
	assert.NotErrorIs(t, err, archive.ErrInvalidArchive)
}

func TestUnpackRefuses(t *testing.T) {
	lim := archive.Limits{MaxFiles: 3, MaxTotalBytes: 100, MaxFileBytes: 60}
	tests := []struct {
		name    string
		give    []byte
		wantErr error
	}{
		{name: "parent reference", give: tarGz(t, reg("../x", "evil")), wantErr: archive.ErrUnsafePath},
		{name: "absolute path", give: tarGz(t, reg("/etc/passwd", "evil")), wantErr: archive.ErrUnsafePath},
		{name: "escape after descent", give: tarGz(t, reg("a/../../b", "evil")), wantErr: archive.ErrUnsafePath},
		{name: "symlink entry", give: tarGz(t, symlink("link", "/etc")), wantErr: archive.ErrUnsafePath},
		{name: "symlink then write through it", give: tarGz(t, symlink("link", ".."), reg("link/x", "evil")), wantErr: archive.ErrUnsafePath},
		{name: "duplicate entry", give: tarGz(t, reg("a", "1"), reg("a", "2")), wantErr: archive.ErrUnsafePath},
		{name: "file over directory", give: tarGz(t, reg("a/b", "1"), reg("a", "2")), wantErr: archive.ErrUnsafePath},
		{name: "directory under file", give: tarGz(t, reg("a", "1"), dirEntry("a/b/")), wantErr: archive.ErrUnsafePath},
		{name: "too many files", give: tarGz(t, reg("a", ""), reg("b", ""), reg("c", ""), reg("d", "")), wantErr: archive.ErrTooLarge},
		{name: "too many directories", give: tarGz(t, dirEntry("a/"), dirEntry("b/"), dirEntry("c/"), dirEntry("d/")), wantErr: archive.ErrTooLarge},
		{name: "file too large", give: tarGz(t, reg("a", strings.Repeat("x", 61))), wantErr: archive.ErrTooLarge},
		{name: "too many bytes", give: tarGz(t, reg("a", strings.Repeat("x", 60)), reg("b", strings.Repeat("x", 41))), wantErr: archive.ErrTooLarge},
		{name: "not gzip", give: []byte("plain text"), wantErr: archive.ErrInvalidArchive},
		{name: "empty input", give: nil, wantErr: archive.ErrInvalidArchive},
		{name: "gzip of garbage", give: gz(t, bytes.Repeat([]byte("garbage!"), 200)), wantErr: archive.ErrInvalidArchive},
		{name: "truncated", give: truncated(tarGz(t, reg("a", strings.Repeat("x", 50)))), wantErr: archive.ErrInvalidArchive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "scratch")

			_, err := archive.Unpack(bytes.NewReader(tt.give), dir, lim)

			require.ErrorIs(t, err, tt.wantErr)
			assertOnlyScratch(t, parent)
		})
	}
}

func TestUnpackNeverFollowsExistingSymlinks(t *testing.T) {
	parent := t.TempDir()
	outside := filepath.Join(parent, "outside")
	require.NoError(t, os.Mkdir(outside, 0o755))
	dir := filepath.Join(parent, "scratch")
	require.NoError(t, os.Mkdir(dir, 0o755))
	require.NoError(t, os.Symlink(outside, filepath.Join(dir, "escape")))
	require.NoError(t, os.Symlink(filepath.Join(outside, "target"), filepath.Join(dir, "file")))

	_, errDir := archive.Unpack(bytes.NewReader(tarGz(t, reg("escape/x", "evil"))), dir, archive.Limits{})
	_, errFile := archive.Unpack(bytes.NewReader(tarGz(t, reg("file", "evil"))), dir, archive.Limits{})

	require.ErrorIs(t, errDir, archive.ErrUnsafePath)
	require.ErrorIs(t, errFile, archive.ErrUnsafePath)
	entries, err := os.ReadDir(outside)
	require.NoError(t, err)
	assert.Empty(t, entries, "nothing written through the links")
}

func TestUnpackReportsReaderFailure(t *testing.T) {
	boom := errors.New("blob read failed")
	packed := tarGz(t, reg("a", strings.Repeat("x", 5000)))
	r := io.MultiReader(bytes.NewReader(packed[:len(packed)/2]), failingReader{err: boom})

	_, err := archive.Unpack(r, t.TempDir(), archive.Limits{})

	require.ErrorIs(t, err, boom)
	assert.NotErrorIs(t, err, archive.ErrInvalidArchive)
}

func TestStopsEndlessHeadersAtStreamCap(t *testing.T) {
	// Global headers name no file, so only the cap on the decompressed
	// stream bounds how many an archive can hold.
	headers := make([]tarEntry, 200)
	for i := range headers {
		headers[i] = tarEntry{hdr: archiveGlobalHeader()}
	}
	upload := tarGz(t, headers...)
	lim := archive.Limits{MaxFiles: 1, MaxTotalBytes: 1, MaxFileBytes: 1}

	_, errUnpack := archive.Unpack(bytes.NewReader(upload), t.TempDir(), lim)
	_, _, errPack := pack(t, []archive.File{{Name: "a.tgz", Data: upload}}, archive.Limits{MaxFiles: 1, MaxTotalBytes: int64(len(upload)), MaxFileBytes: 1})

	require.ErrorIs(t, errUnpack, archive.ErrTooLarge)
	require.ErrorIs(t, errPack, archive.ErrTooLarge)
}

// assertOnlyScratch fails if anything but the scratch directory appeared in
// parent.
func assertOnlyScratch(t *testing.T, parent string) {
	t.Helper()
	entries, err := os.ReadDir(parent)
	require.NoError(t, err)
	for _, e := range entries {
		assert.Equal(t, "scratch", e.Name(), "nothing is written beside the target directory")
	}
	for name := range unpacked(t, parent) {
		assert.NotContains(t, name, "evil")
	}
}

func truncated(b []byte) []byte { return b[:len(b)-30] }

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

type failingReader struct{ err error }

func (f failingReader) Read([]byte) (int, error) { return 0, f.err }
