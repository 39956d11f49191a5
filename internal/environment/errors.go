package environment

import (
	"errors"
	"fmt"
)

// ErrInvalid reports an image layout, or a name, the package refuses; the
// error is an *InvalidError saying where.
var ErrInvalid = errors.New("invalid environment image")

// ErrTooLarge reports a layout, or the file system it unpacks to, beyond
// Limits.
var ErrTooLarge = errors.New("environment image too large")

// InvalidError is a refused image layout: Path locates the problem in the
// layout ("index.json", "blobs/sha256/<hex>", "layers[1]: usr/../../x"),
// Reason says what is wrong.
type InvalidError struct {
	Path   string
	Reason string
}

func (e *InvalidError) Error() string {
	if e.Path == "" {
		return e.Reason
	}
	return e.Path + ": " + e.Reason
}

// Is makes every InvalidError match ErrInvalid.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

// invalid returns an *InvalidError with a formatted reason.
func invalid(path, format string, args ...any) error {
	return &InvalidError{Path: path, Reason: fmt.Sprintf(format, args...)}
}

// tooLarge returns an ErrTooLarge error with a formatted message.
func tooLarge(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrTooLarge, fmt.Sprintf(format, args...))
}
