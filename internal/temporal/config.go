package temporal

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"

	"github.com/zinc-edu/orchestrator/internal/servicedefaults"
)

// DefaultTaskQueuePrefix is the prefix of every task queue unless configured.
const DefaultTaskQueuePrefix = "zinc"

// ConfigurationName is the name under which ZINC core serves Temporal
// settings to extensions (RFD 0010, "Extension Configuration Distribution").
const ConfigurationName = "temporal"

// Property keys of the "temporal" Configuration.
const (
	PropHostPort        = "host_port"
	PropNamespace       = "namespace"
	PropTaskQueuePrefix = "task_queue_prefix"
)

// Config says where Temporal is and how this deployment names task queues.
type Config struct {
	// HostPort is the frontend address, "host:port".
	HostPort string
	// Namespace isolates environments (zinc-dev, zinc-staging, zinc-prod).
	Namespace string
	// TaskQueuePrefix starts every task-queue name; empty gives bare names,
	// which is fine because namespaces already isolate environments.
	TaskQueuePrefix string
	// Options are the full SDK connection options (TLS, API key, gRPC
	// metadata) loaded from the standard TEMPORAL_* variables.
	Options client.Options
	// Codec, when set, encrypts every payload the client and its workers
	// send: Dial wraps the data converter with it.
	Codec *Codec
}

// Configuration is the RFD's extension configuration message:
// a name and string properties.
type Configuration struct {
	Name       string            `json:"name"`
	Properties map[string]string `json:"properties"`
}

// LoadConfig reads the standard Temporal client variables (TEMPORAL_ADDRESS,
// TEMPORAL_NAMESPACE, TEMPORAL_TLS_*, TEMPORAL_API_KEY, TEMPORAL_PROFILE and
// the TOML profile file) through the SDK's envconfig, plus
// ZINC_TASK_QUEUE_PREFIX. An unset prefix means "zinc"; a set but empty one
// means no prefix.
func LoadConfig() (Config, error) {
	opts, err := envconfig.LoadClientOptions(envconfig.LoadClientOptionsRequest{})
	if err != nil {
		return Config{}, fmt.Errorf("load temporal client options: %w", err)
	}
	cfg := Config{
		HostPort:        opts.HostPort,
		Namespace:       opts.Namespace,
		TaskQueuePrefix: DefaultTaskQueuePrefix,
		Options:         opts,
	}
	if p, ok := os.LookupEnv("ZINC_TASK_QUEUE_PREFIX"); ok {
		cfg.TaskQueuePrefix = p
	}
	if cfg.Codec, err = LoadCodec(); err != nil {
		return Config{}, err
	}
	cfg = cfg.withDefaults()
	return cfg, cfg.Validate()
}

// FromConfiguration builds a Config from the properties core serves to an
// extension, keeping base's connection options (TLS and credentials stay
// local to the process and are never distributed).
func FromConfiguration(base Config, c Configuration) (Config, error) {
	if c.Name != ConfigurationName {
		return Config{}, fmt.Errorf("read configuration: want name %q, got %q", ConfigurationName, c.Name)
	}
	cfg := base
	if v, ok := c.Properties[PropHostPort]; ok {
		cfg.HostPort = v
	}
	if v, ok := c.Properties[PropNamespace]; ok {
		cfg.Namespace = v
	}
	if v, ok := c.Properties[PropTaskQueuePrefix]; ok {
		cfg.TaskQueuePrefix = v
	}
	cfg = cfg.withDefaults()
	return cfg, cfg.Validate()
}

// Configuration returns the settings core distributes to extensions.
func (c Config) Configuration() Configuration {
	return Configuration{
		Name: ConfigurationName,
		Properties: map[string]string{
			PropHostPort:        c.HostPort,
			PropNamespace:       c.Namespace,
			PropTaskQueuePrefix: c.TaskQueuePrefix,
		},
	}
}

