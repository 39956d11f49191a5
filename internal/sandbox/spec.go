package sandbox

import "time"

// Limits bound what one command may use. A zero field means "use the
// runner's default"; defaults are never unlimited.
// The env tags name the variables that set Config.DefaultLimits, under the
// prefix ZINC_SANDBOX_ (for example ZINC_SANDBOX_MEMORY_MB).
type Limits struct {
	CPUSeconds int `json:"cpu_seconds,omitempty" env:"CPU_SECONDS"`
	// CPUs is the CPU bandwidth of the whole command, in CPUs (a cgroup
	// quota): 1 lets eight busy processes share one CPU between them.
	CPUs         float64 `json:"cpus,omitempty" env:"CPUS"`
	MemoryMB     int     `json:"memory_mb,omitempty" env:"MEMORY_MB"`
	MaxProcesses int     `json:"max_processes,omitempty" env:"MAX_PROCESSES"`
	MaxFileMB    int     `json:"max_file_mb,omitempty" env:"MAX_FILE_MB"`
	// DiskMB bounds what one command may write, to its directory tree and
	// /tmp together (a tmpfs charged to its memory cgroup).
	DiskMB           int   `json:"disk_mb,omitempty" env:"DISK_MB"`
	OpenFiles        int   `json:"open_files,omitempty" env:"OPEN_FILES"`
	OutputLimitBytes int64 `json:"output_limit_bytes,omitempty" env:"OUTPUT_LIMIT_BYTES"`
	// Network allows access to the outside through a user-mode network; by
	// default the command gets only its own loopback.
	Network bool `json:"network,omitempty" env:"NETWORK"`
}

// Spec is one command to run in isolation.
type Spec struct {
	// Argv is the program and its arguments; there is no shell unless Argv
	// asks for one.
	Argv []string
	// Dir is the working directory: the stage's scratch directory or a
	// directory inside Scratch.
	Dir string
	// Scratch is the directory tree the command may write, visible at the
	// same path inside the container; empty means Dir. Nothing else of the
	// host is writable or, beyond the toolchain, visible.
	Scratch string
	// Ephemeral discards everything the command wrote to Scratch: it runs
	// on a copy-on-write view of the tree. Without it the changes are
	// copied back into Scratch once the command has ended.
	Ephemeral bool
	// Mounts are host files or directories shown read-only at Target
	// (inside Scratch or elsewhere) for this command only.
	Mounts []Mount
	// Stdin is fed to the command; nil means an empty stdin.
	Stdin []byte
	// Env is the complete environment; nothing of the worker's leaks in.
	Env []string
	// Timeout is the wall-clock limit; when it passes the whole container
	// is killed.
	Timeout time.Duration
	Limits  Limits
	// RootFS is the absolute path of an image file system prepared by
	// SealRootFS, shown read-only as the container's root instead of the
	// worker's toolchain; empty means the toolchain. The rest of the
	// container is the same: namespaces, limits, seccomp, /proc, /dev, a
	// private /tmp and the scratch tree, and the runner's hosts, hostname
	// and resolv.conf over the image's.
	RootFS string
}

// Mount shows a host path inside the command's container, read-only.
type Mount struct {
	Source string
	Target string
}

// Result is what happened to a command.
type Result struct {
	// ExitCode is the exit status, or -1 when a signal ended the command.
	ExitCode int
	// Signal names the signal that ended the command ("SIGKILL"), if any.
	Signal   string
	TimedOut bool
	// LimitHit names the limit the command ran into: "memory", "cpu",
	// "processes", "file_size", "disk", "output" or "" for none.
	LimitHit        string
	Duration        time.Duration
	Stdout          []byte
	Stderr          []byte
	StdoutTruncated bool
	StderrTruncated bool
	// Unsandboxed is set when the command ran without a container
	// (ZINC_SANDBOX=unsafe-local).
	Unsandboxed bool
}
