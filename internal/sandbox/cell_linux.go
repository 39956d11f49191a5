//go:build linux

package sandbox

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// A cell is a long-lived container that runs commands one at a time. It
// exists to take the OCI runtime's start-up (about 10 ms of CPU per
// container on cgroups v1) off every command: each command gets fresh
// user, PID, IPC, network, UTS, cgroup and mount namespaces from bwrap
// inside the cell, the same read-only root, masked /proc, private /dev,
// /tmp and scratch view as a container of its own, the moby seccomp
// profile and the cell's cgroup, whose limits the runner sets for the
// command. Commands that need the user-mode network or an image root keep
// a container of their own.
type cell struct {
	id, dir    string
	cgroupPath string
	// pid is the cell loop's PID on the host.
	pid      int
	requests *os.File
	replies  *bufio.Reader
	dead     chan struct{}
}

// cellReplyTimeout bounds the wait for a cell's answer once the command's
// processes have been killed.
const cellReplyTimeout = 10 * time.Second

// findBwrap finds bwrap where a cell sees it.
func findBwrap() (string, error) {
	p := lookTool("bwrap")
	switch {
	case p == "":
		return "", errors.New("bwrap is not installed (Debian: bubblewrap)")
	case !inToolchain(p):
		return "", fmt.Errorf("%s is outside the toolchain directories a cell sees", p)
	}
	return p, nil
}

func inToolchain(path string) bool {
	for _, d := range toolchainDirs {
		if _, ok := within(d, path); ok {
			return true
		}
	}
	return false
}

// cellsPerSlot is how many cells a runner keeps per slot: a cell stays
// taken while its command's mounts are undone, after the slot is free.
const cellsPerSlot = 2

// startCells prepares the cells' seccomp filters and starts cellsPerSlot
// cells per slot, so that a command seldom waits for one.
func (r *Runner) startCells(ctx context.Context) error {
	if r.host.runtimeName == "runsc" {
		return errors.New("cells need crun or runc: gVisor runs every command in a container of its own")
	}
	var err error
	if r.bwrap, err = findBwrap(); err != nil {
		return err
	}
	raw := r.seccompBPF
	if raw == "" {
		if raw, err = compileSeccomp(r.seccomp); err != nil {
			return fmt.Errorf("compile the commands' seccomp filter: %w", err)
		}
	}
	if r.commandBPF, err = base64.StdEncoding.DecodeString(raw); err != nil {
		return fmt.Errorf("decode seccomp filter: %w", err)
	}
	if r.cellSeccomp, err = cellSeccomp(); err != nil {
		return err
	}
	if r.host.runtimeName == "crun" {
		if r.cellSeccompBPF, err = compileSeccomp(r.cellSeccomp); err != nil {
			r.log.Warn("sandbox: cell seccomp profile not precompiled; the runtime compiles it", "error", err)
		}
	}
	// Per-host facts every command's set-up needs, found once.
	r.cellProcMasks = procMasks()
	_, err = os.Stat(r.host.cgroupFile("/", "memory", "memory.memsw.limit_in_bytes"))
	r.cellMemsw = err == nil
	r.cells = make(chan *cell, cellsPerSlot*r.maxSlots)
	for range cellsPerSlot * r.maxSlots {
		c, err := r.startCell(ctx)
		if err != nil {
			r.stopCells()
			return err
		}
		r.cells <- c
	}
	return nil
}

// cellSeccomp is the profile of a cell's own processes: moby's for a
// process with CAP_SYS_ADMIN in its bounding set, so that bwrap may build
// a command's namespaces, plus pivot_root, with which it enters the root it
// built (no container of Docker's needs it). The cell holds no capability:
// these calls work only inside the user namespace bwrap creates, and the
// command itself runs under the profile for no capabilities.
func cellSeccomp() (*specs.LinuxSeccomp, error) {
	prof, err := defaultSeccomp("CAP_SYS_ADMIN")
	if err != nil {
		return nil, err
	}
	prof.Syscalls = append(prof.Syscalls, specs.LinuxSyscall{Names: []string{"pivot_root"}, Action: specs.ActAllow})
	return prof, nil
}