// Validate reports settings that cannot work.
func (c Config) Validate() error {
	var errs []error
	if err := checkHostPort(c.HostPort); err != nil {
		errs = append(errs, fmt.Errorf("host_port (TEMPORAL_ADDRESS) %q: want host:port: %w", c.HostPort, err))
	}
	if strings.TrimSpace(c.Namespace) == "" {
		errs = append(errs, errors.New("namespace (TEMPORAL_NAMESPACE) is empty"))
	}
	if strings.ContainsAny(c.TaskQueuePrefix, " \t\n/") {
		errs = append(errs, fmt.Errorf("task_queue_prefix (ZINC_TASK_QUEUE_PREFIX) %q: no spaces or slashes", c.TaskQueuePrefix))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("validate temporal config: %w", err)
	}
	return nil
}

// checkHostPort accepts "host:port" with a port from 1 to 65535, or a gRPC
// resolver target such as "dns:///host:port", which the SDK also dials.
func checkHostPort(hp string) error {
	if scheme, target, ok := strings.Cut(hp, ":///"); ok {
		if scheme == "" || target == "" {
			return errors.New("incomplete resolver target")
		}
		return nil
	}
	host, port, err := net.SplitHostPort(hp)
	if err != nil {
		return err
	}
	if host == "" {
		return errors.New("missing host")
	}
	if n, err := servicedefaults.ParsePort(port); err != nil || n == 0 {
		return fmt.Errorf("port %q is not a number from 1 to 65535", port)
	}
	return nil
}

// FormatTaskQueue returns "{prefix}-{suffix}", or the bare suffix when the
// prefix is empty, or the bare prefix when the suffix is empty.
func (c Config) FormatTaskQueue(suffix string) string {
	switch {
	case c.TaskQueuePrefix == "":
		return suffix
	case suffix == "":
		return c.TaskQueuePrefix
	default:
		return c.TaskQueuePrefix + "-" + suffix
	}
}

func (c Config) withDefaults() Config {
	if c.HostPort == "" {
		c.HostPort = client.DefaultHostPort
	}
	if c.Namespace == "" {
		c.Namespace = client.DefaultNamespace
	}
	return c
}

// WorkerConfig tunes the workers of one process.
type WorkerConfig struct {
	// Queues are the task queues this process polls, one worker each.
	Queues []QueueConfig
	// StopTimeout is how long a stopping worker lets running activities
	// finish; it stays below fx's default 15 s stop timeout.
	StopTimeout time.Duration
}

// QueueConfig is one task queue and its limits. Zero values keep the SDK's
// defaults.
type QueueConfig struct {
	// Suffix is the queue's "{component}-{queue_type}" name.
	Suffix                     string
	MaxConcurrentActivities    int
	MaxConcurrentWorkflowTasks int
	// ActivitiesPerSecond limits the whole task queue, across workers.
	ActivitiesPerSecond float64
}

// DefaultStopTimeout is the drain time of a stopping worker.
const DefaultStopTimeout = 10 * time.Second

// LoadExtensionConfig loads an extension's Config: the standard variables,
// then, when ZINC_CORE_URL is set, the properties ZINC core serves for the
// extension (RFD 0010), which take precedence. Core serves them to admins
// only: ZINC_CORE_TOKEN is the API key sent as the bearer credential.
func LoadExtensionConfig(ctx context.Context, extension string) (Config, error) {
	base, err := LoadConfig()
	if err != nil {
		return Config{}, err
	}
	core := os.Getenv("ZINC_CORE_URL")
	if core == "" {
		return base, nil
	}
	hc := &http.Client{Timeout: 10 * time.Second}
	c, err := FetchConfiguration(ctx, hc, core, os.Getenv("ZINC_CORE_TOKEN"), extension)
	if err != nil {
		return Config{}, err
	}
	return FromConfiguration(base, c)
}

// ExtensionConfig returns a constructor of an extension's Config, for fx.
func ExtensionConfig(extension string) func() (Config, error) {
	return func() (Config, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		return LoadExtensionConfig(ctx, extension)
	}
}
