package events

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/zinc-edu/orchestrator/internal/servicedefaults"
)

// ValidateEnv reports the settings read from the environment that Connect
// would otherwise replace or trim silently: every variable has a default,
// so a zero was set explicitly, and a redelivery delay is capped at one
// minute. NATS_URL must be one or more comma-separated server URLs.
func (c Config) ValidateEnv() error {
	var errs []error
	for u := range strings.SplitSeq(c.URL, ",") {
		if err := checkServerURL(strings.TrimSpace(u)); err != nil {
			errs = append(errs, fmt.Errorf("NATS_URL: %w", err))
		}
	}
	if c.NakDelay <= 0 || c.NakDelay > maxNakDelay {
		errs = append(errs, fmt.Errorf("ZINC_NATS_NAK_DELAY %v: want a duration above 0 and at most %v", c.NakDelay, maxNakDelay))
	}
	if c.MaxDeliver < 1 {
		errs = append(errs, fmt.Errorf("ZINC_NATS_MAX_DELIVER %d: want at least 1", c.MaxDeliver))
	}
	if strings.ContainsAny(c.Stream, ".*> \t\r\n") {
		errs = append(errs, fmt.Errorf("ZINC_NATS_STREAM %q contains '.', '*', '>' or whitespace", c.Stream))
	}
	if err := checkSubject(c.SubjectPrefix, false); err != nil {
		errs = append(errs, fmt.Errorf("ZINC_NATS_SUBJECT_PREFIX: %w", err))
	}
	return errors.Join(errs...)
}

// checkServerURL accepts what the NATS client dials: nats://, tls://, ws://
// or wss:// URLs, or a bare host[:port]. Errors never show user information,
// which may hold a password or token.
func checkServerURL(raw string) error {
	if raw == "" {
		return errors.New("empty server URL")
	}
	if !strings.Contains(raw, "://") {
		raw = "nats://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("server URL does not parse")
	}
	shown := u.Redacted()
	switch {
	case u.Scheme != "nats" && u.Scheme != "tls" && u.Scheme != "ws" && u.Scheme != "wss":
		return fmt.Errorf("server URL %q: scheme %q is not nats, tls, ws or wss", shown, u.Scheme)
	case u.Hostname() == "":
		return fmt.Errorf("server URL %q has no host", shown)
	case u.Port() != "" && !dialPort(u.Port()):
		return fmt.Errorf("server URL %q: port %q is not a number from 1 to 65535", shown, u.Port())
	}
	return nil
}

// dialPort reports whether s is a port a client can dial: 1 to 65535.
func dialPort(s string) bool {
	n, err := servicedefaults.ParsePort(s)
	return err == nil && n >= 1
}
