package api

import (
	"errors"
	"mime"
	"mime/multipart"
	"net/http"

	"github.com/zinc-edu/orchestrator/internal/api/reqbody"
)

// multipartMemory is how much of a multipart form's files is kept in
// memory; the rest is spooled to temporary files that Form.RemoveAll
// deletes.
const multipartMemory = 256 << 10

// decodeJSON is reqbody.DecodeJSON with refusals as requestErrors.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	return refused(reqbody.DecodeJSON(w, r, limit, v))
}

// isMultipart reports whether the request body is multipart/form-data.
func isMultipart(r *http.Request) bool { return reqbody.IsMultipart(r) }

// readMultipart is reqbody.ReadMultipart with refusals as requestErrors.
// The caller must call RemoveAll on the form.
func readMultipart(w http.ResponseWriter, r *http.Request, limit, memory int64, allowed ...string) (*multipart.Form, error) {
	form, err := reqbody.ReadMultipart(w, r, limit, memory, allowed...)
	return form, refused(err)
}

// refused turns a body reqbody refused into a requestError (400); other
// errors, an oversize body among them, pass unchanged.
func refused(err error) error {
	if e, ok := errors.AsType[*reqbody.Error](err); ok {
		return &requestError{msg: e.Msg}
	}
	return err
}

// upload is one file part of a multipart form.
type upload struct {
	// name is the path the client gave, directories included.
	name string
	file *multipart.FileHeader
}

// formFiles returns the file parts of a field. A part of that field sent
// without a filename is a bad request.
func formFiles(form *multipart.Form, field string) ([]upload, error) {
	if len(form.Value[field]) > 0 {
		return nil, badRequest("every %q part must be a file with a filename", field)
	}
	out := make([]upload, 0, len(form.File[field]))
	for _, fh := range form.File[field] {
		out = append(out, upload{name: rawFilename(fh), file: fh})
	}
	return out, nil
}

// rawFilename returns the filename exactly as the client sent it.
// multipart keeps only its last element (RFC 7578 §4.2), but a delivery
// keeps its directories, and a ".." or absolute name must reach the archive
// rules to be refused rather than be silently flattened.
func rawFilename(fh *multipart.FileHeader) string {
	_, params, err := mime.ParseMediaType(fh.Header.Get("Content-Disposition"))
	if err != nil || params["filename"] == "" {
		return fh.Filename
	}
	return params["filename"]
}

// formValue returns the single value of a text field, or "" and false when
// it is absent; a repeated field is a bad request.
func formValue(form *multipart.Form, field string) (string, bool, error) {
	vs := form.Value[field]
	switch len(vs) {
	case 0:
		return "", false, nil
	case 1:
		return vs[0], true, nil
	}
	return "", false, badRequest("field %q is given %d times; want once", field, len(vs))
}
