package configs_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gocloud.dev/blob"

	"github.com/zinc-edu/orchestrator/internal/archive"
	"github.com/zinc-edu/orchestrator/internal/configs"
	"github.com/zinc-edu/orchestrator/internal/definition"
	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/objectstore"
	"github.com/zinc-edu/orchestrator/internal/store"
	"github.com/zinc-edu/orchestrator/internal/store/storetest"
)

// checkerYAML declares one uploaded checker and one inline file.
const checkerYAML = `version: 2
name: sums
files:
  - name: checker.py
    source: upload
  - name: tests/in1.txt
    content: "1 2\n"
stages:
  - name: build
    kind: compile
    language: c
    sources: [main.c]
    output: main
  - name: judge
    kind: checker
    command: [./main]
    checker: {command: [python3, checker.py], files: [checker.py]}
    scenarios:
      - {name: one, stdin_file: tests/in1.txt, expected: "3"}
`

// archiveYAML takes its scenarios from an uploaded archive, and a second
// file from a zip.
const archiveYAML = `version: 2
name: from-archive
files:
  - {name: tests.tar.gz, source: upload}
  - {name: extra.zip, source: upload}
stages:
  - name: run
    command: [cat]
    compare: {tokens: true}
    scenarios_from: {glob: "tests/*.in", expected: "{dir}/{stem}.out", points: 1}
`

func newBucket(t *testing.T) *blob.Bucket {
	t.Helper()
	b, err := objectstore.Open(t.Context(), "mem://")
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// keys lists every object in the bucket, sorted.
func keys(t *testing.T, b *blob.Bucket) []string {
	t.Helper()
	var out []string
	it := b.List(nil)
	for {
		obj, err := it.Next(t.Context())
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		out = append(out, obj.Key)
	}
	slices.Sort(out)
	return out
}

func upload(name string, data []byte) configs.Upload {
	return configs.Upload{Name: name, Open: func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}}
}

type entry struct {
	name, content string
	typ           byte // tar type; 0 is a regular file
	link          string
}

func tarGzOf(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.content)), Typeflag: tar.TypeReg}
		if e.typ != 0 {
			h.Typeflag, h.Linkname, h.Size = e.typ, e.link, 0
		}
		require.NoError(t, tw.WriteHeader(h))
		_, err := io.WriteString(tw, e.content)
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	require.NoError(t, gz.Close())
	return buf.Bytes()
}

