package sandbox

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Names reported in Result.LimitHit.
const (
	LimitMemory    = "memory"
	LimitCPU       = "cpu"
	LimitProcesses = "processes"
	LimitFileSize  = "file_size"
	LimitOutput    = "output"
)

// ErrInvalidSpec reports a Spec the runner refuses before starting anything:
// an empty argv, a relative or missing directory, a malformed environment
// entry or a negative limit.
var ErrInvalidSpec = errors.New("invalid spec")

// ErrIsolation reports that Config.RequireIsolation was set but this host
// cannot provide every isolation mechanism.
var ErrIsolation = errors.New("isolation unavailable")

// Built-in defaults, used where neither the Spec nor Config.DefaultLimits
// sets a value. They are deliberately small: a grading stage that needs more
// says so in its definition.
const (
	defaultTimeout     = 10 * time.Second
	defaultCPUSeconds  = 10
	defaultMemoryMB    = 512
	defaultProcesses   = 64
	defaultFileMB      = 16
	defaultOpenFiles   = 64
	defaultOutputBytes = 1 << 20
	defaultUser        = "nobody"
)

// Config configures a Runner. The env tags name the variables
// servicedefaults.LoadEnv reads it from.
type Config struct {
	// DefaultLimits fills the zero fields of every Spec's Limits; its own
	// zero fields fall back to built-in defaults, never to "unlimited".
	DefaultLimits Limits `envPrefix:"ZINC_SANDBOX_"`
	// DefaultTimeout is the wall-clock limit of a Spec without one (10 s if
	// zero).
	DefaultTimeout time.Duration `env:"ZINC_SANDBOX_DEFAULT_TIMEOUT"`
	// User is the unprivileged account commands run as when the worker is
	// root: a user name, a numeric uid, or "uid:gid". Default "nobody", or
	// 65534:65534 where no such user exists.
	User string `env:"ZINC_SANDBOX_USER"`
	// CgroupRoot is the cgroup filesystem root, such as "/sys/fs/cgroup";
	// empty means detect it from the mount table.
	CgroupRoot string `env:"ZINC_SANDBOX_CGROUP_ROOT"`
	// RequireIsolation makes New fail with ErrIsolation when any mechanism
	// listed in Capabilities is unavailable, instead of degrading.
	RequireIsolation bool `env:"ZINC_SANDBOX_REQUIRE_ISOLATION"`
}

// Capabilities reports which isolation mechanisms a Runner uses on this host.
type Capabilities struct {
	// NetworkNamespace: commands without Limits.Network get a network
	// namespace with no interfaces up.
	NetworkNamespace bool `json:"network_namespace"`
	// PIDNamespace: every process a command starts, detached or not, dies
	// with the command.
	PIDNamespace bool `json:"pid_namespace"`
	// MountNamespace: a private /proc and private temporary directories
	// (/tmp, /var/tmp, /dev/shm, /run/lock) that vanish with the command.
	MountNamespace bool `json:"mount_namespace"`
	// CgroupMemory: memory is limited and out-of-memory kills are detected
	// by a cgroup; without it RLIMIT_AS stands in.
	CgroupMemory bool `json:"cgroup_memory"`
	// CgroupPids: the number of processes and threads is limited by a
	// cgroup; without it RLIMIT_NPROC stands in.
	CgroupPids bool `json:"cgroup_pids"`
	// Rlimits: CPU seconds, file size, open files and core dumps are
	// limited per process.
	Rlimits bool `json:"rlimits"`
	// PrivilegeDrop: commands run as Config.User instead of root.
	PrivilegeDrop bool `json:"privilege_drop"`
}

// Missing lists the mechanisms that are not active, by their JSON names.
func (c Capabilities) Missing() []string {
	var missing []string
	for _, m := range []struct {
		name string
		ok   bool
	}{
		{"network_namespace", c.NetworkNamespace},
		{"pid_namespace", c.PIDNamespace},
		{"mount_namespace", c.MountNamespace},
		{"cgroup_memory", c.CgroupMemory},
		{"cgroup_pids", c.CgroupPids},
		{"rlimits", c.Rlimits},
		{"privilege_drop", c.PrivilegeDrop},
	} {
		if !m.ok {
			missing = append(missing, m.name)
		}
	}
	return missing
}

