//go:build linux

package sandbox

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sync/semaphore"
	"golang.org/x/sys/unix"
)

// setupTimeout bounds the start-up self-test.
const setupTimeout = 30 * time.Second

// Runner runs commands in containers of an OCI runtime, or, in unsafe-local
// mode, as plain child processes. It is safe for concurrent use.
type Runner struct {
	cfg     Config
	log     *slog.Logger
	host    host
	root    rootfs
	seccomp *specs.LinuxSeccomp
	// seccompBPF is seccomp compiled once, for crun's annotation; empty
	// when the runtime compiles the profile itself.
	seccompBPF string
	hostAddrs  []string
	stateDir   string
	ownState   bool
	id         string
	seq        atomic.Uint64
	// retiring tracks the background clean-up of finished containers.
	retiring sync.WaitGroup
	unsafe   bool
	slots    *semaphore.Weighted
	maxSlots int64
	// cells are the idle cells (nil when commands each get a container);
	// a nil entry stands for a cell that could not be restarted.
	cells chan *cell
	bwrap string
	// cellProcMasks are bwrap's options masking /proc, cellMemsw whether the
	// memory controller limits swap (memory.memsw, cgroups v1).
	cellProcMasks  []string
	cellMemsw      bool
	cellSeccomp    *specs.LinuxSeccomp
	cellSeccompBPF string
	// commandBPF is the commands' seccomp filter, raw, for bwrap.
	commandBPF []byte
}

// New finds the OCI runtime, prepares the shared read-only root, and runs
// one trial container, so that a broken host fails start-up instead of
// every grading stage. Without a usable runtime it fails with ErrNoRuntime
// unless cfg.Mode is "unsafe-local".
func New(cfg Config, log *slog.Logger) (*Runner, error) {
	if log == nil {
		return nil, errors.New("new sandbox: nil logger")
	}
	if _, err := resolveLimits(Limits{}, cfg.DefaultLimits); err != nil {
		return nil, fmt.Errorf("new sandbox: %w", err)
	}
	if cfg.DefaultTimeout < 0 {
		return nil, fmt.Errorf("new sandbox: %w: negative default timeout", ErrInvalidSpec)
	}
	if cfg.Slots < 0 {
		return nil, fmt.Errorf("new sandbox: %w: negative slots", ErrInvalidSpec)
	}
	switch cfg.Cells { // checked before unsafe-local returns early
	case "", CellsAuto, CellsOn, CellsOff:
	default:
		return nil, fmt.Errorf("new sandbox: %w: unknown ZINC_SANDBOX_CELLS %q (want %q, %q or %q)", ErrInvalidSpec, cfg.Cells, CellsAuto, CellsOn, CellsOff)
	}
	id := make([]byte, 4)
	if _, err := rand.Read(id); err != nil {
		return nil, fmt.Errorf("new sandbox: %w", err)
	}
	maxSlots := int64(firstPositive(cfg.Slots, runtime.NumCPU()))
	r := &Runner{cfg: cfg, log: log, id: "z" + hex.EncodeToString(id), slots: semaphore.NewWeighted(maxSlots), maxSlots: maxSlots}
	switch cfg.Mode {
	case ModeUnsafeLocal:
		r.unsafe = true
		log.Warn("SANDBOX DISABLED: ZINC_SANDBOX=unsafe-local runs student code as plain processes of the worker, "+
			"with the worker's user, files and network; results are marked as graded unsandboxed. Never use it for real students.",
			"mode", cfg.Mode)
		return r, nil
	case "", ModeOCI:
	default:
		return nil, fmt.Errorf("new sandbox: %w: unknown ZINC_SANDBOX mode %q (want %q or %q)", ErrInvalidSpec, cfg.Mode, ModeOCI, ModeUnsafeLocal)
	}
	if err := r.prepare(); err != nil {
		_ = r.Close()
		return nil, fmt.Errorf("new sandbox: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	if err := r.selfTest(ctx); err != nil {
		_ = r.Close()
		return nil, fmt.Errorf("new sandbox: %w: %w", ErrNoRuntime, err)
	}
	if err := r.enableCells(ctx); err != nil {
		_ = r.Close()
		return nil, fmt.Errorf("new sandbox: %w", err)
	}
	log.Info("sandbox ready", "runtime", r.host.runtime, "user_network", r.host.network,
		"cells", r.cells != nil, "state_dir", r.stateDir)
	return r, nil
}

// enableCells starts the cells and runs the self-test through one, unless
// cfg.Cells is "off". Where cells cannot work it fails for "on" and, for
// "auto", warns and leaves every command a container of its own.
func (r *Runner) enableCells(ctx context.Context) error {
	switch r.cfg.Cells {
	case CellsOff:
		return nil
	case "", CellsAuto, CellsOn:
	default:
		return fmt.Errorf("%w: unknown ZINC_SANDBOX_CELLS %q (want %q, %q or %q)", ErrInvalidSpec, r.cfg.Cells, CellsAuto, CellsOn, CellsOff)
	}
	err := r.startCells(ctx)
	if err == nil {
		if err = r.selfTest(ctx); err != nil {
			r.stopCells()
		}
	}
	switch {
	case err == nil:
		return nil
	case r.cfg.Cells == CellsOn:
		return fmt.Errorf("%w: cells: %w", ErrNoRuntime, err)
	}
	r.log.Warn("sandbox: cells unavailable; every command gets a container of its own (slower, as safe)", "error", err)
	return nil
}

// prepare detects the host and builds the state directory.
func (r *Runner) prepare() error {
	var err error
	if r.host, err = detectHost(r.cfg.Runtime); err != nil {
		return err
	}
	// The runtime's own cgroup handling needs the runner to be the parent
	// of every container's first process once create has returned.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("become subreaper: %w", err)
	}
	if err := r.host.prepareCpuset(r.id); err != nil {
		return err
	}
	if r.seccomp, err = defaultSeccomp(); err != nil {
		return err
	}
	if r.host.runtimeName == "crun" {
		if r.seccompBPF, err = compileSeccomp(r.seccomp); err != nil {
			// Still confined: crun compiles the profile, only slower.
			r.log.Warn("sandbox: seccomp profile not precompiled; the runtime compiles it per container", "error", err)
		}
	}
	r.hostAddrs = hostAddresses()
	r.stateDir = r.cfg.StateDir
	if r.stateDir == "" {
		if r.stateDir, err = os.MkdirTemp("", "zinc-sandbox-"); err != nil {
			return fmt.Errorf("create state directory: %w", err)
		}
		r.ownState = true
	} else {
		r.stateDir = filepath.Join(r.stateDir, r.id)
		if err := os.MkdirAll(r.stateDir, 0o700); err != nil {
			return fmt.Errorf("create state directory: %w", err)
		}
		r.ownState = true
	}
	if err := os.Chmod(r.stateDir, 0o700); err != nil {
		return fmt.Errorf("create state directory: %w", err)
	}
	r.root, err = buildRootfs(filepath.Join(r.stateDir, "rootfs"))
	return err
}

