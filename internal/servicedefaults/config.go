package servicedefaults

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"reflect"
	"strconv"
	"strings"

	"github.com/caarlos0/env/v11"
)

// Log output formats accepted by LOG_FORMAT and NewLogger.
const (
	FormatJSON = "json"
	FormatText = "text"
)

// OTLP transport protocols accepted by OTEL_EXPORTER_OTLP_PROTOCOL.
const (
	ProtocolHTTP = "http/protobuf"
	ProtocolGRPC = "grpc"
)

// Config is the operational configuration every process reads from its
// environment. Field tags name the variables; OTEL_* follow the
// OpenTelemetry SDK specification.
type Config struct {
	// ServiceName identifies the process in logs, traces and metrics.
	ServiceName string `env:"OTEL_SERVICE_NAME"`
	// LogLevel is the minimum level logged: debug, info, warn or error.
	LogLevel slog.Level `env:"LOG_LEVEL" envDefault:"info"`
	// LogFormat is FormatJSON or FormatText.
	LogFormat string `env:"LOG_FORMAT" envDefault:"json"`
	// HealthAddr is where the liveness and readiness server listens; port 0
	// picks a free port, reported by Health.Addr once started.
	HealthAddr string `env:"ZINC_HEALTH_ADDR" envDefault:"127.0.0.1:0"`
	// OTLPEndpoint is the collector's base URL, such as http://127.0.0.1:4318.
	// Empty means no exporter: providers still exist so spans carry ids.
	OTLPEndpoint string `env:"OTEL_EXPORTER_OTLP_ENDPOINT"`
	// OTLPProtocol is ProtocolHTTP or ProtocolGRPC.
	OTLPProtocol string `env:"OTEL_EXPORTER_OTLP_PROTOCOL" envDefault:"http/protobuf"`
	// TraceSampleRatio is the fraction of new traces sampled, in [0, 1];
	// spans with a parent follow the parent's decision.
	TraceSampleRatio float64 `env:"OTEL_TRACES_SAMPLER_ARG" envDefault:"1"`
}

// BuildInfo describes the running program. main supplies it, typically with
// a Version injected at link time.
type BuildInfo struct {
	// Name is the default service name, used when OTEL_SERVICE_NAME is unset.
	Name string
	// Version is the program's version, recorded as service.version.
	Version string
}

// EnvValidator is implemented by a configuration whose values, once read
// from the environment, need checks beyond parsing. A Go caller's zero
// field usually means "the default", but a variable explicitly set to zero,
// a negative number or NaN is a mistake the operator should hear about at
// start-up rather than have replaced silently.
type EnvValidator interface {
	// ValidateEnv reports every bad value, naming its variable.
	ValidateEnv() error
}

// LoadEnv reads a T from the environment as described by its `env` and
// `envDefault` field tags, so every package's configuration is read the
// same way. When T is an EnvValidator, its ValidateEnv must pass too.
func LoadEnv[T any]() (T, error) {
	v, err := env.ParseAs[T]()
	if err != nil {
		return v, fmt.Errorf("parse environment: %w", nameVariables(reflect.TypeFor[T](), err))
	}
	if ev, ok := any(v).(EnvValidator); ok {
		if err := ev.ValidateEnv(); err != nil {
			return v, fmt.Errorf("check environment: %w", err)
		}
	}
	return v, nil
}

// nameVariables adds the variable name to each parse error, which by itself
// names only the Go field, so an operator can tell which setting is wrong.
func nameVariables(t reflect.Type, err error) error {
	var agg env.AggregateError
	if t.Kind() != reflect.Struct || !errors.As(err, &agg) {
		return err
	}
	errs := make([]error, 0, len(agg.Errors))
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) {
			if key := variableOf(t, pe.Name, ""); key != "" {
				e = fmt.Errorf("variable %s: %w", key, e)
			}
		}
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

