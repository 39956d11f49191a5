package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/archive"
	"github.com/zinc-edu/orchestrator/internal/events"
	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/objectstore"
	"github.com/zinc-edu/orchestrator/internal/store"
	"github.com/zinc-edu/orchestrator/internal/store/storetest"
)

// unpacked reads back the files of a stored delivery.
func (e *env) unpacked(key string) map[string]string {
	e.t.Helper()
	data, err := e.bucket.ReadAll(e.t.Context(), key)
	require.NoError(e.t, err)
	dir := e.t.TempDir()
	_, err = archive.Unpack(bytes.NewReader(data), dir, archive.Limits{})
	require.NoError(e.t, err)
	files := map[string]string{}
	require.NoError(e.t, filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		files[filepath.ToSlash(rel)] = string(b)
		return err
	}))
	return files
}

func TestCreateDelivery(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		e := newEnvOn(t, s)
		c := e.newCollection(grading.Collection{})
		body, ct := multipartBody(t,
			textPart("user", "ada"),
			filePart("main.c", []byte("int main(void) { return 0; }\n")),
			filePart("src/util.h", []byte("#pragma once\n")),
			filePart("lib/extra.zip", zipOf(t, map[string]string{"a/one.txt": "1", "two.txt": "2"})),
			filePart("tests.tar.gz", tarGzOf(t, map[string]string{"t/in.txt": "in"})),
		)
		r := e.do(http.MethodPost, "/v1/collections/"+c.ID+"/deliveries", body, ct)
		require.Equal(t, http.StatusCreated, r.code, "body: %s", r.body)
		got := decode[deliveryResponse](t, r)
		require.NotEmpty(t, got.ID)
		assert.Equal(t, c.ID, got.CollectionID)
		assert.Equal(t, "ada", got.User)
		assert.Equal(t, 5, got.Files)
		assert.Equal(t, objectstore.DeliveryKey(got.ID), got.ObjectKey)

		data, err := e.bucket.ReadAll(t.Context(), got.ObjectKey)
		require.NoError(t, err)
		sum := sha256.Sum256(data)
		assert.Equal(t, hex.EncodeToString(sum[:]), got.Checksum)
		assert.Equal(t, int64(len(data)), got.Size)
		assert.Equal(t, map[string]string{
			"main.c":        "int main(void) { return 0; }\n",
			"src/util.h":    "#pragma once\n",
			"lib/a/one.txt": "1",
			"lib/two.txt":   "2",
			"t/in.txt":      "in",
		}, e.unpacked(got.ObjectKey))

		stored, err := s.Delivery(t.Context(), got.ID)
		require.NoError(t, err)
		assert.Equal(t, got.Delivery, stored)

		// The row's event waits in the outbox, written in the row's
		// transaction, for the relay to publish it.
		pending, err := s.PendingEvents(t.Context(), 10)
		require.NoError(t, err)
		require.Len(t, pending, 1)
		assert.Equal(t, events.SubjectDeliveryCreated, pending[0].Subject)
		var ev events.DeliveryCreated
		require.NoError(t, json.Unmarshal(pending[0].Payload, &ev))
		assert.Equal(t, events.NewDeliveryCreated(got.Delivery), ev)
	})
}

// readSpy is a request body that records whether anyone read it.
type readSpy struct{ read atomic.Bool }

func (r *readSpy) Read([]byte) (int, error) {
	r.read.Store(true)
	return 0, errors.New("the body should not be read")
}

func TestCreateDeliveryUnknownCollectionFailsBeforeReadingFiles(t *testing.T) {
	e := newEnv(t)
	spy := &readSpy{}
	r := e.do(http.MethodPost, "/v1/collections/nope/deliveries", spy, "multipart/form-data; boundary=x")
	requireError(t, r, http.StatusNotFound, "collection nope: not found")
	assert.False(t, spy.read.Load())
	e.requireNothingWritten()
}