func zipOf(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		w, err := zw.Create(e.name)
		require.NoError(t, err)
		_, err = io.WriteString(w, e.content)
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

func read(t *testing.T, b *blob.Bucket, key string) string {
	t.Helper()
	got, err := b.ReadAll(t.Context(), key)
	require.NoError(t, err)
	return string(got)
}

// rows is the store, counting the config rows created through it.
type rows struct {
	*store.Store
	created int
}

func (r *rows) CreateConfig(ctx context.Context, cfg grading.Config) (grading.Config, error) {
	r.created++
	return r.Store.CreateConfig(ctx, cfg)
}

func TestSaveStoresTheConfigAndItsFiles(t *testing.T) {
	s, bucket := storetest.Open(t), newBucket(t)
	course, err := s.CreateCourse(t.Context(), grading.Course{Name: "C programming"})
	require.NoError(t, err)

	cfg, err := configs.Save(t.Context(), bucket, s, course.ID, []byte(checkerYAML),
		[]configs.Upload{upload("checker.py", []byte("print('ok')\n"))}, archive.Limits{})
	require.NoError(t, err)

	assert.NotEmpty(t, cfg.ID)
	assert.Equal(t, "sums", cfg.Name)
	assert.Equal(t, course.ID, cfg.Course)
	assert.Equal(t, checkerYAML, cfg.Source)
	stored, err := s.Config(t.Context(), cfg.ID)
	require.NoError(t, err)
	var def definition.Definition
	require.NoError(t, json.Unmarshal(stored.Parsed, &def), "parsed is the expanded definition")
	assert.Equal(t, "sums", def.Name)
	require.Len(t, def.Stages, 2)

	// Only uploads go to the bucket; inline files live in the definition.
	assert.Equal(t, []string{objectstore.ConfigAssetKey(cfg.ID, "checker.py")}, keys(t, bucket))
	assert.Equal(t, "print('ok')\n", read(t, bucket, objectstore.ConfigAssetKey(cfg.ID, "checker.py")))
}

func TestSaveUnpacksArchivesIntoAssignmentFiles(t *testing.T) {
	s, bucket := storetest.Open(t), newBucket(t)

	cfg, err := configs.Save(t.Context(), bucket, s, "", []byte(archiveYAML), []configs.Upload{
		upload("tests.tar.gz", tarGzOf(t,
			entry{name: "tests/10.in", content: "10"}, entry{name: "tests/10.out", content: "ten"},
			entry{name: "tests/2.in", content: "2"}, entry{name: "tests/2.out", content: "two"},
		)),
		upload("extra.zip", zipOf(t, entry{name: "lib/helper.py", content: "pass"})),
	}, archive.Limits{})
	require.NoError(t, err)

	want := []string{}
	for _, name := range []string{"lib/helper.py", "tests/10.in", "tests/10.out", "tests/2.in", "tests/2.out"} {
		want = append(want, objectstore.ConfigAssetKey(cfg.ID, name))
	}
	slices.Sort(want)
	assert.Equal(t, want, keys(t, bucket), "the archives' files are stored, not the archives")
	assert.Equal(t, "ten", read(t, bucket, objectstore.ConfigAssetKey(cfg.ID, "tests/10.out")))
	assert.Equal(t, "pass", read(t, bucket, objectstore.ConfigAssetKey(cfg.ID, "lib/helper.py")))

	stored, err := s.Config(t.Context(), cfg.ID)
	require.NoError(t, err)
	var def definition.Definition
	require.NoError(t, json.Unmarshal(stored.Parsed, &def))
	require.Len(t, def.Stages, 1)
	sc := def.Stages[0].Scenarios
	require.Len(t, sc, 2, "scenarios_from expanded over the archive's files")
	assert.Equal(t, "2", sc[0].Name, "natural order: 2 before 10")
	assert.Equal(t, "10", sc[1].Name)
	assert.Equal(t, "tests/10.out", sc[1].Expected.File)
}

// TestSaveKeepsAnArchiveInsideAnArchiveAsAFile: a zip among an assignment
// archive's files is stored as it is, and scenarios_from still expands;
// it once stayed unexpanded, leaving a stage with no scenarios and no
// points in the stored config.
func TestSaveKeepsAnArchiveInsideAnArchiveAsAFile(t *testing.T) {
	s, bucket := storetest.Open(t), newBucket(t)
	inner := zipOf(t, entry{name: "x", content: "x"})

	cfg, err := configs.Save(t.Context(), bucket, s, "", []byte(archiveYAML), []configs.Upload{
		upload("tests.tar.gz", tarGzOf(t,
			entry{name: "tests/1.in", content: "1"}, entry{name: "tests/1.out", content: "one"},
			entry{name: "data/inner.zip", content: string(inner)},
		)),
		upload("extra.zip", zipOf(t, entry{name: "lib/helper.py", content: "pass"})),
	}, archive.Limits{})
	require.NoError(t, err)

	assert.Equal(t, string(inner), read(t, bucket, objectstore.ConfigAssetKey(cfg.ID, "data/inner.zip")))
	stored, err := s.Config(t.Context(), cfg.ID)
	require.NoError(t, err)
	var def definition.Definition
	require.NoError(t, json.Unmarshal(stored.Parsed, &def))
	assert.Nil(t, def.Stages[0].ScenariosFrom)
	require.Len(t, def.Stages[0].Scenarios, 1)
	assert.Equal(t, "tests/1.out", def.Stages[0].Scenarios[0].Expected.File)
	assert.Equal(t, 1.0, def.MaxScore())
}

// TestSaveRefusesAnInvalidDefinition: problems come back with the path of
// what is wrong, and nothing is stored.
func TestSaveRefusesAnInvalidDefinition(t *testing.T) {
	tests := []struct {
		name     string
		give     string
		uploads  []configs.Upload
		wantPath string
		wantMsg  string
	}{
		{
			// A syntax error has no path yet: it names its line.
			name: "not yaml", give: "version: 2\nstages: [\n",
			wantMsg: "invalid YAML: line 2",
		},
		{
			name: "wrong type", give: "version: 2\nname: x\nstages:\n  - name: run\n    command: [\"true\"]\n    timeout: [1]\n",
			wantPath: "stages[0].timeout", wantMsg: "must be a duration",
		},
		{
			name: "empty command", give: "version: 2\nname: x\nstages:\n  - name: run\n    command: []\n",
			wantPath: "stages[0].command", wantMsg: "must not be empty",
		},
		{
			name: "unknown version", give: "version: 7\nname: x\nstages:\n  - name: run\n    command: [\"true\"]\n",
			wantPath: "version", wantMsg: "unsupported version 7",
		},
		{
			name: "upload missing", give: checkerYAML,
			wantPath: "files[0].source", wantMsg: `file "checker.py" has source: upload but was not uploaded`,
		},
		{
			name: "upload not declared", give: checkerYAML,
			uploads: []configs.Upload{upload("checker.py", []byte("x")), upload("extra.txt", []byte("x"))},
			wantMsg: `file "extra.txt" is uploaded but the definition declares no file of that name`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, bucket := &rows{Store: storetest.Open(t)}, newBucket(t)

			_, err := configs.Save(t.Context(), bucket, s, "", []byte(tt.give), tt.uploads, archive.Limits{})

			var verr *definition.ValidationError
			require.ErrorAs(t, err, &verr)
			require.NotEmpty(t, verr.Problems)
			found := slices.ContainsFunc(verr.Problems, func(p definition.Problem) bool {
				return p.Path == tt.wantPath && strings.Contains(strings.ToLower(p.Message), strings.ToLower(tt.wantMsg))
			})
			assert.True(t, found, "want %s: …%s… in %v", tt.wantPath, tt.wantMsg, verr.Problems)
			assert.Empty(t, keys(t, bucket))
			assert.Zero(t, s.created, "no config row")
		})
	}
}

