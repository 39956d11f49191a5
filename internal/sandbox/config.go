package sandbox

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
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
	LimitDisk      = "disk"
)

// ErrInvalidSpec reports a Spec the runner refuses before starting anything:
// an empty argv, a relative or missing directory, a malformed environment
// entry, a negative limit, or a root file system that is relative or not
// sealed.
var ErrInvalidSpec = errors.New("invalid spec")

// ErrNoRuntime reports that no usable OCI runtime was found and
// ZINC_SANDBOX=unsafe-local was not set: the worker must not start.
var ErrNoRuntime = errors.New("no usable OCI runtime")

// ErrCommit reports that what a command wrote could not be copied back into
// its scratch directory: something the command left there (a special file
// in the way, a name too long) is the command's own doing. A host fault
// (disk full, read-only, I/O error) is a plain error instead.
var ErrCommit = errors.New("commit changes")

// Modes of Config.Mode.
const (
	// ModeOCI runs every command in a container of an OCI runtime.
	ModeOCI = "oci"
	// ModeUnsafeLocal runs commands as plain child processes of the worker,
	// with a timeout and output caps only. For development machines without
	// an OCI runtime; results are marked as graded unsandboxed.
	ModeUnsafeLocal = "unsafe-local"
)

// Modes of Config.Cells.
const (
	CellsAuto = "auto"
	CellsOn   = "on"
	CellsOff  = "off"
)

// Upper bounds of limits, far above any real command's but low enough
// that converting them (to bytes, a time.Duration or a cgroup quota) cannot
// overflow.
const (
	maxLimitCPUs    = 4096
	maxLimitSeconds = 1 << 31 // CPUSeconds: about 68 years
	maxLimitMB      = 1 << 30 // MemoryMB, MaxFileMB, DiskMB: 1 PiB
	maxLimitCount   = 1 << 30 // MaxProcesses, OpenFiles
)

// Built-in defaults, used where neither the Spec nor Config.DefaultLimits
// sets a value. They are deliberately small: a grading stage that needs more
// says so in its definition.
const (
	defaultTimeout     = 10 * time.Second
	defaultCPUSeconds  = 10
	defaultCPUs        = 1
	defaultMemoryMB    = 512
	defaultProcesses   = 64
	defaultFileMB      = 16
	defaultDiskMB      = 256
	defaultOpenFiles   = 64
	defaultOutputBytes = 1 << 20
	defaultRuntime     = "crun"
	// sandboxUID is the unprivileged user every command runs as: the
	// conventional "nobody", never a user of the host that owns files.
	sandboxUID = 65534
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
	// Mode is "" or "oci" (containers, the default) or "unsafe-local".
	Mode string `env:"ZINC_SANDBOX"`
	// Runtime is the OCI runtime binary: "crun" (default), "runc" or
	// "runsc" (gVisor), a name on PATH or an absolute path.
	Runtime string `env:"ZINC_SANDBOX_RUNTIME"`
	// StateDir holds the runner's prepared root file system, container
	// bundles and the runtime's state. Empty means a fresh directory under
	// the system temporary directory, removed by Close. Each runner uses its
	// own, so workers sharing a host never touch each other's containers.
	StateDir string `env:"ZINC_SANDBOX_STATE_DIR"`
	// Slots is how many CPUs' worth of commands run at once (the number of
	// CPUs if zero); a command takes as many slots as its CPU limit. A wall
	// timeout must measure the command, not how many others share the
	// CPUs: a command waits for its slots before its timeout starts.
	Slots int `env:"ZINC_SANDBOX_SLOTS"`
	// Cells is "auto" (the default: use cells where the host can), "on"
	// (refuse to start without them) or "off" (a container per command).
	// A cell is a long-lived container (two per slot) that runs each command in
	// fresh namespaces of its own with bwrap, saving the runtime's
	// start-up per command; commands with network access or an image root
	// always get a container of their own.
	Cells string `env:"ZINC_SANDBOX_CELLS"`
}

// Capabilities reports how a Runner isolates commands on this host.
type Capabilities struct {
	// Runtime is the OCI runtime's path; empty in unsafe-local mode.
	Runtime string `json:"runtime,omitempty"`
	// Containers: every command runs in its own container (namespaces,
	// cgroup, seccomp, read-only root).
	Containers bool `json:"containers"`
	// UserNetwork names the user-mode network helper that serves
	// Limits.Network ("slirp4netns" or "pasta"); empty when none is
	// installed, in which case such commands are refused.
	UserNetwork string `json:"user_network,omitempty"`
}

