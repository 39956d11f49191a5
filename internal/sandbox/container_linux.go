//go:build linux

package sandbox

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// outputGrace bounds how long the runner keeps reading output once the
// container is gone; nothing should hold the pipes by then.
const outputGrace = 2 * time.Second

// runtimeTimeout bounds one call of the runtime binary (create, start,
// delete).
const runtimeTimeout = 30 * time.Second

// job is one resolved command.
type job struct {
	spec    Spec
	lim     Limits
	timeout time.Duration
	dir     string
	scratch string
}

// exit is how the container's first process ended.
type exit struct {
	status syscall.WaitStatus
	cpu    time.Duration
	err    error
}

// runContainer runs j in a fresh container: bundle and layer, create (and
// start), supervise, collect the cgroup's counters, and commit the changes
// to the scratch tree unless the job is ephemeral. Deleting the dead
// container and dropping its layer happen after the result is returned:
// nothing of them can change it, and they cost as much as starting one;
// release runs last.
func (r *Runner) runContainer(ctx context.Context, j job, release func()) (Result, error) {
	id := r.id + "-" + strconv.FormatUint(r.seq.Add(1), 10)
	done := cleanups{func() error { release(); return nil }}
	defer r.retire(id, &done)
	bundle := filepath.Join(r.stateDir, "bundles", id)
	if err := os.MkdirAll(bundle, 0o700); err != nil {
		return Result{}, fmt.Errorf("create bundle: %w", err)
	}
	done.push(func() error { return os.RemoveAll(bundle) })
	scratchInfo, err := os.Stat(j.scratch)
	if err != nil {
		return Result{}, fmt.Errorf("%w: scratch directory: %w", ErrInvalidSpec, err)
	}
	l, err := newLayer(filepath.Join(bundle, "layer"), j.lim.DiskMB, scratchInfo, 0o700)
	if err != nil {
		return Result{}, err
	}
	done.push(l.release)
	pins := pinnedDirs(j.scratch, j.spec.Mounts)
	if err := l.makeDirs(j.scratch, pins); err != nil {
		return Result{}, err
	}
	// The scratch view is mounted here rather than by the runtime, so that
	// its directories can be bound onto themselves (pins) from the host.
	view := filepath.Join(bundle, "view")
	if err := os.Mkdir(view, 0o700); err != nil {
		return Result{}, fmt.Errorf("create scratch view: %w", err)
	}
	opts := "lowerdir=" + j.scratch + ",upperdir=" + filepath.Join(l.dir, "upper") + ",workdir=" + filepath.Join(l.dir, "work")
	if err := unix.Mount("overlay", view, "overlay", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
		return Result{}, fmt.Errorf("mount scratch view: %w", err)
	}
	done.push(func() error { return unmount(view) })
	c := container{
		id: id, cgroupPath: "/" + cgroupParent + "/" + r.id + "/" + id,
		argv: j.spec.Argv, env: j.spec.Env, dir: j.dir, scratch: j.scratch,
		layer: l.dir, view: view, pins: pins, mounts: j.spec.Mounts, lim: j.lim, rootfs: j.spec.RootFS,
	}
	if err := writeJSON(filepath.Join(bundle, "config.json"), r.ociSpec(c)); err != nil {
		return Result{}, err
	}
	done.push(func() error { return r.runtime(context.WithoutCancel(ctx), "delete", "--force", c.id) })
	res, err := r.supervise(ctx, j, c, bundle, l)
	if err != nil || j.spec.Ephemeral {
		return res, err
	}
	return res, l.commit(j.scratch, mountTargets(j.scratch, j.spec.Mounts), sandboxUID, sandboxUID, int64(mib(j.lim.DiskMB)))
}

// cleanups undo the steps of one command, last step first.
type cleanups []func() error

func (c *cleanups) push(f func() error) { *c = append(*c, f) }

func (c cleanups) run() error {
	var err error
	for i := len(c) - 1; i >= 0; i-- {
		err = errors.Join(err, c[i]())
	}
	return err
}