// consequences explains, for the start-up warning, what each missing
// mechanism means for a grading stage.
func (c Capabilities) consequences() []string {
	var out []string
	if !c.NetworkNamespace {
		out = append(out, "commands can reach the network")
	}
	if !c.PIDNamespace {
		out = append(out, "a process that leaves its process group (setsid) can outlive its stage")
	}
	if !c.MountNamespace {
		out = append(out, "files written to /tmp and other shared directories outlive the stage")
	}
	if !c.CgroupMemory {
		out = append(out, "memory is bounded by address space only and memory kills are not reported")
	}
	if !c.CgroupPids {
		out = append(out, "processes are bounded per user (RLIMIT_NPROC), not per stage")
	}
	if !c.Rlimits {
		out = append(out, "no per-process limits")
	}
	if !c.PrivilegeDrop {
		out = append(out, "commands run as the worker's user and can read its files and environment")
	}
	return out
}

// resolveLimits fills the zero fields of l from defaults, then from the
// built-in values, and rejects negative values.
func resolveLimits(l, defaults Limits) (Limits, error) {
	if err := checkLimits(l); err != nil {
		return Limits{}, err
	}
	if err := checkLimits(defaults); err != nil {
		return Limits{}, fmt.Errorf("default limits: %w", err)
	}
	l.CPUSeconds = firstPositive(l.CPUSeconds, defaults.CPUSeconds, defaultCPUSeconds)
	l.MemoryMB = firstPositive(l.MemoryMB, defaults.MemoryMB, defaultMemoryMB)
	l.MaxProcesses = firstPositive(l.MaxProcesses, defaults.MaxProcesses, defaultProcesses)
	l.MaxFileMB = firstPositive(l.MaxFileMB, defaults.MaxFileMB, defaultFileMB)
	l.OpenFiles = firstPositive(l.OpenFiles, defaults.OpenFiles, defaultOpenFiles)
	l.OutputLimitBytes = firstPositive(l.OutputLimitBytes, defaults.OutputLimitBytes, defaultOutputBytes)
	l.Network = l.Network || defaults.Network
	return l, nil
}

func checkLimits(l Limits) error {
	if l.CPUSeconds < 0 || l.MemoryMB < 0 || l.MaxProcesses < 0 || l.MaxFileMB < 0 ||
		l.OpenFiles < 0 || l.OutputLimitBytes < 0 {
		return fmt.Errorf("%w: negative limit", ErrInvalidSpec)
	}
	return nil
}

func firstPositive[T ~int | ~int64](vs ...T) T {
	for _, v := range vs {
		if v > 0 {
			return v
		}
	}
	return 0
}

// checkSpec validates the parts of a Spec that do not touch the filesystem.
func checkSpec(spec Spec) error {
	if len(spec.Argv) == 0 || spec.Argv[0] == "" {
		return fmt.Errorf("%w: empty argv", ErrInvalidSpec)
	}
	// The environment is applied by env(1), which would read a program name
	// containing "=" as one more variable.
	if strings.Contains(spec.Argv[0], "=") {
		return fmt.Errorf("%w: program name %q contains '='", ErrInvalidSpec, spec.Argv[0])
	}
	for _, kv := range spec.Env {
		if i := strings.IndexByte(kv, '='); i <= 0 {
			return fmt.Errorf("%w: environment entry %q is not NAME=value", ErrInvalidSpec, kv)
		}
		if strings.IndexByte(kv, 0) >= 0 {
			return fmt.Errorf("%w: environment entry contains a NUL byte", ErrInvalidSpec)
		}
	}
	for _, a := range spec.Argv {
		if strings.IndexByte(a, 0) >= 0 {
			return fmt.Errorf("%w: argument contains a NUL byte", ErrInvalidSpec)
		}
	}
	if spec.Dir == "" {
		return fmt.Errorf("%w: empty working directory", ErrInvalidSpec)
	}
	if spec.Timeout < 0 {
		return fmt.Errorf("%w: negative timeout", ErrInvalidSpec)
	}
	return nil
}