// Close removes the runner's state directory and its (empty) cgroup
// parents. Only this runner's: other workers on the host keep theirs.
func (r *Runner) Close() error {
	if r.unsafe || !r.ownState {
		return nil
	}
	r.retiring.Wait()
	r.stopCells()
	for _, c := range []string{"memory", "pids", "cpu", "cpuacct", "cpuset", "devices", "freezer", "blkio", "hugetlb", "net_cls", "perf_event", "name=systemd", "systemd", "unified"} {
		_ = os.Remove(r.host.cgroupFile("/"+cgroupParent+"/"+r.id, c, ""))
	}
	if err := os.RemoveAll(r.stateDir); err != nil {
		return fmt.Errorf("remove sandbox state: %w", err)
	}
	return nil
}

// Slots is how many CPUs' worth of commands the runner runs at once.
func (r *Runner) Slots() int { return int(r.maxSlots) }

// ResolveLimits returns the limits a Spec with l runs under: l with its
// zero fields filled from the runner's defaults.
func (r *Runner) ResolveLimits(l Limits) (Limits, error) {
	return resolveLimits(l, r.cfg.DefaultLimits)
}

// Capabilities reports how this runner isolates commands.
func (r *Runner) Capabilities() Capabilities {
	if r.unsafe {
		return Capabilities{}
	}
	return Capabilities{Runtime: r.host.runtime, Containers: true, UserNetwork: r.host.network}
}