// startCell creates a cell directory whose mounts propagate into the cell
// and starts the cell's container.
func (r *Runner) startCell(ctx context.Context) (*cell, error) {
	id := r.id + "-cell" + strconv.FormatUint(r.seq.Add(1), 10)
	c := &cell{
		id: id, dir: filepath.Join(r.stateDir, "cells", id),
		cgroupPath: "/" + cgroupParent + "/" + r.id + "/" + id, dead: make(chan struct{}),
	}
	if err := c.prepareDir(r.commandBPF); err != nil {
		return nil, err
	}
	bundle := filepath.Join(r.stateDir, "bundles", id)
	if err := os.MkdirAll(bundle, 0o700); err != nil {
		return nil, errors.Join(fmt.Errorf("create cell bundle: %w", err), c.removeDir())
	}
	if err := writeJSON(filepath.Join(bundle, "config.json"), r.cellSpec(c)); err != nil {
		return nil, errors.Join(err, c.removeDir())
	}
	if err := r.runCell(ctx, c, bundle); err != nil {
		_ = r.runtime(context.WithoutCancel(ctx), "delete", "--force", c.id)
		return nil, errors.Join(err, c.removeDir())
	}
	return c, nil
}

// prepareDir mounts a tmpfs on the cell directory (every command's
// request files are written there: on a disk their metadata alone costs
// a millisecond a command) and makes it a shared mount, so that what the
// runner mounts below it reaches the cell (a slave of it). It creates the
// files the cell loop opens for each command, the FIFOs among them once.
func (c *cell) prepareDir(filter []byte) error {
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return fmt.Errorf("create cell directory: %w", err)
	}
	if err := unix.Mount("tmpfs", c.dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755"); err != nil {
		return fmt.Errorf("mount cell directory: %w", err)
	}
	if err := unix.Mount("", c.dir, "", unix.MS_SHARED, ""); err != nil {
		return errors.Join(fmt.Errorf("share cell directory: %w", err), c.removeDir())
	}
	if err := c.createFiles(filter); err != nil {
		return errors.Join(fmt.Errorf("prepare cell directory: %w", err), c.removeDir())
	}
	return nil
}

// cellRequestFiles are the files the cell loop opens for a command, all
// the sandbox user's and outside the command's namespaces.
var cellRequestFiles = []string{"args", "command", "stdin", "ready"}

// createFiles makes the cell directory's contents. Modes are set
// explicitly: the worker's umask (the apphost's is 077) must not close
// them to the cell's loop, which runs as the sandbox user.
func (c *cell) createFiles(filter []byte) error {
	for _, d := range []string{"view", "m"} {
		p := filepath.Join(c.dir, d)
		if err := os.Mkdir(p, 0o755); err != nil {
			return err
		}
		if err := os.Chmod(p, 0o755); err != nil {
			return err
		}
	}
	p := filepath.Join(c.dir, "seccomp.bpf")
	if err := os.WriteFile(p, filter, 0o444); err != nil {
		return err
	}
	if err := os.Chmod(p, 0o444); err != nil {
		return err
	}
	for _, name := range append(cellRequestFiles, "stdout", "stderr") {
		p := filepath.Join(c.dir, name)
		var err error
		if name == "stdout" || name == "stderr" {
			err = unix.Mkfifo(p, 0o600)
		} else {
			err = os.WriteFile(p, nil, 0o600)
		}
		if err != nil {
			return err
		}
		if err := os.Chown(p, sandboxUID, sandboxUID); err != nil {
			return err
		}
	}
	return nil
}

func (c *cell) removeDir() error {
	if err := unix.Unmount(c.dir, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("unmount cell directory: %w", err)
	}
	return os.RemoveAll(c.dir)
}

