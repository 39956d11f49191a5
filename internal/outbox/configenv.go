package outbox

import (
	"errors"
	"fmt"
)

// ValidateEnv reports the settings read from the environment that
// withDefaults would otherwise replace silently: every variable has a
// default, so a zero or negative value was set explicitly. A longest
// backoff below the poll interval is still raised to it, as the default
// 5s must be when only ZINC_OUTBOX_POLL is set above it.
func (c Config) ValidateEnv() error {
	var errs []error
	if c.PollInterval <= 0 {
		errs = append(errs, fmt.Errorf("ZINC_OUTBOX_POLL %v: want a positive duration", c.PollInterval))
	}
	if c.MaxBackoff <= 0 {
		errs = append(errs, fmt.Errorf("ZINC_OUTBOX_MAX_BACKOFF %v: want a positive duration", c.MaxBackoff))
	}
	if c.BatchSize <= 0 {
		errs = append(errs, fmt.Errorf("ZINC_OUTBOX_BATCH %d: want a positive number of rows", c.BatchSize))
	}
	return errors.Join(errs...)
}