// retire runs a command's cleanups in the background; Close waits for
// them. A failure leaves a dead container or a layer behind, which Close
// removes with the state directory, so it is logged, not returned.
func (r *Runner) retire(id string, c *cleanups) {
	r.retiring.Go(func() {
		if err := c.run(); err != nil {
			r.log.Warn("sandbox: clean up container", "container", id, "error", err)
		}
	})
}

// cgroupParent is the cgroup every runner's containers live under, one
// directory per runner.
const cgroupParent = "zinc-sandbox"

// supervise starts the container and watches it until it ends, times out,
// floods its output or ctx ends; its first process is always dead when
// supervise returns.
func (r *Runner) supervise(ctx context.Context, j job, c container, bundle string, l *layer) (Result, error) {
	p, err := newPipes()
	if err != nil {
		return Result{}, err
	}
	defer p.closeParent()
	out := captureOutputs(p, j.lim.OutputLimitBytes)
	defer r.drain(&out.readers, p)

	// Without a network to attach first, one runtime call creates and
	// starts the container.
	verb := []string{"run", "--detach"}
	if j.lim.Network {
		verb = []string{"create"}
	}
	pidFile := filepath.Join(bundle, "pid")
	create := exec.Command(r.host.runtime, r.runtimeArgs(append(verb, "--bundle", bundle, "--pid-file", pidFile, c.id)...)...)
	create.Stdin, create.Stdout, create.Stderr = p.stdinR, p.stdoutW, p.stderrW
	create.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	createErr := create.Run()
	p.closeChild()
	if createErr != nil {
		p.closeParent()
		r.drain(&out.readers, p)
		msg, _, _ := out.stderr.result()
		return Result{}, fmt.Errorf("%s container: %w: %s", verb[0], createErr, bytes.TrimSpace(msg))
	}
	pid, err := readPID(pidFile)
	if err != nil {
		return Result{}, err
	}
	// Once the runtime has exited, the container's first process is the
	// runner's child (it is a subreaper): waiting on it yields the real
	// exit status or signal.
	if err := awaitAdoption(pid); err != nil {
		_ = unix.Kill(pid, unix.SIGKILL)
		return Result{}, err
	}
	exited := make(chan exit, 1)
	go func() { exited <- wait4(pid) }()
	kill := func() { _ = unix.Kill(pid, unix.SIGKILL) }
	if j.lim.Network {
		n, err := r.startNetwork(ctx, pid)
		if err != nil {
			kill()
			<-exited
			return Result{}, err
		}
		defer n.stop()
		if err := r.runtime(ctx, "start", c.id); err != nil {
			kill()
			<-exited
			if ctx.Err() != nil {
				return Result{}, fmt.Errorf("command cancelled: %w", ctx.Err())
			}
			return Result{}, fmt.Errorf("start container: %w", err)
		}
	}
	start := time.Now()
	var feeder sync.WaitGroup
	feeder.Go(func() {
		// A command that exits without reading its stdin makes this write
		// fail with EPIPE; that is the command's business.
		_, _ = p.stdinW.Write(j.spec.Stdin)
		_ = p.stdinW.Close()
	})
	defer feeder.Wait()

	ex, end := watch(ctx, exited, j.timeout, out.flood)
	duration := time.Since(start)
	if !end.exited {
		// The first process dies with its PID namespace: the kernel kills
		// every other process in it.
		kill()
		ex = <-exited
	}
	if ex.err != nil {
		return Result{}, fmt.Errorf("wait for container: %w", ex.err)
	}
	_ = p.stdinW.Close()
	res := Result{TimedOut: end.timedOut, Duration: duration}
	res.ExitCode, res.Signal = exitOf(ex.status)
	facts := hitFacts{
		oomKills:   r.cgroupCounter(c.cgroupPath, "memory", "oom_kill"),
		pidsMax:    r.cgroupCounter(c.cgroupPath, "pids", "max"),
		signal:     res.Signal,
		exitCode:   res.ExitCode,
		killedByUs: end.killedByUs(),
		cpuUsed:    max(ex.cpu, r.cgroupCPU(c.cgroupPath)),
		cpuLimit:   time.Duration(j.lim.CPUSeconds) * time.Second,
		fileAtCap:  l.fileAtLimit(int64(mib(j.lim.MaxFileMB))),
		diskFull:   l.full(),
	}
	// The PID namespace died with its first process, and with it every
	// process that held the pipes.
	r.drain(&out.readers, p)
	facts.flooded, facts.truncated = out.fill(&res)
	res.LimitHit = limitHit(facts)
	if end.cancelled {
		return res, fmt.Errorf("command cancelled: %w", ctx.Err())
	}
	return res, nil
}

