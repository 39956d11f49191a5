package submission

import (
	"errors"

	sdktemporal "go.temporal.io/sdk/temporal"

	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/workflows"
)

var errInvalidInput = errors.New("invalid input")

// toApplicationError is the extension's one translation of domain errors
// into Temporal errors: missing data and bad input are not retried,
// anything else (the database being away) is.
func toApplicationError(err error) error {
	switch {
	case errors.Is(err, grading.ErrNotFound):
		return sdktemporal.NewNonRetryableApplicationError(err.Error(), workflows.ErrTypeCollectionNotFound, err)
	case errors.Is(err, errInvalidInput):
		return sdktemporal.NewNonRetryableApplicationError(err.Error(), workflows.ErrTypeInvalidInput, err)
	default:
		return sdktemporal.NewApplicationErrorWithCause(err.Error(), workflows.ErrTypeTransient, err)
	}
}
