package api

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"

	"github.com/zinc-edu/orchestrator/internal/servicedefaults"
)

// ValidateEnv reports the settings read from the environment that Validate
// lets through because a Go caller's zero means "the default": there every
// variable has a default, so zero, like a negative number, NaN or infinity,
// was set explicitly and is refused. It also checks the address and URLs.
func (c Config) ValidateEnv() error {
	var errs []error
	if _, port, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("ZINC_API_ADDR %q: want host:port: %w", c.Addr, err))
	} else if _, err := servicedefaults.ParsePort(port); err != nil {
		errs = append(errs, fmt.Errorf("ZINC_API_ADDR %q: port %q is not a number from 0 to 65535", c.Addr, port))
	}
	for _, l := range []struct {
		key string
		v   int64
	}{
		{"ZINC_API_MAX_JSON_BYTES", c.MaxJSONBytes},
		{"ZINC_API_MAX_CONFIG_BYTES", c.MaxConfigBytes},
		{"ZINC_API_MAX_UPLOAD_BYTES", c.MaxUploadBytes},
		{"ZINC_API_MAX_ENVIRONMENT_BYTES", c.MaxEnvironmentBytes},
		{"ZINC_API_RATE_BURST", int64(c.RateBurst)},
		{"ZINC_API_UPLOADS_PER_KEY", int64(c.UploadsPerKey)},
		{"ZINC_API_STREAMS_PER_KEY", int64(c.StreamsPerKey)},
	} {
		if l.v <= 0 {
			errs = append(errs, fmt.Errorf("%s %d: want a positive number", l.key, l.v))
		}
	}
	if !(c.RateLimit > 0) || math.IsInf(c.RateLimit, 0) {
		errs = append(errs, fmt.Errorf("ZINC_API_RATE_LIMIT %g: want a positive finite number", c.RateLimit))
	}
	if c.ReadTimeout <= 0 {
		errs = append(errs, fmt.Errorf("ZINC_API_READ_TIMEOUT %v: want a positive duration", c.ReadTimeout))
	}
	for _, o := range c.CodecOrigins {
		if !isOrigin(o) {
			errs = append(errs, fmt.Errorf("ZINC_API_CODEC_ORIGINS: %q is not an origin such as http://127.0.0.1:8233", o))
		}
	}
	if c.TemporalUIURL != "" {
		u, err := url.Parse(c.TemporalUIURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("ZINC_TEMPORAL_UI_URL %q: want an http or https URL", c.TemporalUIURL))
		}
	}
	return errors.Join(errs...)
}

// isOrigin reports whether s is a browser origin, scheme://host[:port], as
// the Origin header carries it: the codec endpoint compares the two exactly.
func isOrigin(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" &&
		u.User == nil && u.RawQuery == "" && u.Fragment == "" && u.Scheme+"://"+u.Host == s
}