// runCell starts the cell's container with pipes for its requests and
// replies and reaps its loop when it ends.
func (r *Runner) runCell(ctx context.Context, c *cell, bundle string) error {
	reqR, reqW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("create pipe: %w", err)
	}
	repR, repW, err := os.Pipe()
	if err != nil {
		_, _ = reqR.Close(), reqW.Close()
		return fmt.Errorf("create pipe: %w", err)
	}
	var stderr bytes.Buffer
	pidFile := filepath.Join(bundle, "pid")
	cmd := exec.CommandContext(ctx, r.host.runtime, r.runtimeArgs("run", "--detach", "--bundle", bundle, "--pid-file", pidFile, c.id)...)
	// The runtime hands its stdin and stdout to the cell; stderr is the
	// runtime's own.
	cmd.Stdin, cmd.Stdout, cmd.Stderr = reqR, repW, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	runErr := cmd.Run()
	_, _ = reqR.Close(), repW.Close()
	if runErr != nil {
		_, _ = reqW.Close(), repR.Close()
		return fmt.Errorf("start cell: %w: %s", runErr, bytes.TrimSpace(stderr.Bytes()))
	}
	pid, err := readPID(pidFile)
	if err == nil {
		err = awaitAdoption(pid)
	}
	if err != nil {
		_, _ = reqW.Close(), repR.Close()
		return err
	}
	c.pid, c.requests, c.replies = pid, reqW, bufio.NewReader(repR)
	go func() {
		wait4(pid)
		_ = repR.Close()
		close(c.dead)
	}()
	return nil
}

// stopCells ends every idle cell and leaves commands a container each;
// Close calls it once nothing runs.
func (r *Runner) stopCells() {
	if r.cells == nil {
		return
	}
	for {
		select {
		case c := <-r.cells:
			if c != nil {
				r.stopCell(c)
			}
		default:
			r.cells = nil
			return
		}
	}
}

// stopCell ends the cell's loop (its requests reach end of file), deletes
// its container and removes its directory.
func (r *Runner) stopCell(c *cell) {
	_ = c.requests.Close()
	select {
	case <-c.dead:
	case <-time.After(runtimeTimeout):
		_ = unix.Kill(c.pid, unix.SIGKILL)
		<-c.dead
	}
	err := errors.Join(r.runtime(context.Background(), "delete", "--force", c.id), c.removeDir())
	if err != nil {
		r.log.Warn("sandbox: remove cell", "cell", c.id, "error", err)
	}
}

// gone reports whether the cell's loop has ended.
func (c *cell) gone() bool {
	select {
	case <-c.dead:
		return true
	default:
		return false
	}
}

// replaceCell retires a cell that failed and puts a fresh one in its
// place; if none starts, commands fall back to containers of their own.
func (r *Runner) replaceCell(c *cell) {
	r.retiring.Go(func() {
		_ = unix.Kill(c.pid, unix.SIGKILL)
		r.stopCell(c)
		fresh, err := r.startCell(context.Background())
		if err != nil {
			r.log.Warn("sandbox: restart cell; commands fall back to a container each", "error", err)
			r.cells <- nil
			return
		}
		r.cells <- fresh
	})
}

// runInCell runs j in an idle cell, or in a container of its own when no
// cell could be restarted.
func (r *Runner) runInCell(ctx context.Context, j job, release func()) (Result, error) {
	var c *cell
	select {
	case c = <-r.cells:
	case <-ctx.Done():
		release()
		return Result{}, fmt.Errorf("wait for a cell: %w", ctx.Err())
	}
	switch {
	case c == nil:
		r.cells <- nil
		return r.runContainer(ctx, j, release)
	case c.gone():
		r.replaceCell(c)
		return r.runContainer(ctx, j, release)
	}
	var done cleanups
	broken := false
	// Once the command's mounts are undone the cell serves the next
	// command, unless it broke or undoing them failed: a layer or view
	// left in its directory would fail every later command it runs.
	defer r.retiring.Go(func() {
		if err := done.run(); err != nil {
			r.log.Warn("sandbox: clean up cell command; the cell is replaced", "cell", c.id, "error", err)
			broken = true
		}
		if broken {
			r.replaceCell(c)
		} else {
			r.cells <- c
		}
	})
	res, err := r.cellCommand(ctx, c, j, &done)
	// The command's CPU work ends here: undoing its mounts is mostly the
	// kernel waiting for RCU grace periods, so the cell, not the slot, stays
	// taken meanwhile, and the next command runs in another cell.
	release()
	if errors.Is(err, errCellBroken) {
		broken = true
	}
	return res, err
}

// errCellBroken marks a cell that stopped answering; it is replaced.
var errCellBroken = errors.New("sandbox cell stopped answering")

