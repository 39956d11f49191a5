//go:build linux

package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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

// runContainer runs j in a fresh container: bundle and layer, create,
// network, start, supervise, collect the cgroup's counters, delete, and
// commit the changes to the scratch tree unless the job is ephemeral.
func (r *Runner) runContainer(ctx context.Context, j job) (_ Result, err error) {
	id := r.id + "-" + strconv.FormatUint(r.seq.Add(1), 10)
	bundle := filepath.Join(r.stateDir, "bundles", id)
	if err := os.MkdirAll(bundle, 0o700); err != nil {
		return Result{}, fmt.Errorf("create bundle: %w", err)
	}
	defer func() { err = errors.Join(err, os.RemoveAll(bundle)) }()
	scratchInfo, err := os.Stat(j.scratch)
	if err != nil {
		return Result{}, fmt.Errorf("%w: scratch directory: %w", ErrInvalidSpec, err)
	}
	l, err := newLayer(filepath.Join(bundle, "layer"), j.lim.DiskMB, scratchInfo)
	if err != nil {
		return Result{}, err
	}
	defer func() { err = errors.Join(err, l.release()) }()
	c := container{
		id: id, cgroupPath: "/" + cgroupParent + "/" + r.id + "/" + id,
		argv: j.spec.Argv, env: j.spec.Env, dir: j.dir, scratch: j.scratch,
		layer: l.dir, mounts: j.spec.Mounts, lim: j.lim, rootfs: j.spec.RootFS,
	}
	if err := writeJSON(filepath.Join(bundle, "config.json"), r.ociSpec(c)); err != nil {
		return Result{}, err
	}
	res, err := r.supervise(ctx, j, c, bundle, l)
	if err != nil || j.spec.Ephemeral {
		return res, err
	}
	return res, l.commit(j.scratch, mountTargets(j.scratch, j.spec.Mounts), sandboxUID, sandboxUID)
}

// cgroupParent is the cgroup every runner's containers live under, one
// directory per runner.
const cgroupParent = "zinc-sandbox"

// supervise creates and starts the container and watches it until it ends,
// times out, floods its output or ctx ends; the container is always deleted.
func (r *Runner) supervise(ctx context.Context, j job, c container, bundle string, l *layer) (Result, error) {
	p, err := newPipes()
	if err != nil {
		return Result{}, err
	}
	defer p.closeParent()
	out := captureOutputs(p, j.lim.OutputLimitBytes)
	defer r.drain(&out.readers, p)

	pidFile := filepath.Join(bundle, "pid")
	create := exec.Command(r.host.runtime, r.runtimeArgs("create", "--bundle", bundle, "--pid-file", pidFile, c.id)...)
	create.Stdin, create.Stdout, create.Stderr = p.stdinR, p.stdoutW, p.stderrW
	create.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	createErr := create.Run()
	p.closeChild()
	deleted := false
	deleteContainer := func() {
		if !deleted {
			deleted = true
			_ = r.runtime(context.WithoutCancel(ctx), "delete", "--force", c.id)
		}
	}
	defer deleteContainer()
	if createErr != nil {
		p.closeParent()
		r.drain(&out.readers, p)
		msg, _, _ := out.stderr.result()
		return Result{}, fmt.Errorf("create container: %w: %s", createErr, bytes.TrimSpace(msg))
	}
	pid, err := readPID(pidFile)
	if err != nil {
		return Result{}, err
	}
	// Since the runtime's create has exited, the container's first process
	// is the runner's child (it is a subreaper): waiting on it yields the
	// real exit status or signal.
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
	}
	if err := r.runtime(ctx, "start", c.id); err != nil {
		kill()
		<-exited
		if ctx.Err() != nil {
			return Result{}, fmt.Errorf("command cancelled: %w", ctx.Err())
		}
		return Result{}, fmt.Errorf("start container: %w", err)
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
		cpuUsed:    ex.cpu,
		cpuLimit:   time.Duration(j.lim.CPUSeconds) * time.Second,
		fileAtCap:  l.fileAtLimit(int64(mib(j.lim.MaxFileMB))),
		diskFull:   l.full(),
	}
	// The container is dead; once deleted nothing holds the pipes.
	deleteContainer()
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
// the memory controller, "max" (refused forks) of the pids controller.
func (r *Runner) cgroupCounter(cgroupPath, controller, key string) int {
	file := map[string]string{"memory": "memory.events", "pids": "pids.events"}[controller]
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

// mountTargets lists the targets of mounts inside scratch, relative to it:
// their mount points must not be copied back.
func mountTargets(scratch string, mounts []Mount) map[string]bool {
	out := map[string]bool{}
	for _, m := range mounts {
		if rel, err := filepath.Rel(scratch, m.Target); err == nil && !strings.HasPrefix(rel, "..") {
			out[rel] = true
		}
	}
	return out
}