// TestSaveRefusesUnsafeOrOversizeArchives: an assignment archive is held to
// the delivery rules; a refused one leaves nothing behind.
func TestSaveRefusesUnsafeOrOversizeArchives(t *testing.T) {
	big := strings.Repeat("x", 4096)
	tests := []struct {
		name    string
		tests   func(t *testing.T) []byte
		limits  archive.Limits
		wantErr error
	}{
		{"path escapes", func(t *testing.T) []byte {
			return tarGzOf(t, entry{name: "../evil.in", content: "x"})
		}, archive.Limits{}, archive.ErrUnsafePath},
		{"absolute path", func(t *testing.T) []byte {
			return tarGzOf(t, entry{name: "/etc/evil.in", content: "x"})
		}, archive.Limits{}, archive.ErrUnsafePath},
		{"symlink out", func(t *testing.T) []byte {
			return tarGzOf(t, entry{name: "tests/1.in", typ: tar.TypeSymlink, link: "/etc/passwd"})
		}, archive.Limits{}, archive.ErrUnsafePath},
		{"file too large", func(t *testing.T) []byte {
			return tarGzOf(t, entry{name: "tests/1.in", content: big})
		}, archive.Limits{MaxFileBytes: 1024}, archive.ErrTooLarge},
		{"too much in all", func(t *testing.T) []byte {
			return tarGzOf(t, entry{name: "tests/1.in", content: big}, entry{name: "tests/1.out", content: big})
		}, archive.Limits{MaxTotalBytes: 6000}, archive.ErrTooLarge},
		{"too many files", func(t *testing.T) []byte {
			return tarGzOf(t, entry{name: "tests/1.in"}, entry{name: "tests/1.out"}, entry{name: "tests/2.in"})
		}, archive.Limits{MaxFiles: 2}, archive.ErrTooLarge},
		{"not an archive", func(*testing.T) []byte { return []byte("plain text") }, archive.Limits{}, archive.ErrInvalidArchive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, bucket := &rows{Store: storetest.Open(t)}, newBucket(t)

			_, err := configs.Save(t.Context(), bucket, s, "", []byte(archiveYAML), []configs.Upload{
				upload("tests.tar.gz", tt.tests(t)),
				upload("extra.zip", zipOf(t, entry{name: "lib/helper.py", content: "pass"})),
			}, tt.limits)

			require.ErrorIs(t, err, tt.wantErr)
			assert.Contains(t, err.Error(), `assignment archive "tests.tar.gz"`)
			assert.Empty(t, keys(t, bucket))
			assert.Zero(t, s.created, "no config row")
		})
	}
}

// TestSaveRefusesAFileThatIsAlsoADirectory: two archives, or an archive
// and an inline file, may give one name to a file and to the directory of
// another. The config is refused as invalid, with nothing stored, instead
// of failing in a file-system bucket or in every grading run.
func TestSaveRefusesAFileThatIsAlsoADirectory(t *testing.T) {
	s, bucket := &rows{Store: storetest.Open(t)}, newBucket(t)

	_, err := configs.Save(t.Context(), bucket, s, "", []byte(archiveYAML), []configs.Upload{
		upload("tests.tar.gz", tarGzOf(t, entry{name: "tests/1.in", content: "1"}, entry{name: "tests/1.out", content: "1"})),
		upload("extra.zip", zipOf(t, entry{name: "tests/1.in/x", content: "x"})),
	}, archive.Limits{})

	var verr *definition.ValidationError
	require.ErrorAs(t, err, &verr)
	assert.Contains(t, verr.Error(), `"tests/1.in" is also the directory of "tests/1.in/x"`)
	assert.Empty(t, keys(t, bucket))
	assert.Zero(t, s.created, "no config row")
}