// cellCommand prepares the command's layer, scratch view and mounts in the
// cell directory, runs it and commits its changes. Undoing the mounts is
// left to done, which runs after the result is returned.
func (r *Runner) cellCommand(ctx context.Context, c *cell, j job, done *cleanups) (Result, error) {
	scratchInfo, err := os.Stat(j.scratch)
	if err != nil {
		return Result{}, fmt.Errorf("%w: scratch directory: %w", ErrInvalidSpec, err)
	}
	// The cell's loop runs as the sandbox user: bwrap must reach /tmp and
	// /dev/shm in the layer (the overlay's directories stay closed).
	l, err := newLayer(filepath.Join(c.dir, "layer"), j.lim.DiskMB, scratchInfo, 0o711)
	if err != nil {
		return Result{}, err
	}
	done.push(l.release)
	if err := l.makeDirs(j.scratch, pinnedDirs(j.scratch, j.spec.Mounts)); err != nil {
		return Result{}, err
	}
	view := filepath.Join(c.dir, "view")
	opts := "lowerdir=" + j.scratch + ",upperdir=" + filepath.Join(l.dir, "upper") + ",workdir=" + filepath.Join(l.dir, "work")
	if err := unix.Mount("overlay", view, "overlay", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
		return Result{}, fmt.Errorf("mount scratch view: %w", err)
	}
	done.push(func() error { return unmount(view) })
	if err := noLinkedTargets(j.scratch, j.spec.Mounts); err != nil {
		return Result{}, err
	}
	inner, err := c.mountFiles(j.spec.Mounts, done)
	if err != nil {
		return Result{}, err
	}
	if err := c.writeRequest(r.bwrapArgs(j, inner), cellCommandLine(j), j.spec.Stdin); err != nil {
		return Result{}, err
	}
	res, err := r.superviseCell(ctx, c, j, l)
	if err != nil || j.spec.Ephemeral {
		return res, err
	}
	return res, l.commit(j.scratch, mountTargets(j.scratch, j.spec.Mounts), sandboxUID, sandboxUID, int64(mib(j.lim.DiskMB)))
}

func unmount(path string) error {
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil {
		return fmt.Errorf("unmount %s: %w", filepath.Base(path), err)
	}
	return nil
}

// noLinkedTargets refuses a mount target inside the scratch tree that is,
// or passes through, a symbolic link: bwrap would follow it when it
// mounts. (A container runtime resolves targets inside the root instead;
// the engine refuses such targets before it gets here.)
func noLinkedTargets(scratch string, mounts []Mount) error {
	targets := mountTargets(scratch, mounts)
	if len(targets) == 0 {
		return nil
	}
	root, err := os.OpenRoot(scratch)
	if err != nil {
		return fmt.Errorf("%w: scratch directory: %w", ErrInvalidSpec, err)
	}
	defer func() { _ = root.Close() }()
	for rel := range targets {
		for p := rel; p != "." && p != "/"; p = filepath.Dir(p) {
			if info, err := root.Lstat(p); err == nil && info.Mode()&os.ModeSymlink != 0 {
				return fmt.Errorf("%w: mount target %s passes through a symbolic link", ErrInvalidSpec, rel)
			}
		}
	}
	return nil
}

// mountFiles binds each mount's source below the cell directory and
// returns where the cell sees them.
func (c *cell) mountFiles(mounts []Mount, done *cleanups) ([]string, error) {
	inner := make([]string, len(mounts))
	for i, m := range mounts {
		name := strconv.Itoa(i)
		p := filepath.Join(c.dir, "m", name)
		info, err := os.Stat(m.Source)
		if err != nil {
			return nil, fmt.Errorf("%w: mount source: %w", ErrInvalidSpec, err)
		}
		if info.IsDir() {
			err = os.Mkdir(p, 0o755)
		} else {
			err = os.WriteFile(p, nil, 0o444)
		}
		if err != nil {
			return nil, fmt.Errorf("create mount point: %w", err)
		}
		done.push(func() error { return os.Remove(p) })
		if err := unix.Mount(m.Source, p, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return nil, fmt.Errorf("bind mount source: %w", err)
		}
		done.push(func() error { return unmount(p) })
		inner[i] = filepath.Join(cellMount, "m", name)
	}
	return inner, nil
}

