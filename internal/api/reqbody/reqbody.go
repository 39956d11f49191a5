// Package reqbody decodes request bodies for the API: one strict JSON
// value, or a multipart form spooled to temporary files. It knows nothing
// of routes or statuses: refused input is an *Error (the API answers 400),
// an oversize body an *http.MaxBytesError or multipart.ErrMessageTooLarge
// (413). Kept apart from the API so its fuzz targets build quickly.
package reqbody

import (
	"bytes"
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
// body into v. Unknown fields (names match exactly, not in any case),
// a name given twice in one object, wrong types, malformed or trailing data and
// strings holding NUL (which no id or name holds, and PostgreSQL cannot
// store) are bad requests (*Error); an oversize body is an
// *http.MaxBytesError.
func DecodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	// The body read, at most limit bytes, for checkNames.
	var body bytes.Buffer
	dec := json.NewDecoder(io.TeeReader(http.MaxBytesReader(w, r.Body, limit), &body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	var extra json.RawMessage
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
		if err := checkNames(body.Bytes(), reflect.TypeOf(v)); err != nil {
			return err
		}
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

// checkNames refuses what encoding/json accepts without a word: a name
// given twice in one object (the last value won) and a field name in
// another case than its own ("NAME" filled name). body has already been
// decoded into a value of type t, so it is well-formed JSON.
func checkNames(body []byte, t reflect.Type) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	return walkNames(dec, t, "")
}

// unmarshalerType is the interface of types that decode themselves, whose
// object names are theirs to judge.
var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// walkNames reads one JSON value from dec, which decodes into t (nil when
// it is not known), checking the names of its objects.
func walkNames(dec *json.Decoder, t reflect.Type, at string) error {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t != nil && (t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType)) {
		t = nil
	}
	tok, err := dec.Token()
	if err != nil {
		return badRequest("malformed JSON: %v", err)
	}
	switch tok {
	case json.Delim('['):
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for i := 0; dec.More(); i++ {
			if err := walkNames(dec, elem, fmt.Sprintf("%s[%d]", at, i)); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return badRequest("malformed JSON: %v", err)
		}
		return nil
	case json.Delim('{'):
		var fields map[string]reflect.Type
		var elem reflect.Type
		if t != nil {
			switch t.Kind() {
			case reflect.Struct:
				fields = map[string]reflect.Type{}
				jsonFields(t, fields)
			case reflect.Map:
				elem = t.Elem()
			}
		}
		seen := map[string]bool{}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return badRequest("malformed JSON: %v", err)
			}
			name, _ := tok.(string)
			if seen[name] {
				return badRequest("field %q is given twice", join(at, name))
			}
			seen[name] = true
			next := elem
			if fields != nil {
				ft, ok := fields[name]
				if !ok {
					for known := range fields {
						if strings.EqualFold(known, name) {
							return badRequest("invalid JSON body: unknown field %q (names are case-sensitive: %q)", join(at, name), known)
						}
					}
				}
				next = ft
			}
			if err := walkNames(dec, next, join(at, name)); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return badRequest("malformed JSON: %v", err)
		}
		return nil
	}
	return nil
}

// jsonFields adds the JSON names of struct type t's fields, those of
// embedded structs included, with their types.
func jsonFields(t reflect.Type, into map[string]reflect.Type) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				jsonFields(ft, into)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		into[name] = f.Type
	}
}