func TestCreateDeliveryRefusesBadInput(t *testing.T) {
	hello := []byte("hello\n")
	tests := []struct {
		name       string
		giveParts  []part
		wantStatus int
		wantError  string
	}{
		{"no user", []part{filePart("a.c", hello)}, 400, "user is required"},
		{"empty user", []part{textPart("user", ""), filePart("a.c", hello)}, 400, "user is required"},
		{"user twice", []part{textPart("user", "a"), textPart("user", "b"), filePart("a.c", hello)}, 400, `field "user" is given 2 times`},
		{"long user", []part{textPart("user", strings.Repeat("u", 201)), filePart("a.c", hello)}, 400, "user is longer than 200 characters"},
		{"control character", []part{textPart("user", "ada\nlovelace"), filePart("a.c", hello)}, 400, "user contains control characters"},
		{"invalid UTF-8", []part{textPart("user", "ada\xff"), filePart("a.c", hello)}, 400, "user is not valid UTF-8"},
		{"no files", []part{textPart("user", "ada")}, 400, `at least one "files" part is required`},
		{"files without filename", []part{textPart("user", "ada"), textPart("files", "x")}, 400, `every "files" part must be a file`},
		{"unknown field", []part{textPart("user", "ada"), textPart("comment", "hi"), filePart("a.c", hello)}, 400, `unknown form field "comment"`},
		{"dot-dot", []part{textPart("user", "ada"), filePart("../etc/passwd", hello)}, 400, "unsafe path"},
		{"nested dot-dot", []part{textPart("user", "ada"), filePart("a/../../b", hello)}, 400, "unsafe path"},
		{"absolute", []part{textPart("user", "ada"), filePart("/etc/passwd", hello)}, 400, "unsafe path"},
		{"duplicate", []part{textPart("user", "ada"), filePart("a.c", hello), filePart("a.c", hello)}, 400, "unsafe path"},
		{"zip escaping", []part{textPart("user", "ada"), filePart("x.zip", zipOf(t, map[string]string{"../evil": "x"}))}, 400, "unsafe path"},
		{"tar.gz escaping", []part{textPart("user", "ada"), filePart("x.tar.gz", tarGzOf(t, map[string]string{"/abs": "x"}))}, 400, "unsafe path"},
		{"corrupt zip", []part{textPart("user", "ada"), filePart("x.zip", []byte("not a zip"))}, 400, "invalid archive"},
		{"corrupt tar.gz", []part{textPart("user", "ada"), filePart("x.tar.gz", []byte("not gzip"))}, 400, "invalid archive"},
		{"archive too large", []part{textPart("user", "ada"), filePart("x.zip", zipOf(t, map[string]string{"big": strings.Repeat("0", 5000)}))}, 413, "too large"},
		{"too many files", []part{textPart("user", "ada"), filePart("a", hello), filePart("b", hello), filePart("c", hello), filePart("d", hello)}, 413, "too large"},
		{"body too large", []part{textPart("user", "ada"), filePart("a.c", bytes.Repeat([]byte("x"), 40<<10))}, 413, "request body is larger than 32768 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(p *Params) {
				p.Config.MaxUploadBytes = 32 << 10
				p.Archive = archive.Limits{MaxFiles: 3, MaxTotalBytes: 4096, MaxFileBytes: 4096}
			})
			c := e.newCollection(grading.Collection{})
			body, ct := multipartBody(t, tt.giveParts...)
			r := e.do(http.MethodPost, "/v1/collections/"+c.ID+"/deliveries", body, ct)
			requireError(t, r, tt.wantStatus, tt.wantError)
			e.requireNothingWritten()
		})
	}
}

func TestCreateDeliveryRefusesOtherBodies(t *testing.T) {
	e := newEnv(t)
	c := e.newCollection(grading.Collection{})
	target := "/v1/collections/" + c.ID + "/deliveries"

	r := e.doJSON(http.MethodPost, target, `{"user": "ada"}`)
	requireError(t, r, http.StatusBadRequest, "want a multipart/form-data body")

	r = e.do(http.MethodPost, target, strings.NewReader("--x\r\ngarbage"), "multipart/form-data; boundary=x")
	requireError(t, r, http.StatusBadRequest, "malformed multipart body")
	e.requireNothingWritten()
}