// writeRequest fills the request files for the next command: the bwrap
// options, the command line for cellInit, stdin and an empty set-up mark.
func (c *cell) writeRequest(args []string, command string, stdin []byte) error {
	var b bytes.Buffer
	for _, a := range args {
		b.WriteString(a)
		b.WriteByte(0)
	}
	if bytes.Count(b.Bytes(), []byte{0}) != len(args) || strings.IndexByte(command, 0) >= 0 {
		return fmt.Errorf("%w: NUL byte in an argument, environment entry or path", ErrInvalidSpec)
	}
	for i, data := range [][]byte{b.Bytes(), []byte(command), stdin, nil} {
		if err := os.WriteFile(filepath.Join(c.dir, cellRequestFiles[i]), data, 0); err != nil {
			return fmt.Errorf("prepare command: %w", err)
		}
	}
	return nil
}

// fifoPair opens a FIFO's read end for the runner and a write end it holds
// until the command has ended, so that the reader sees end of file only
// then, whenever the command opens and closes its own.
func fifoPair(path string) (r, w *os.File, err error) {
	r, err = os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open output: %w", err)
	}
	w, err = os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		_ = r.Close()
		return nil, nil, fmt.Errorf("open output: %w", err)
	}
	return r, w, nil
}

// cellExit is the cell loop's answer: bwrap's exit status.
type cellExit struct {
	status int
	err    error
}

// superviseCell sets the cell's limits for j, sends the request and
// watches the command as supervise watches a container.
func (r *Runner) superviseCell(ctx context.Context, c *cell, j job, l *layer) (Result, error) {
	if err := r.setCellLimits(c.cgroupPath, j.lim); err != nil {
		return Result{}, err
	}
	before := r.cellCounters(c.cgroupPath)
	p := &pipes{}
	var holders [2]*os.File
	var err error
	if p.stdoutR, holders[0], err = fifoPair(filepath.Join(c.dir, "stdout")); err != nil {
		return Result{}, err
	}
	if p.stderrR, holders[1], err = fifoPair(filepath.Join(c.dir, "stderr")); err != nil {
		_, _ = p.stdoutR.Close(), holders[0].Close()
		return Result{}, err
	}
	release := func() {
		for _, h := range holders {
			_ = h.Close()
		}
	}
	defer release()
	defer p.closeParent()
	out := captureOutputs(p, j.lim.OutputLimitBytes)
	defer r.drain(&out.readers, p)

	start := time.Now()
	if _, err := c.requests.WriteString("run\n"); err != nil {
		return Result{}, fmt.Errorf("%w: send command: %w", errCellBroken, err)
	}
	exited := make(chan cellExit, 1)
	go func() { exited <- c.readReply() }()
	ex, end := watch(ctx, exited, j.timeout, out.flood)
	duration := time.Since(start)
	if !end.exited {
		r.killCellCommand(c)
		select {
		case ex = <-exited:
		case <-time.After(cellReplyTimeout):
			return Result{}, fmt.Errorf("%w: no answer after the command was killed", errCellBroken)
		}
	}
	if ex.err != nil {
		return Result{}, ex.err
	}
	// bwrap's monitor answers once the command has exited, but its init
	// (PID 1 of the command's namespace) dies with it only if the command
	// left its parent-death signal alone: a command may clear it with
	// ptrace and keep daemons running in the cell, with the request files
	// and output FIFOs the next command will use. Nothing of it may remain.
	if err := r.clearCell(c); err != nil {
		return Result{}, err
	}
	release()
	r.drain(&out.readers, p)
	res := Result{TimedOut: end.timedOut, Duration: duration}
	res.ExitCode, res.Signal = exitOf(syscall.WaitStatus(ex.status << 8))
	if !end.killedByUs() && !started(filepath.Join(c.dir, "ready")) {
		msg, _, _ := out.stderr.result()
		return Result{}, fmt.Errorf("start command in cell: exit %d: %s", ex.status, bytes.TrimSpace(msg))
	}
	after := r.cellCounters(c.cgroupPath)
	facts := hitFacts{
		oomKills:   after.oomKills - before.oomKills,
		pidsMax:    after.pidsMax - before.pidsMax,
		signal:     res.Signal,
		exitCode:   res.ExitCode,
		killedByUs: end.killedByUs(),
		cpuUsed:    after.cpu.since(before.cpu),
		cpuLimit:   time.Duration(j.lim.CPUSeconds) * time.Second,
		fileAtCap:  l.fileAtLimit(int64(mib(j.lim.MaxFileMB))),
		diskFull:   l.full(),
	}
	facts.flooded, facts.truncated = out.fill(&res)
	res.LimitHit = limitHit(facts)
	if end.cancelled {
		return res, fmt.Errorf("command cancelled: %w", ctx.Err())
	}
	return res, nil
}

