package cli

import (
	"errors"
	"fmt"
)

// Exit codes scripts can rely on.
const (
	ExitOK       = 0
	ExitFailure  = 1
	ExitUsage    = 2
	ExitFailures = 3 // the batch finished, with deliveries that got no grade
)

// exitError carries the exit code of a failed command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// fail marks err as a command failure (exit 1).
func fail(err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: ExitFailure, err: err}
}

// usage marks a command line that cannot be run as written (exit 2).
func usage(format string, args ...any) error {
	return &exitError{code: ExitUsage, err: fmt.Errorf(format, args...)}
}

// errQuiet ends a command whose output already said what went wrong.
var errQuiet = errors.New("")

// codeOf returns the exit code for an error from a command: errors that
// did not come from a command's run are cobra's parse errors, a usage
// problem.
func codeOf(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return ExitUsage
}
