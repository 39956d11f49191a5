package pipeline

import (
	"errors"

	sdktemporal "go.temporal.io/sdk/temporal"

	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/workflows"
)

// Failures the activities tell apart before translating them.
var (
	errConfigNotFound   = errors.New("grading config not found")
	errDeliveryNotFound = errors.New("delivery not found")
	errInvalidConfig    = errors.New("invalid grading config")
	errMissingFiles     = errors.New("delivery files missing")
	errInvalidInput     = errors.New("invalid input")
)

// toApplicationError is the extension's one translation of errors into
// Temporal errors: bad input, missing data and bad configuration are not
// retried; anything else is, as an infrastructure fault.
func toApplicationError(err error) error {
	if err == nil {
		return nil
	}
	typ := ""
	switch {
	case errors.Is(err, errInvalidInput):
		typ = workflows.ErrTypeInvalidInput
	case errors.Is(err, errConfigNotFound):
		typ = workflows.ErrTypeConfigNotFound
	case errors.Is(err, errDeliveryNotFound), errors.Is(err, grading.ErrNotFound):
		typ = workflows.ErrTypeDeliveryNotFound
	case errors.Is(err, errInvalidConfig):
		typ = workflows.ErrTypeInvalidConfig
	case errors.Is(err, errMissingFiles):
		typ = workflows.ErrTypeMissingFiles
	default:
		return sdktemporal.NewApplicationErrorWithCause(err.Error(), workflows.ErrTypeTransient, err)
	}
	return sdktemporal.NewNonRetryableApplicationError(err.Error(), typ, err)
}