// readReply reads one status line from the cell loop.
func (c *cell) readReply() cellExit {
	line, err := c.replies.ReadString('\n')
	if err != nil {
		return cellExit{err: fmt.Errorf("%w: %w", errCellBroken, err)}
	}
	status, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		return cellExit{err: fmt.Errorf("%w: answer %q", errCellBroken, line)}
	}
	return cellExit{status: status}
}

// started reports whether the command's init shell marked its start.
func started(ready string) bool {
	info, err := os.Stat(ready)
	return err == nil && info.Size() > 0
}

// killCellCommand kills every process of the cell but its loop: bwrap, and
// with it (its child dies with it, and every process of the command's PID
// namespace with that child) the command.
func (r *Runner) killCellCommand(c *cell) {
	pids, err := r.cellProcesses(c)
	if err != nil {
		r.log.Warn("sandbox: list cell processes", "cell", c.id, "error", err)
		return
	}
	for _, pid := range pids {
		_ = unix.Kill(pid, unix.SIGKILL)
	}
}

// clearCell kills whatever is left of a command once the cell has
// answered, and waits until the cell's loop is its only process.
func (r *Runner) clearCell(c *cell) error {
	deadline := time.Now().Add(cellReplyTimeout)
	for {
		pids, err := r.cellProcesses(c)
		if err != nil {
			return fmt.Errorf("%w: list cell processes: %w", errCellBroken, err)
		}
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: processes of the command outlived it", errCellBroken)
		}
		for _, pid := range pids {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
		time.Sleep(time.Millisecond)
	}
}

// cellProcesses lists the processes of the cell's cgroup but its loop.
func (r *Runner) cellProcesses(c *cell) ([]int, error) {
	b, err := os.ReadFile(r.host.cgroupFile(c.cgroupPath, "pids", "cgroup.procs"))
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil && pid != c.pid {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// counters are a cgroup's cumulative counts a command's limit hits are
// read from, as differences.
type counters struct {
	oomKills, pidsMax int
	cpu               cpuCounters
}

func (r *Runner) cellCounters(cgroupPath string) counters {
	return counters{
		oomKills: r.cgroupCounter(cgroupPath, "memory", "oom_kill"),
		pidsMax:  r.cgroupCounter(cgroupPath, "pids", "max"),
		cpu:      r.cgroupCPUCounters(cgroupPath),
	}
}

// setCellLimits gives the cell's cgroup the command's memory (swap
// included), process and CPU bandwidth limits.
func (r *Runner) setCellLimits(cgroupPath string, lim Limits) error {
	memory := strconv.FormatUint(mib(lim.MemoryMB), 10)
	pids := strconv.Itoa(lim.MaxProcesses)
	quota := strconv.FormatInt(int64(lim.CPUs*cpuPeriod), 10)
	write := func(controller, file, value string) error {
		if err := os.WriteFile(r.host.cgroupFile(cgroupPath, controller, file), []byte(value), 0); err != nil {
			return fmt.Errorf("set cell limit %s: %w", file, err)
		}
		return nil
	}
	if r.host.cgroup2 {
		return errors.Join(write("", "memory.max", memory), write("", "memory.swap.max", "0"),
			write("", "pids.max", pids), write("", "cpu.max", quota+" "+strconv.Itoa(cpuPeriod)))
	}
	// memory.memsw may never be below memory: which goes first depends on
	// whether the limit rises or falls.
	memErr := write("memory", "memory.limit_in_bytes", memory)
	if r.cellMemsw {
		if err := write("memory", "memory.memsw.limit_in_bytes", memory); err != nil {
			return err
		}
		if memErr != nil {
			memErr = write("memory", "memory.limit_in_bytes", memory)
		}
	}
	return errors.Join(memErr, write("pids", "pids.max", pids), write("cpu", "cpu.cfs_quota_us", quota))
}