// variableOf returns the variable of the field called name in the struct
// type t or, under their envPrefix, in its nested structs; "" if none.
func variableOf(t reflect.Type, name, prefix string) string {
	for f := range t.Fields() {
		if f.Name == name {
			if key, _, _ := strings.Cut(f.Tag.Get("env"), ","); key != "" {
				return prefix + key
			}
		}
		if f.Type.Kind() == reflect.Struct {
			if key := variableOf(f.Type, name, prefix+f.Tag.Get("envPrefix")); key != "" {
				return key
			}
		}
	}
	return ""
}

// LoadConfig reads Config from the environment and validates it.
// serviceName is used when OTEL_SERVICE_NAME is unset.
func LoadConfig(serviceName string) (Config, error) {
	cfg, err := LoadEnv[Config]()
	if err != nil {
		return Config{}, fmt.Errorf("load config: %w", err)
	}
	if cfg.ServiceName == "" {
		cfg.ServiceName = serviceName
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, fmt.Errorf("load config: %w", err)
	}
	return cfg, nil
}

// Validate reports every invalid setting of c, naming the variable that
// sets it.
func (c Config) Validate() error {
	var errs []error
	if c.ServiceName == "" {
		errs = append(errs, errors.New("service name is empty (set OTEL_SERVICE_NAME)"))
	}
	switch c.LogLevel {
	case slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError:
	default:
		errs = append(errs, fmt.Errorf("LOG_LEVEL: log level %q is not one of debug, info, warn, error", c.LogLevel))
	}
	if c.LogFormat != FormatJSON && c.LogFormat != FormatText {
		errs = append(errs, fmt.Errorf("LOG_FORMAT: log format %q is not %q or %q", c.LogFormat, FormatJSON, FormatText))
	}
	_, port, err := net.SplitHostPort(c.HealthAddr)
	if err == nil {
		_, err = ParsePort(port)
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("ZINC_HEALTH_ADDR: health address %q is not host:port", c.HealthAddr))
	}
	if c.OTLPProtocol != ProtocolHTTP && c.OTLPProtocol != ProtocolGRPC {
		errs = append(errs, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL: otlp protocol %q is not %q or %q", c.OTLPProtocol, ProtocolHTTP, ProtocolGRPC))
	}
	if c.OTLPEndpoint != "" {
		u, err := url.Parse(c.OTLPEndpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT: otlp endpoint %q is not an http or https URL", maskURL(c.OTLPEndpoint)))
		}
	}
	// Written so that NaN, which compares false with everything, fails too.
	if !(c.TraceSampleRatio >= 0 && c.TraceSampleRatio <= 1) {
		errs = append(errs, fmt.Errorf("OTEL_TRACES_SAMPLER_ARG: trace sample ratio %v is outside [0, 1]", c.TraceSampleRatio))
	}
	return errors.Join(errs...)
}

// ParsePort parses a decimal port number, 0 (any free port, when
// listening) to 65535: the one rule every address setting checks its port
// by. Settings that dial refuse 0 themselves.
func ParsePort(port string) (uint16, error) {
	n, err := strconv.ParseUint(port, 10, 16)
	return uint16(n), err
}

// LogValue makes c loggable at start-up without leaking credentials that an
// endpoint URL may carry.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("service_name", c.ServiceName),
		slog.String("log_level", c.LogLevel.String()),
		slog.String("log_format", c.LogFormat),
		slog.String("health_addr", c.HealthAddr),
		slog.String("otlp_endpoint", maskURL(c.OTLPEndpoint)),
		slog.String("otlp_protocol", c.OTLPProtocol),
		slog.Float64("trace_sample_ratio", c.TraceSampleRatio),
	)
}

// maskURL hides the user information and query of raw, where collectors'
// tokens tend to live.
func maskURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid URL)"
	}
	if u.User != nil {
		u.User = url.User("xxxxx")
	}
	if u.RawQuery != "" {
		u.RawQuery = "xxxxx"
	}
	return u.String()
}