// exitOf reads the init shell's status: its own death by signal (the
// runner's kill), or the command's exit status, where 128+N means the
// command died of signal N.
func exitOf(ws syscall.WaitStatus) (code int, signal string) {
	if ws.Signaled() {
		return -1, unix.SignalName(ws.Signal())
	}
	code = ws.ExitStatus()
	if sig := syscall.Signal(code - 128); code > 128 && sig <= unix.SIGSYS && unix.SignalName(sig) != "" {
		return -1, unix.SignalName(sig)
	}
	return code, ""
}

// awaitAdoption waits until the runner is the parent of pid. The runtime
// may still be exiting: `run --detach` returns before the process that
// cloned the container's first one has ended, and only then is the orphan
// handed to the runner, its subreaper.
func awaitAdoption(pid int) error {
	self := os.Getpid()
	for range 8 {
		ppid, err := parentOf(pid)
		if err != nil {
			return err
		}
		if ppid == self {
			return nil
		}
		fd, err := unix.PidfdOpen(ppid, 0)
		if err == unix.ESRCH {
			continue // already gone: read the new parent
		}
		if err != nil {
			return fmt.Errorf("watch runtime process %d: %w", ppid, err)
		}
		// A pidfd becomes readable when its process has exited.
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		_, err = unix.Poll(fds, int(runtimeTimeout.Milliseconds()))
		_ = unix.Close(fd)
		if err != nil && err != unix.EINTR {
			return fmt.Errorf("watch runtime process %d: %w", ppid, err)
		}
	}
	return fmt.Errorf("container process %d was not handed to the runner", pid)
}

// parentOf reads the parent PID of pid from /proc.
func parentOf(pid int) (int, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, fmt.Errorf("read container process: %w", err)
	}
	_, rest, ok := strings.Cut(string(b), "\nPPid:\t")
	if !ok {
		return 0, fmt.Errorf("read container process: no parent in /proc/%d/status", pid)
	}
	line, _, _ := strings.Cut(rest, "\n")
	return strconv.Atoi(line)
}

// wait4 reaps pid, retrying on EINTR.
func wait4(pid int) exit {
	var ws unix.WaitStatus
	var ru unix.Rusage
	for {
		_, err := unix.Wait4(pid, &ws, 0, &ru)
		if err == unix.EINTR {
			continue
		}
		cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		return exit{status: syscall.WaitStatus(ws), cpu: cpu, err: err}
	}
}

// runtimeArgs puts the runner's own state directory in front of a runtime
// command, so that runners never see each other's containers.
func (r *Runner) runtimeArgs(args ...string) []string {
	return append([]string{"--root", filepath.Join(r.stateDir, "runtime")}, args...)
}

// runtime runs one runtime command that needs no stdio.
func (r *Runner) runtime(ctx context.Context, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, runtimeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.host.runtime, r.runtimeArgs(args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %w: %s", r.host.runtimeName, args[0], err, bytes.TrimSpace(out))
	}
	return nil
}

