package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime/multipart"
	"net/http"

	"github.com/zinc-edu/orchestrator/internal/archive"
	"github.com/zinc-edu/orchestrator/internal/auth"
	"github.com/zinc-edu/orchestrator/internal/batches"
	"github.com/zinc-edu/orchestrator/internal/definition"
	"github.com/zinc-edu/orchestrator/internal/deliveries"
	"github.com/zinc-edu/orchestrator/internal/environment"
	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/store"
)

// internalMessage is all a client learns about an unexpected failure; the
// cause goes to the log.
const internalMessage = "internal error"

// retryAfterUnavailable is the Retry-After of a 503: long enough for a Temporal
// frontend to come back, short enough for a poller not to notice.
const retryAfterUnavailable = "5"

// errorBody is the JSON of every error answer. Details is null unless the
// error carries structured data, such as a definition's problems.
type errorBody struct {
	Error   string `json:"error"`
	Details any    `json:"details"`
}

// requestError is input the API refuses as written.
type requestError struct {
	msg     string
	details any
}

func (e *requestError) Error() string { return e.msg }

// tooLargeError is a part of a request that exceeds its own limit inside
// a body that did not exceed the body's limit.
type tooLargeError struct {
	what  string
	limit int64
}

func (e *tooLargeError) Error() string {
	return fmt.Sprintf("%s is larger than %d bytes", e.what, e.limit)
}

// badRequest returns a requestError with a formatted message.
func badRequest(format string, args ...any) error {
	return &requestError{msg: fmt.Sprintf(format, args...)}
}

// classify maps an error to its status code and body. It is the only place
// that decides statuses; handlers only return errors.
func classify(err error) (int, errorBody) {
	if errors.Is(err, auth.ErrUnauthenticated) {
		return http.StatusUnauthorized, errorBody{Error: err.Error()}
	}
	if fe, ok := errors.AsType[*forbiddenError](err); ok {
		return http.StatusForbidden, errorBody{Error: fe.msg}
	}
	if tm, ok := errors.AsType[*tooManyError](err); ok {
		return http.StatusTooManyRequests, errorBody{Error: tm.msg}
	}
	if mb, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return http.StatusRequestEntityTooLarge, errorBody{Error: fmt.Sprintf("request body is larger than %d bytes", mb.Limit)}
	}
	if errors.Is(err, multipart.ErrMessageTooLarge) {
		return http.StatusRequestEntityTooLarge, errorBody{Error: "multipart form has too many parts or too large fields"}
	}
	if tl, ok := errors.AsType[*tooLargeError](err); ok {
		return http.StatusRequestEntityTooLarge, errorBody{Error: tl.Error()}
	}
	if errors.Is(err, archive.ErrTooLarge) || errors.Is(err, environment.ErrTooLarge) {
		return http.StatusRequestEntityTooLarge, errorBody{Error: err.Error()}
	}
	if ie, ok := errors.AsType[*environment.InvalidError](err); ok {
		return http.StatusBadRequest, errorBody{
			Error:   "invalid environment image: " + ie.Error(),
			Details: []definition.Problem{{Path: ie.Path, Message: ie.Reason}},
		}
	}
	if ce, ok := errors.AsType[*environment.ConflictError](err); ok {
		return http.StatusConflict, errorBody{Error: ce.Error(), Details: ce.Existing}
	}
	if ve, ok := errors.AsType[*definition.ValidationError](err); ok {
		return http.StatusBadRequest, errorBody{
			Error:   fmt.Sprintf("invalid grading config: %d problem(s)", len(ve.Problems)),
			Details: ve.Problems,
		}
	}
	if re, ok := errors.AsType[*requestError](err); ok {
		return http.StatusBadRequest, errorBody{Error: re.msg, Details: re.details}
	}
	switch {
	case errors.Is(err, archive.ErrUnsafePath), errors.Is(err, archive.ErrInvalidArchive), errors.Is(err, batches.ErrInvalid),
		errors.Is(err, store.ErrInvalidCursor), errors.Is(err, deliveries.ErrNoFiles):
		return http.StatusBadRequest, errorBody{Error: err.Error()}
	case errors.Is(err, grading.ErrNotFound):
		return http.StatusNotFound, errorBody{Error: err.Error()}
	case errors.Is(err, grading.ErrConflict):
		return http.StatusConflict, errorBody{Error: err.Error()}
	case errors.Is(err, batches.ErrUnavailable):
		return http.StatusServiceUnavailable, errorBody{Error: "temporal is unavailable, retry later"}
	case errors.Is(err, errNoFeed):
		return http.StatusServiceUnavailable, errorBody{Error: err.Error()}
	}
	return http.StatusInternalServerError, errorBody{Error: internalMessage}
}

// writeError answers err. An unexpected error is logged here, once, with
// the request it broke; expected ones are the client's to read.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, body := classify(err)
	switch status {
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", "Bearer")
	case http.StatusTooManyRequests:
		if tm, ok := errors.AsType[*tooManyError](err); ok {
			w.Header().Set("Retry-After", retryAfterSeconds(tm.retryAfter))
		}
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", retryAfterUnavailable)
		s.log.WarnContext(r.Context(), "request deferred",
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Any("err", err))
	}
	if status == http.StatusInternalServerError {
		s.log.ErrorContext(r.Context(), "request failed",
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Any("err", err))
	}
	if isUIPage(r) {
		msg := body.Error
		if status == http.StatusInternalServerError {
			msg = internalMessage
		}
		s.writeUIError(w, status, msg)
		return
	}
	// An errorBody holds strings and problem lists only: it always encodes.
	_ = writeJSON(w, status, body)
}

// writeJSON sends v with the status. It encodes before writing anything,
// so a value that cannot be encoded becomes an error the caller can still
// answer; a failed write can only mean the client left.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
	return nil
}