func TestCreateDeliveryRemovesBlobWhenRowFails(t *testing.T) {
	failing := &failingStore{err: errors.New("disk full"), failCreateOnly: true}
	e := newEnv(t, func(p *Params) { failing.Store = p.Store; p.Store = failing })
	c := e.newCollection(grading.Collection{})
	body, ct := multipartBody(t, textPart("user", "ada"), filePart("a.c", []byte("x")))
	r := e.do(http.MethodPost, "/v1/collections/"+c.ID+"/deliveries", body, ct)
	requireError(t, r, http.StatusInternalServerError, "internal error")
	e.requireNothingWritten()
	assert.Len(t, e.logs.lines(t, "request failed"), 1)
}

func TestCreateDeliveryStoresNothingWhenItsEventCannotBeWritten(t *testing.T) {
	e := newEnv(t)
	c := e.newCollection(grading.Collection{})
	e.events.mu.Lock()
	e.events.err = errors.New("encoder broken")
	e.events.mu.Unlock()
	body, ct := multipartBody(t, textPart("user", "ada"), filePart("a.c", []byte("x")))
	r := e.do(http.MethodPost, "/v1/collections/"+c.ID+"/deliveries", body, ct)
	require.Equal(t, http.StatusInternalServerError, r.code, "body: %s", r.body)
	assert.Zero(t, e.count("delivery"), "the row goes only with its event")
	assert.Zero(t, e.count("event_outbox"))
	assert.Empty(t, e.keys(), "the packed files are removed again")
}

func TestCreateDeliveryStreamsLargeUploadsThroughDisk(t *testing.T) {
	// Above the form's memory the upload spools to temporary files; the
	// result must be the same, and the files must be gone afterwards.
	spool := t.TempDir()
	t.Setenv("TMPDIR", spool)
	e := newEnv(t)
	e.server.formMemory = 1 << 10
	c := e.newCollection(grading.Collection{})
	big := bytes.Repeat([]byte("0123456789abcdef"), 4<<10)
	body, ct := multipartBody(t, textPart("user", "ada"), filePart("big.bin", big))
	r := e.do(http.MethodPost, "/v1/collections/"+c.ID+"/deliveries", body, ct)
	require.Equal(t, http.StatusCreated, r.code, "body: %s", r.body)
	got := decode[deliveryResponse](t, r)
	files := e.unpacked(got.ObjectKey)
	require.Contains(t, files, "big.bin")
	assert.Equal(t, len(big), len(files["big.bin"]))
	assert.True(t, bytes.Equal(big, []byte(files["big.bin"])))
	left, err := os.ReadDir(spool)
	require.NoError(t, err)
	assert.Empty(t, left, "spooled parts are removed")
}

// TestCreateDeliveryRefusesArchiveBombs sends small archives that expand
// beyond the default limits: more bytes than a delivery may hold, and more
// entries. Both are refused with 413 and a JSON error, and nothing is kept.
func TestCreateDeliveryRefusesArchiveBombs(t *testing.T) {
	zeros := strings.Repeat("\x00", 16<<20)
	bomb := zipOf(t, map[string]string{"a": zeros, "b": zeros, "c": zeros, "d": zeros, "e": zeros})
	require.Less(t, len(bomb), 1<<20, "the bomb is small")
	many := map[string]string{}
	for i := range archive.DefaultLimits().MaxFiles*2 + 1 {
		many[fmt.Sprintf("f%05d", i)] = ""
	}
	tests := []struct {
		name      string
		giveFile  part
		wantError string
	}{
		{"zip bomb", filePart("bomb.zip", bomb), "files total more than 67108864 bytes"},
		{"tar.gz bomb", filePart("bomb.tar.gz", tarGzOf(t, map[string]string{"a": zeros, "b": zeros, "c": zeros, "d": zeros, "e": zeros})), "files total more than 67108864 bytes"},
		{"too many entries", filePart("many.zip", zipOf(t, many)), "zip holds 4001 entries, more than 4000"},
		{"too many files", filePart("many.tar.gz", tarGzOf(t, many)), "more than 2000 files"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			c := e.newCollection(grading.Collection{})
			body, ct := multipartBody(t, textPart("user", "ada"), tt.giveFile)
			r := e.do(http.MethodPost, "/v1/collections/"+c.ID+"/deliveries", body, ct)
			requireError(t, r, http.StatusRequestEntityTooLarge, tt.wantError)
			e.requireNothingWritten()
		})
	}
}