// selfTest runs one command through a container.
func (r *Runner) selfTest(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "zinc-sandbox-probe-")
	if err != nil {
		return fmt.Errorf("create probe directory: %w", err)
	}
	defer func() { _ = os.RemoveAll(dir) }()
	res, err := r.Run(ctx, Spec{
		// A runtime that ignored the seccomp filter fails the probe.
		Argv: []string{"/bin/sh", "-c", `grep -q '^Seccomp:[[:space:]]*2$' /proc/self/status && echo ok; exit 7`},
		Dir:  dir, Ephemeral: true,
		// The probe must fit whatever defaults the caller configured.
		Limits:  Limits{CPUSeconds: 5, MemoryMB: 64, MaxProcesses: 8, OpenFiles: 64, DiskMB: 8},
		Timeout: setupTimeout,
	})
	if err != nil {
		return fmt.Errorf("probe sandbox: %w", err)
	}
	if res.ExitCode != 7 || string(res.Stdout) != "ok\n" {
		return fmt.Errorf("probe sandbox: exit %d, signal %q, stdout %q, stderr %q",
			res.ExitCode, res.Signal, res.Stdout, res.Stderr)
	}
	return nil
}

// Run runs spec and reports what happened. The command's own failure —
// non-zero exit, signal, timeout, limit — is in the Result; the error is
// only for faults of the sandbox itself, an invalid spec (ErrInvalidSpec)
// or a cancelled ctx, in which case the command has been killed.
func (r *Runner) Run(ctx context.Context, spec Spec) (Result, error) {
	res, err := r.run(ctx, spec)
	if err != nil {
		return res, fmt.Errorf("run sandboxed command: %w", err)
	}
	return res, nil
}

func (r *Runner) run(ctx context.Context, spec Spec) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	j, err := r.resolve(spec)
	if err != nil {
		return Result{}, err
	}
	weight := min(int64(math.Ceil(float64(j.lim.CPUs))), r.maxSlots)
	if err := r.slots.Acquire(ctx, weight); err != nil {
		return Result{}, fmt.Errorf("wait for a free slot: %w", err)
	}
	release := func() { r.slots.Release(weight) }
	if r.unsafe {
		defer release()
		return r.runLocal(ctx, j)
	}
	if err := validScratch(j.scratch); err != nil {
		release()
		return Result{}, err
	}
	if err := r.mountPoint(j); err != nil {
		release()
		return Result{}, err
	}
	if err := chownTree(j.scratch, sandboxUID, sandboxUID); err != nil {
		release()
		return Result{}, err
	}
	// A container's slots stay taken until it is deleted: its clean-up is
	// CPU work too, and the next command's timeout must not pay for it. A
	// cell command frees them once its result is in (see runInCell).
	if r.cells != nil && !j.lim.Network && j.spec.RootFS == "" {
		return r.runInCell(ctx, j, release)
	}
	return r.runContainer(ctx, j, release)
}

// resolve checks spec and fills in the defaults.
func (r *Runner) resolve(spec Spec) (job, error) {
	if err := checkSpec(spec); err != nil {
		return job{}, err
	}
	lim, err := resolveLimits(spec.Limits, r.cfg.DefaultLimits)
	if err != nil {
		return job{}, err
	}
	dir, err := realDir(spec.Dir)
	if err != nil {
		return job{}, err
	}
	scratch := dir
	if spec.Scratch != "" {
		if scratch, err = realDir(spec.Scratch); err != nil {
			return job{}, err
		}
		if _, ok := within(scratch, dir); !ok {
			return job{}, fmt.Errorf("%w: working directory %q is outside the scratch directory", ErrInvalidSpec, spec.Dir)
		}
	}
	// The container sees the scratch tree at its real path: mount targets
	// given through a symbolic link to it must follow.
	given := cmp.Or(spec.Scratch, spec.Dir)
	mounts := make([]Mount, len(spec.Mounts))
	for i, m := range spec.Mounts {
		if rel, ok := within(given, m.Target); ok {
			m.Target = filepath.Join(scratch, rel)
		}
		mounts[i] = m
	}
	spec.Mounts = mounts
	return job{
		spec: spec, lim: lim, dir: dir, scratch: scratch,
		timeout: firstPositive(spec.Timeout, r.cfg.DefaultTimeout, defaultTimeout),
	}, nil
}