// Missing lists the mechanisms that are not active, by their JSON names.
func (c Capabilities) Missing() []string {
	var missing []string
	if !c.Containers {
		missing = append(missing, "containers")
	}
	if c.UserNetwork == "" {
		missing = append(missing, "user_network")
	}
	return missing
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
	l.CPUs = firstPositive(l.CPUs, defaults.CPUs, defaultCPUs)
	l.MemoryMB = firstPositive(l.MemoryMB, defaults.MemoryMB, defaultMemoryMB)
	l.MaxProcesses = firstPositive(l.MaxProcesses, defaults.MaxProcesses, defaultProcesses)
	l.MaxFileMB = firstPositive(l.MaxFileMB, defaults.MaxFileMB, defaultFileMB)
	l.DiskMB = firstPositive(l.DiskMB, defaults.DiskMB, defaultDiskMB)
	l.OpenFiles = firstPositive(l.OpenFiles, defaults.OpenFiles, defaultOpenFiles)
	l.OutputLimitBytes = firstPositive(l.OutputLimitBytes, defaults.OutputLimitBytes, defaultOutputBytes)
	l.Network = l.Network || defaults.Network
	return l, nil
}

func checkLimits(l Limits) error {
	if problems := l.problems(); len(problems) > 0 {
		var b strings.Builder
		for i, p := range problems {
			if i > 0 {
				b.WriteString("; ")
			}
			fmt.Fprintf(&b, "%s %s", p.json, p.msg)
		}
		return fmt.Errorf("%w: %s", ErrInvalidSpec, b.String())
	}
	return nil
}

// limitProblem is one out-of-range field of Limits, by its JSON and its
// environment name.
type limitProblem struct {
	json, env, msg string
}

// problems lists the fields of l that are negative, not a number, or so
// large that using them would overflow. Zero fields are fine: they mean
// "the default".
func (l Limits) problems() []limitProblem {
	var ps []limitProblem
	check := func(json, env string, v, maxV int64) {
		if v < 0 || v > maxV {
			ps = append(ps, limitProblem{json, env, fmt.Sprintf("%d: want 0 (the default) to %d", v, maxV)})
		}
	}
	if !(l.CPUs >= 0 && l.CPUs <= maxLimitCPUs) { // NaN too
		ps = append(ps, limitProblem{"cpus", "CPUS", fmt.Sprintf("%g: want 0 (the default) to %d", l.CPUs, maxLimitCPUs)})
	}
	check("cpu_seconds", "CPU_SECONDS", int64(l.CPUSeconds), maxLimitSeconds)
	check("memory_mb", "MEMORY_MB", int64(l.MemoryMB), maxLimitMB)
	check("max_processes", "MAX_PROCESSES", int64(l.MaxProcesses), maxLimitCount)
	check("max_file_mb", "MAX_FILE_MB", int64(l.MaxFileMB), maxLimitMB)
	check("disk_mb", "DISK_MB", int64(l.DiskMB), maxLimitMB)
	check("open_files", "OPEN_FILES", int64(l.OpenFiles), maxLimitCount)
	check("output_limit_bytes", "OUTPUT_LIMIT_BYTES", l.OutputLimitBytes, math.MaxInt64)
	return ps
}

// ValidateEnv reports every bad ZINC_SANDBOX_* setting by its variable, so
// that a worker refuses to start rather than fail at its first command or,
// in unsafe-local mode, ignore a setting it never reaches.
func (c Config) ValidateEnv() error {
	var errs []error
	for _, p := range c.DefaultLimits.problems() {
		errs = append(errs, fmt.Errorf("ZINC_SANDBOX_%s %s", p.env, p.msg))
	}
	if c.DefaultTimeout < 0 {
		errs = append(errs, fmt.Errorf("ZINC_SANDBOX_DEFAULT_TIMEOUT %v: want a positive duration", c.DefaultTimeout))
	}
	switch c.Mode {
	case "", ModeOCI, ModeUnsafeLocal:
	default:
		errs = append(errs, fmt.Errorf("ZINC_SANDBOX %q: want %q or %q", c.Mode, ModeOCI, ModeUnsafeLocal))
	}
	switch c.Cells {
	case "", CellsAuto, CellsOn, CellsOff:
	default:
		errs = append(errs, fmt.Errorf("ZINC_SANDBOX_CELLS %q: want %q, %q or %q", c.Cells, CellsAuto, CellsOn, CellsOff))
	}
	if c.Slots < 0 {
		errs = append(errs, fmt.Errorf("ZINC_SANDBOX_SLOTS %d: want a positive number", c.Slots))
	}
	return errors.Join(errs...)
}

func firstPositive[T ~int | ~int64 | ~float64](vs ...T) T {
	for _, v := range vs {
		if v > 0 {
			return v
		}
	}
	return 0
}

func mib(n int) uint64 { return uint64(n) << 20 }

// checkSpec validates the parts of a Spec that do not touch the filesystem.
func checkSpec(spec Spec) error {
	if len(spec.Argv) == 0 || spec.Argv[0] == "" {
		return fmt.Errorf("%w: empty argv", ErrInvalidSpec)
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
	if spec.RootFS != "" && !filepath.IsAbs(spec.RootFS) {
		return fmt.Errorf("%w: root file system %q is not absolute", ErrInvalidSpec, spec.RootFS)
	}
	for _, m := range spec.Mounts {
		if !filepath.IsAbs(m.Source) || !filepath.IsAbs(m.Target) {
			return fmt.Errorf("%w: mount %q on %q is not absolute", ErrInvalidSpec, m.Source, m.Target)
		}
	}
	return nil
}
