package sandbox

import "time"

// Limits bound what one command may use. A zero field means "use the
// runner's default"; defaults are never unlimited.
// The env tags name the variables that set Config.DefaultLimits, under the
// prefix ZINC_SANDBOX_ (for example ZINC_SANDBOX_MEMORY_MB).
type Limits struct {
	CPUSeconds       int   `json:"cpu_seconds,omitempty" env:"CPU_SECONDS"`
	MemoryMB         int   `json:"memory_mb,omitempty" env:"MEMORY_MB"`
	MaxProcesses     int   `json:"max_processes,omitempty" env:"MAX_PROCESSES"`
	MaxFileMB        int   `json:"max_file_mb,omitempty" env:"MAX_FILE_MB"`
	OpenFiles        int   `json:"open_files,omitempty" env:"OPEN_FILES"`
	OutputLimitBytes int64 `json:"output_limit_bytes,omitempty" env:"OUTPUT_LIMIT_BYTES"`
	// Network allows network access; by default the command gets none.
	Network bool `json:"network,omitempty" env:"NETWORK"`
}

// Spec is one command to run in isolation.
type Spec struct {
	// Argv is the program and its arguments; there is no shell unless Argv
	// asks for one.
	Argv []string
	// Dir is the working directory: the stage's scratch directory.
	Dir string
	// Stdin is fed to the command; nil means an empty stdin.
	Stdin []byte
	// Env is the complete environment; nothing of the worker's leaks in.
	Env []string
	// Timeout is the wall-clock limit; when it passes the whole process
	// tree is killed.
	Timeout time.Duration
	Limits  Limits
}

// Result is what happened to a command.
type Result struct {
	// ExitCode is the exit status, or -1 when a signal ended the command.
	ExitCode int
	// Signal names the signal that ended the command ("SIGKILL"), if any.
	Signal   string
	TimedOut bool
	// LimitHit names the limit the command ran into: "memory", "cpu",
	// "processes", "file_size", "output" or "" for none.
	LimitHit        string
	Duration        time.Duration
	Stdout          []byte
	Stderr          []byte
	StdoutTruncated bool
	StderrTruncated bool
}
