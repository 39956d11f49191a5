package reqbody_test

import (
	"bytes"
	"errors"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/zinc-edu/orchestrator/internal/api/reqbody"
)

// fuzzBodyLimit keeps the fuzzed bodies' limit small enough to be reached.
const fuzzBodyLimit = 4 << 10

// clientError reports whether err is one the API answers with a 4xx: a
// refusal (400) or an oversize body (413).
func clientError(err error) bool {
	var refused *reqbody.Error
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &refused):
		return refused.Msg != ""
	case errors.As(err, &tooBig), errors.Is(err, multipart.ErrMessageTooLarge):
		return true
	}
	return false
}

// The shapes of the API's JSON request bodies: strings, lists, numbers,
// pointers and times.
type (
	collectionRequest struct {
		Name   string `json:"name"`
		Course string `json:"course"`
	}
	keyRequest struct {
		Name      string     `json:"name"`
		Role      string     `json:"role"`
		Courses   []string   `json:"courses"`
		User      string     `json:"user"`
		ExpiresAt *time.Time `json:"expires_at"`
	}
	patchRequest struct {
		Concurrency *int `json:"concurrency"`
	}
	startRequest struct {
		CollectionID string            `json:"collection_id"`
		ConfigID     string            `json:"config_id"`
		Labels       map[string]string `json:"labels"`
		Weight       float64           `json:"weight"`
	}
)

// FuzzDecodeJSON feeds arbitrary bodies to the strict JSON decoder of every
// JSON endpoint: whatever the body, the answer is a value or a client error,
// never a panic or an unexplained failure.
func FuzzDecodeJSON(f *testing.F) {
	for _, seed := range []string{
		`{"name":"lab","course":"c1"}`,
		`{"name":"k","role":"student","courses":["c1"],"user":"ada","expires_at":"2030-01-01T00:00:00Z"}`,
		`{"collection_id":"a","config_id":"b","labels":{"x":"y"},"weight":1.5}`,
		`{"concurrency":3}`,
		`{"name":1}`, `[]`, `null`, `{"a":`, `{} {}`, `{"name":"x","extra":true}`, "",
		`{"expires_at":"tomorrow"}`, `{"courses":[1,2]}`, "\xff\xfe", `{"concurrency":1e400}`,
	} {
		f.Add([]byte(seed))
	}
	targets := []func() any{
		func() any { return new(collectionRequest) },
		func() any { return new(keyRequest) },
		func() any { return new(patchRequest) },
		func() any { return new(startRequest) },
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, target := range targets {
			v := target()
			r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
			err := reqbody.DecodeJSON(httptest.NewRecorder(), r, fuzzBodyLimit, v)
			if err != nil && !clientError(err) {
				t.Fatalf("body %q into %T: unexplained error %v", body, v, err)
			}
		}
	})
}

// multipartSeed is a form of parts under the boundary "B".
func multipartSeed(parts ...[3]string) []byte {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if err := mw.SetBoundary("B"); err != nil {
		panic(err)
	}
	for _, p := range parts {
		field, filename, data := p[0], p[1], p[2]
		var w interface{ Write([]byte) (int, error) }
		var err error
		if filename == "" {
			w, err = mw.CreateFormField(field)
		} else {
			w, err = mw.CreateFormFile(field, filename)
		}
		if err != nil {
			panic(err)
		}
		_, _ = w.Write([]byte(data))
	}
	_ = mw.Close()
	return buf.Bytes()
}

// FuzzReadMultipart feeds arbitrary multipart bodies (under a fixed
// boundary) to the form reader uploads use: the answer is a form holding
// only the allowed fields, whose files open, or a client error; temporary
// files are removed.
func FuzzReadMultipart(f *testing.F) {
	f.Add(multipartSeed([3]string{"user", "", "ada"}, [3]string{"files", "main.c", "int main(){}\n"}))
	f.Add(multipartSeed([3]string{"user", "", "ada"}, [3]string{"user", "", "bob"}))
	f.Add(multipartSeed([3]string{"comment", "", "x"}))
	f.Add(multipartSeed([3]string{"files", "../x", "x"}, [3]string{"files", "a/b.c", string(bytes.Repeat([]byte("y"), 2000))}))
	f.Add([]byte("--B\r\ngarbage"))
	f.Add([]byte("--B--\r\n"))
	f.Add([]byte(""))
	allowed := map[string]bool{"user": true, "files": true}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		r.Header.Set("Content-Type", "multipart/form-data; boundary=B")
		form, err := reqbody.ReadMultipart(httptest.NewRecorder(), r, fuzzBodyLimit, 512, "user", "files")
		if err != nil {
			if !clientError(err) {
				t.Fatalf("body %q: unexplained error %v", body, err)
			}
			return
		}
		defer func() {
			if err := form.RemoveAll(); err != nil {
				t.Fatal(err)
			}
		}()
		for name := range form.Value {
			if !allowed[name] {
				t.Fatalf("field %q passed", name)
			}
		}
		for name, fhs := range form.File {
			if !allowed[name] {
				t.Fatalf("file field %q passed", name)
			}
			for _, fh := range fhs {
				file, err := fh.Open()
				if err != nil {
					t.Fatal(fmt.Errorf("open %q: %w", fh.Filename, err))
				}
				_ = file.Close()
			}
		}
	})
}
