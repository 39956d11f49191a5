// Package reqbody decodes request bodies for the API: one strict JSON
// value, or a multipart form spooled to temporary files. It knows nothing
// of routes or statuses: refused input is an *Error (the API answers 400),
// an oversize body an *http.MaxBytesError or multipart.ErrMessageTooLarge
// (413). Kept apart from the API so its fuzz targets build quickly.
package reqbody

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"reflect"
	"slices"
	"strings"
)

// Error is a body refused as written.
type Error struct {
	Msg string
}

func (e *Error) Error() string { return e.Msg }

func badRequest(format string, args ...any) error {
	return &Error{Msg: fmt.Sprintf(format, args...)}
}

// DecodeJSON reads exactly one JSON value of at most limit bytes from the
// body into v. Unknown fields, wrong types, malformed or trailing data and
// strings holding NUL (which no id or name holds, and PostgreSQL cannot
// store) are bad requests (*Error); an oversize body is an
// *http.MaxBytesError.
func DecodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	var extra json.RawMessage
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
		return checkNUL(reflect.ValueOf(v), "")
	case err != nil:
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return fmt.Errorf("read JSON body: %w", err)
		}
	}
	return badRequest("request body must hold a single JSON value")
}

// jsonError explains a decoding failure in terms of the request.
func jsonError(err error) error {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return fmt.Errorf("read JSON body: %w", err)
	}
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		return badRequest("malformed JSON at byte %d: %s", se.Offset, se.Error())
	}
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		if num, isNum := strings.CutPrefix(te.Value, "number "); isNum && isInteger(te.Type) {
			// "must be a JSON number, not number 1.5" would name no problem.
			what := "the request body"
			if te.Field != "" {
				what = fmt.Sprintf("field %q", te.Field)
			}
			if strings.ContainsAny(num, ".eE") {
				return badRequest("%s must be a JSON number that is an integer (digits only), not %s", what, num)
			}
			return badRequest("%s must be a JSON number that fits an integer, not %s", what, num)
		}
		if te.Field == "" {
			return badRequest("request body must be a JSON %s, not %s", jsonType(te.Type), te.Value)
		}
		return badRequest("field %q must be a JSON %s, not %s", te.Field, jsonType(te.Type), te.Value)
	}
	switch {
	case errors.Is(err, io.EOF):
		return badRequest("request body is empty: want a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("malformed JSON: the body ends too early")
	}
	// Everything else the decoder reports is about the body: an unknown
	// field, a time that is not RFC 3339, a read cut short.
	return badRequest("invalid JSON body: %s", strings.TrimPrefix(err.Error(), "json: "))
}

// isInteger reports whether t (behind any pointers) is an integer type.
func isInteger(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

// checkNUL refuses a decoded string holding NUL, naming its field by the
// JSON path at refers to ("courses[0]").
func checkNUL(v reflect.Value, at string) error {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			return checkNUL(v.Elem(), at)
		}
	case reflect.String:
		if strings.ContainsRune(v.String(), 0) {
			if at == "" {
				return badRequest("the request body holds a NUL character")
			}
			return badRequest("field %q holds a NUL character", at)
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			if err := checkNUL(v.Index(i), fmt.Sprintf("%s[%d]", at, i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			k := fmt.Sprint(it.Key().Interface())
			if strings.ContainsRune(k, 0) {
				return badRequest("field %q holds a key with a NUL character", at)
			}
			if err := checkNUL(it.Value(), join(at, k)); err != nil {
				return err
			}
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			switch {
			case name == "-":
				continue
			case f.Anonymous && name == "":
				// An embedded struct's fields are the outer object's.
				name = at
			case name == "":
				name = join(at, f.Name)
			default:
				name = join(at, name)
			}
			if err := checkNUL(v.Field(i), name); err != nil {
				return err
			}
		}
	}
	return nil
}

// join names a field of the object at path at.
func join(at, field string) string {
	if at == "" {
		return field
	}
	return at + "." + field
}

// jsonType names a Go type the way a JSON client thinks of it.
func jsonType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Struct, reflect.Map:
		return "object"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Bool:
		return "boolean"
	}
	return t.Kind().String()
}

// IsMultipart reports whether the request body is multipart/form-data.
func IsMultipart(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "multipart/form-data"
}

// ReadMultipart reads a multipart/form-data body of at most limit bytes,
// keeping up to memory bytes of its files in memory, and refuses parts
// other than the allowed field names. The caller must call RemoveAll on
// the form. Refused input is an *Error; an oversize body an
// *http.MaxBytesError or multipart.ErrMessageTooLarge.
func ReadMultipart(w http.ResponseWriter, r *http.Request, limit, memory int64, allowed ...string) (*multipart.Form, error) {
	if !IsMultipart(r) {
		return nil, badRequest("want a multipart/form-data body, got Content-Type %q", r.Header.Get("Content-Type"))
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, badRequest("malformed multipart body: %v", err)
	}
	form, err := mr.ReadForm(memory)
	if err != nil {
		// ReadForm removes its temporary files itself when it fails.
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok || errors.Is(err, multipart.ErrMessageTooLarge) {
			return nil, fmt.Errorf("read multipart body: %w", err)
		}
		return nil, badRequest("malformed multipart body: %v", err)
	}
	for name := range form.Value {
		if !slices.Contains(allowed, name) {
			_ = form.RemoveAll()
			return nil, badRequest("unknown form field %q (want %s)", name, strings.Join(allowed, ", "))
		}
	}
	for name := range form.File {
		if !slices.Contains(allowed, name) {
			_ = form.RemoveAll()
			return nil, badRequest("unknown form field %q (want %s)", name, strings.Join(allowed, ", "))
		}
	}
	return form, nil
}
