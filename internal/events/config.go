package events

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Subjects of ZINC's events, relative to Config.SubjectPrefix.
const (
	// SubjectDeliveryCreated announces a new delivery.
	SubjectDeliveryCreated = "deliveries.created"
	// SubjectResultGraded announces one graded delivery.
	SubjectResultGraded = "results.graded"
	// SubjectBatchCompleted announces the end of a grading batch.
	SubjectBatchCompleted = "batches.completed"
)

// Defaults applied by Connect to zero fields of Config.
const (
	DefaultURL           = "nats://127.0.0.1:4222"
	DefaultStream        = "ZINC"
	DefaultSubjectPrefix = "zinc"
	DefaultNakDelay      = time.Second
	DefaultMaxDeliver    = 10
)

// Stream settings: events are kept a week, and a message id seen within the
// dedup window is stored only once, so a retried publish is harmless.
const (
	streamMaxAge    = 7 * 24 * time.Hour
	dedupWindow     = 2 * time.Minute
	maxNakDelay     = time.Minute
	connectTimeout  = 5 * time.Second
	drainTimeout    = 10 * time.Second // below fx's default 15 s stop timeout
	pullBatchSize   = 64               // few enough to be handled within the ack wait
	readinessBudget = 2 * time.Second
)

// Config locates the NATS server and names the stream. Zero fields take the
// Default values.
type Config struct {
	// URL is the NATS server, such as nats://127.0.0.1:4222.
	URL string `env:"NATS_URL" envDefault:"nats://127.0.0.1:4222"`
	// Stream is the JetStream stream that stores every event.
	Stream string `env:"ZINC_NATS_STREAM" envDefault:"ZINC"`
	// SubjectPrefix is prepended, with a dot, to every subject.
	SubjectPrefix string `env:"ZINC_NATS_SUBJECT_PREFIX" envDefault:"zinc"`
	// NakDelay is the wait before a failed event is redelivered; it doubles
	// with each delivery, up to one minute.
	NakDelay time.Duration `env:"ZINC_NATS_NAK_DELAY" envDefault:"1s"`
	// MaxDeliver bounds deliveries of one event to one consumer; after the
	// last failure the event is left in the stream and no longer retried.
	MaxDeliver int `env:"ZINC_NATS_MAX_DELIVER" envDefault:"10"`
}

func (c Config) withDefaults() Config {
	if c.URL == "" {
		c.URL = DefaultURL
	}
	if c.Stream == "" {
		c.Stream = DefaultStream
	}
	if c.SubjectPrefix == "" {
		c.SubjectPrefix = DefaultSubjectPrefix
	}
	if c.NakDelay == 0 {
		c.NakDelay = DefaultNakDelay
	}
	if c.MaxDeliver == 0 {
		c.MaxDeliver = DefaultMaxDeliver
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if strings.ContainsAny(c.Stream, ".*> \t\r\n") {
		errs = append(errs, fmt.Errorf("stream name %q contains '.', '*', '>' or whitespace", c.Stream))
	}
	if err := checkSubject(c.SubjectPrefix, false); err != nil {
		errs = append(errs, fmt.Errorf("subject prefix: %w", err))
	}
	if c.NakDelay < 0 {
		errs = append(errs, fmt.Errorf("nak delay %v is negative", c.NakDelay))
	}
	if c.MaxDeliver < 1 {
		errs = append(errs, fmt.Errorf("max deliver %d is below 1", c.MaxDeliver))
	}
	return errors.Join(errs...)
}

// ErrInvalidSubject reports a subject that is empty, has empty tokens or
// whitespace, or uses wildcards where they are not allowed.
var ErrInvalidSubject = errors.New("invalid subject")

// checkSubject validates a dot-separated NATS subject; wildcards ("*" tokens,
// a final ">") are allowed only when a filter is wanted.
func checkSubject(s string, wildcards bool) error {
	if s == "" || strings.ContainsAny(s, " \t\r\n") {
		return fmt.Errorf("%w %q", ErrInvalidSubject, s)
	}
	tokens := strings.Split(s, ".")
	for i, tok := range tokens {
		switch {
		case tok == "":
			return fmt.Errorf("%w %q: empty token", ErrInvalidSubject, s)
		case tok == "*" || (tok == ">" && i == len(tokens)-1):
			if !wildcards {
				return fmt.Errorf("%w %q: wildcard", ErrInvalidSubject, s)
			}
		case strings.ContainsAny(tok, "*>"):
			return fmt.Errorf("%w %q: misplaced wildcard", ErrInvalidSubject, s)
		}
	}
	return nil
}