// TestSaveHoldsAllArchivesToOneBudget: the limits bound what a config's
// archives hold together, not each archive alone. Each once had the whole
// budget, so a 64 MiB request of a thousand small zip bombs became 64 GiB
// of temporary files, of bucket objects, and of every grading worker's
// memory (it reads all assignment files for each delivery).
func TestSaveHoldsAllArchivesToOneBudget(t *testing.T) {
	big := strings.Repeat("x", 4096)
	tests := []struct {
		name   string
		limits archive.Limits
		want   string
	}{
		{"bytes", archive.Limits{MaxTotalBytes: 10000}, "more than 10000 bytes"},
		{"files", archive.Limits{MaxFiles: 2}, "more than 2 files"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, bucket := &rows{Store: storetest.Open(t)}, newBucket(t)

			_, err := configs.Save(t.Context(), bucket, s, "", []byte(archiveYAML), []configs.Upload{
				upload("tests.tar.gz", tarGzOf(t, entry{name: "tests/1.in", content: big}, entry{name: "tests/1.out", content: big})),
				upload("extra.zip", zipOf(t, entry{name: "lib/helper.py", content: big})),
			}, tt.limits)

			require.ErrorIs(t, err, archive.ErrTooLarge)
			assert.Contains(t, err.Error(), `assignment archives up to "extra.zip" together`)
			assert.Contains(t, err.Error(), tt.want)
			assert.Empty(t, keys(t, bucket))
			assert.Zero(t, s.created, "no config row")
		})
	}
}

// failingRows refuses every config row.
type failingRows struct{}

func (failingRows) CreateConfig(context.Context, grading.Config) (grading.Config, error) {
	return grading.Config{}, errors.New("database is down")
}

func (failingRows) Environment(_ context.Context, name string) (grading.Environment, error) {
	return grading.Environment{}, fmt.Errorf("environment %s: %w", name, grading.ErrNotFound)
}

// TestSaveRemovesFilesWhenTheRowFails: the bucket keeps no orphaned files.
func TestSaveRemovesFilesWhenTheRowFails(t *testing.T) {
	bucket := newBucket(t)

	_, err := configs.Save(t.Context(), bucket, failingRows{}, "", []byte(checkerYAML),
		[]configs.Upload{upload("checker.py", []byte("print('ok')\n"))}, archive.Limits{})

	require.ErrorContains(t, err, "database is down")
	assert.Empty(t, keys(t, bucket))
}

const environmentYAML = `version: 1
environment: {image: tiny}
stages:
  - {name: run, command: [calc, main.txt], stdin: "1 2\n", expected_stdout: "3\n", points: 1}
`

// A config naming an environment keeps the digest of the image the name
// had when the config was stored.
func TestSaveResolvesTheEnvironmentToItsDigest(t *testing.T) {
	s, bucket := storetest.Open(t), newBucket(t)
	digest := "sha256:" + strings.Repeat("c", 64)
	_, err := s.CreateEnvironment(t.Context(), grading.Environment{Name: "tiny", Digest: digest, ManifestDigest: digest, ObjectKey: "k"})
	require.NoError(t, err)

	cfg, err := configs.Save(t.Context(), bucket, s, "", []byte(environmentYAML), nil, archive.Limits{})
	require.NoError(t, err)

	var def definition.Definition
	require.NoError(t, json.Unmarshal(cfg.Parsed, &def))
	assert.Equal(t, &definition.Environment{Image: "tiny", Digest: digest}, def.Environment)
	assert.Equal(t, environmentYAML, cfg.Source, "the source stays as written")
}

func TestSaveRefusesAnUnknownEnvironment(t *testing.T) {
	s, bucket := storetest.Open(t), newBucket(t)
	r := &rows{Store: s}

	_, err := configs.Save(t.Context(), bucket, r, "", []byte(environmentYAML), nil, archive.Limits{})

	var verr *definition.ValidationError
	require.ErrorAs(t, err, &verr)
	assert.Equal(t, []definition.Problem{{
		Path: "environment.image", Message: `unknown environment "tiny" (upload it with POST /v1/environments)`,
	}}, verr.Problems)
	assert.Zero(t, r.created)
}