// cgroupCounter reads one counter of the container's cgroup: "oom_kill" of
// the memory controller, "max" (refused forks) of the pids controller,
// "usage_usec" of the cpu controller (cgroups v2), "user" and "system"
// of cpuacct (v1).
func (r *Runner) cgroupCounter(cgroupPath, controller, key string) int {
	file := map[string]string{"memory": "memory.events", "pids": "pids.events", "cpu": "cpu.stat", "cpuacct": "cpuacct.stat"}[controller]
	if !r.host.cgroup2 && controller == "memory" {
		file = "memory.oom_control"
	}
	b, err := os.ReadFile(r.host.cgroupFile(cgroupPath, controller, file))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && k == key {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
}

// cgroupCPU reads the CPU time every process of the container used; 0 if
// the counters cannot be read. RLIMIT_CPU is enforced on tick-sampled time,
// which on a busy host runs ahead of the exact run time, so on cgroups v1
// the larger of cpuacct.usage (exact) and cpuacct.stat (ticks, the
// kernel's own view for the rlimit) is taken.
func (r *Runner) cgroupCPU(cgroupPath string) time.Duration {
	return r.cgroupCPUCounters(cgroupPath).used()
}

// cpuCounters are a cgroup's CPU time, exact and in ticks (zero on v2).
type cpuCounters struct{ exact, ticks time.Duration }

func (c cpuCounters) used() time.Duration { return max(c.exact, c.ticks) }

// since is what was used after c was read, as of now.
func (c cpuCounters) since(before cpuCounters) time.Duration {
	return max(c.exact-before.exact, c.ticks-before.ticks)
}

func (r *Runner) cgroupCPUCounters(cgroupPath string) cpuCounters {
	if r.host.cgroup2 {
		return cpuCounters{exact: time.Duration(r.cgroupCounter(cgroupPath, "cpu", "usage_usec")) * time.Microsecond}
	}
	var c cpuCounters
	if b, err := os.ReadFile(r.host.cgroupFile(cgroupPath, "cpuacct", "cpuacct.usage")); err == nil {
		ns, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		c.exact = time.Duration(ns)
	}
	// cpuacct.stat counts in USER_HZ, 100 per second on Linux.
	ticks := r.cgroupCounter(cgroupPath, "cpuacct", "user") + r.cgroupCounter(cgroupPath, "cpuacct", "system")
	c.ticks = time.Duration(ticks) * 10 * time.Millisecond
	return c
}

// drain waits for the output readers, closing the read ends after
// outputGrace should anything still hold the pipes.
func (r *Runner) drain(readers *sync.WaitGroup, p *pipes) {
	done := make(chan struct{})
	go func() {
		readers.Wait()
		close(done)
	}()
	grace := time.NewTimer(outputGrace)
	defer grace.Stop()
	select {
	case <-done:
	case <-grace.C:
		_ = p.stdoutR.Close()
		_ = p.stderrR.Close()
		<-done
	}
}

func readPID(file string) (int, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, fmt.Errorf("read container pid: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("read container pid: %q", b)
	}
	return pid, nil
}

func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", filepath.Base(path), err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return nil
}

// pinnedDirs lists, relative to scratch and parents first, the directories
// inside scratch on the way to its mount targets. Each is bound onto itself
// for the command, so that as a mount point it can be neither renamed nor
// removed: otherwise a command moves tests/ aside, makes a tests/ of its
// own, and whatever reads tests/expected.txt after it (a harness run as the
// stage's command) reads the student's file instead of the read-only one.
func pinnedDirs(scratch string, mounts []Mount) []string {
	seen := map[string]bool{}
	for rel := range mountTargets(scratch, mounts) {
		for d := filepath.Dir(rel); d != "." && d != "/"; d = filepath.Dir(d) {
			seen[d] = true
		}
	}
	dirs := make([]string, 0, len(seen))
	for d := range seen {
		dirs = append(dirs, d)
	}
	slices.SortFunc(dirs, func(a, b string) int {
		return cmp.Or(cmp.Compare(strings.Count(a, "/"), strings.Count(b, "/")), cmp.Compare(a, b))
	})
	return dirs
}

// mountTargets lists the targets of mounts inside scratch, relative to it:
// their mount points must not be copied back.
func mountTargets(scratch string, mounts []Mount) map[string]bool {
	out := map[string]bool{}
	for _, m := range mounts {
		if rel, ok := within(scratch, m.Target); ok {
			out[rel] = true
		}
	}
	return out
}
