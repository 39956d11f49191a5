//go:build linux

package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// gateScript holds the command at a pipe until the runner has applied its
// rlimits and cgroups, then becomes the rest of the argv. Nothing the student
// controls runs before that.
const gateScript = `IFS= read -r go <&3 || exit 125
[ "$go" = go ] || exit 125
exec "$@" 3<&-`

// outputGrace bounds how long the runner keeps reading output after the
// command is dead; only a process that escaped the kill (no PID namespace,
// no cgroup) can hold the pipes open that long.
const outputGrace = 2 * time.Second

// killGrace bounds how long the runner waits for nsenter to exit once the
// namespace has been killed, before it kills nsenter too.
const killGrace = 2 * time.Second

// setupTimeout bounds the preparation of a namespace.
const setupTimeout = 30 * time.Second

// tools are the absolute paths of the helper programs the runner execs.
type tools struct {
	sh, env, nsenter, setpriv, mount string
}

// Runner runs commands in a sandbox. It is safe for concurrent use.
type Runner struct {
	cfg        Config
	caps       Capabilities
	tools      tools
	uid, gid   int
	cgroups    cgroupSet
	tmpTargets []string
	id         string
	seq        atomic.Uint64
}

// New detects what this host can enforce, checks the whole chain with a
// trial command, and logs once what cannot be enforced. With
// cfg.RequireIsolation it fails with ErrIsolation instead of degrading.
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
	id := make([]byte, 4)
	if _, err := rand.Read(id); err != nil {
		return nil, fmt.Errorf("new sandbox: %w", err)
	}
	r := &Runner{cfg: cfg, id: hex.EncodeToString(id)}
	if err := r.detect(); err != nil {
		return nil, fmt.Errorf("new sandbox: %w", err)
	}
	if missing := r.caps.Missing(); cfg.RequireIsolation && len(missing) > 0 {
		return nil, fmt.Errorf("new sandbox: %w: %s", ErrIsolation, strings.Join(missing, ", "))
	}
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	if err := r.selfTest(ctx); err != nil {
		return nil, fmt.Errorf("new sandbox: %w", err)
	}
	if missing := r.caps.Missing(); len(missing) > 0 {
		log.Warn("sandbox isolation incomplete: untrusted code is only partly contained",
			"missing", missing, "consequences", r.caps.consequences(), "euid", os.Geteuid())
	} else {
		log.Info("sandbox ready", "user", fmt.Sprintf("%d:%d", r.uid, r.gid))
	}
	return r, nil
}

// Capabilities reports the mechanisms this runner uses.
func (r *Runner) Capabilities() Capabilities { return r.caps }

// detect fills in the tools, the sandbox user and the capabilities.
func (r *Runner) detect() error {
	r.tools = tools{
		sh: lookTool("sh"), env: lookTool("env"), nsenter: lookTool("nsenter"),
		setpriv: lookTool("setpriv"), mount: lookTool("mount"),
	}
	if r.tools.sh == "" || r.tools.env == "" {
		return errors.New("find sh and env: not installed")
	}
	r.caps.Rlimits = true
	root := os.Geteuid() == 0
	if root && r.tools.setpriv != "" {
		uid, gid, err := resolveUser(r.cfg.User)
		if err != nil {
			return err
		}
		r.uid, r.gid, r.caps.PrivilegeDrop = uid, gid, true
	} else {
		r.uid, r.gid = os.Getuid(), os.Getgid()
	}
	r.detectCgroups()
	if root {
		r.caps.NetworkNamespace = probeClone(r.tools.sh, syscall.CLONE_NEWNET)
		r.tmpTargets = tmpTargets()
		if r.tools.nsenter != "" && r.tools.mount != "" && r.probeHolder() {
			r.caps.PIDNamespace, r.caps.MountNamespace = true, true
		}
	}
	return nil
}

// detectCgroups keeps each controller whose parent directory can be created
// and which accepts a trial cgroup with a limit.
func (r *Runner) detectCgroups() {
	set, err := detectControllers(r.cfg.CgroupRoot)
	if err != nil {
		return
	}
	for _, c := range []**controller{&set.memory, &set.pids} {
		if *c == nil {
			continue
		}
		if (*c).prepare() != nil {
			*c = nil
			continue
		}
		removeStale((*c).base)
		one := cgroupSet{}
		if (*c).name == "memory" {
			one.memory = *c
		} else {
			one.pids = *c
		}
		rc, err := newRunCgroup(one, cgroupName(r.id, r.seq.Add(1)), 64<<20, 8)
		if err != nil {
			*c = nil
			continue
		}
		_ = rc.remove()
	}
	r.cgroups = set
	r.caps.CgroupMemory, r.caps.CgroupPids = set.memory != nil, set.pids != nil
}

// probeHolder starts and stops one namespace holder.
func (r *Runner) probeHolder() bool {
	dir, err := os.MkdirTemp("", "zinc-sandbox-probe-")
	if err != nil {
		return false
	}
	defer func() { _ = os.RemoveAll(dir) }()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	h, err := r.startHolder(ctx, dir, Limits{MemoryMB: 16}, r.caps.NetworkNamespace)
	if err != nil {
		return false
	}
	h.stop()
	return true
}

// selfTest runs one command through the full chain, so that a broken helper
// fails New instead of every grading stage.
func (r *Runner) selfTest(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "zinc-sandbox-probe-")
	if err != nil {
		return fmt.Errorf("create probe directory: %w", err)
	}
	defer func() { _ = os.RemoveAll(dir) }()
	res, err := r.Run(ctx, Spec{
		Argv: []string{r.tools.sh, "-c", "echo ok; exit 7"},
		Dir:  dir,
		Limits: Limits{
			// The probe must fit whatever defaults the caller configured.
			CPUSeconds: 5, MemoryMB: 64, MaxProcesses: 8, OpenFiles: 16,
		},
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

func (r *Runner) run(ctx context.Context, spec Spec) (_ Result, err error) {
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	if err := checkSpec(spec); err != nil {
		return Result{}, err
	}
	lim, err := resolveLimits(spec.Limits, r.cfg.DefaultLimits)
	if err != nil {
		return Result{}, err
	}
	timeout := firstPositive(spec.Timeout, r.cfg.DefaultTimeout, defaultTimeout)
	dir, err := workDir(spec.Dir)
	if err != nil {
		return Result{}, err
	}
	if r.caps.PrivilegeDrop {
		if err := chownTree(dir, r.uid, r.gid); err != nil {
			return Result{}, err
		}
	}
	nsMode := r.caps.PIDNamespace && r.caps.MountNamespace
	var cg *runCgroup
	if r.cgroups.memory != nil || r.cgroups.pids != nil {
		// With a PID namespace nsenter stays in the cgroup as the parent of
		// the command: one task more than the command's own allowance.
		helpers := 0
		if nsMode {
			helpers = 1
		}
		cg, err = newRunCgroup(r.cgroups, cgroupName(r.id, r.seq.Add(1)), int64(mib(lim.MemoryMB)), lim.MaxProcesses+helpers)
		if err != nil {
			return Result{}, err
		}
		defer func() { err = errors.Join(err, cg.remove()) }()
	}
	var h *holder
	if nsMode {
		netns := r.caps.NetworkNamespace && !lim.Network
		if h, err = r.startHolder(ctx, dir, lim, netns); err != nil {
			return Result{}, err
		}
		defer h.stop()
	}
	return r.execute(ctx, spec, dir, lim, timeout, cg, h)
}

// execute starts the gate shell, confines it, releases it and supervises the
// command until it ends, times out, floods its output or ctx ends.
func (r *Runner) execute(ctx context.Context, spec Spec, dir string, lim Limits, timeout time.Duration, cg *runCgroup, h *holder) (Result, error) {
	p, err := newPipes()
	if err != nil {
		return Result{}, err
	}
	defer p.closeParent()
	cmd := exec.Command(r.tools.sh, r.chain(spec, dir, h)...)
	cmd.Env = []string{}
	cmd.Dir = dir
	cmd.Stdin, cmd.Stdout, cmd.Stderr = p.stdinR, p.stdoutW, p.stderrW
	cmd.ExtraFiles = []*os.File{p.gateR}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if h == nil && r.caps.NetworkNamespace && !lim.Network {
		cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWNET
	}
	if err := cmd.Start(); err != nil {
		p.closeChild()
		return Result{}, fmt.Errorf("start command: %w", err)
	}
	start := time.Now()
	p.closeChild()
	pid := cmd.Process.Pid

	// Wait without reaping: the zombie keeps pid and process group
	// reserved until the group has been killed, so the kill cannot reach a
	// recycled pid.
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		var info unix.Siginfo
		for unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil) == unix.EINTR {
		}
	}()
	kill := func() {
		if h != nil {
			// Killing the namespace kills the command, and nsenter, its
			// parent, reaps it and exits. Killing nsenter first would hand
			// the command's zombie to the host's init, and the namespace
			// teardown would wait until that init gets round to reaping it.
			h.kill()
			grace := time.NewTimer(killGrace)
			defer grace.Stop()
			select {
			case <-exited:
				return
			case <-grace.C:
				// Still in the gate, before nsenter: kill it directly.
			}
		}
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		if cg != nil && h == nil {
			cg.killAll()
		}
	}

	// Until the gate opens only the gate shell runs, in the process group.
	abort := func() {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-exited
		_ = cmd.Wait()
	}
	if err := r.confine(pid, lim, cg); err != nil {
		abort()
		return Result{}, err
	}
	if _, err := io.WriteString(p.gateW, "go\n"); err != nil {
		abort()
		return Result{}, fmt.Errorf("release command: %w", err)
	}
	_ = p.gateW.Close()

	flood := make(chan struct{})
	var floodOnce sync.Once
	onFlood := func() { floodOnce.Do(func() { close(flood) }) }
	stdout := newCapture(lim.OutputLimitBytes, onFlood)
	stderr := newCapture(lim.OutputLimitBytes, onFlood)
	var readers, feeder sync.WaitGroup
	readers.Go(func() { _, _ = io.Copy(stdout, p.stdoutR) })
	readers.Go(func() { _, _ = io.Copy(stderr, p.stderrR) })
	feeder.Go(func() {
		// A command that exits without reading its stdin makes this write
		// fail with EPIPE; that is the command's business.
		_, _ = p.stdinW.Write(spec.Stdin)
		_ = p.stdinW.Close()
	})

	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var timedOut, cancelled bool
	select {
	case <-exited:
	case <-timer.C:
		timedOut = true
	case <-flood:
	case <-ctx.Done():
		cancelled = true
	}
	duration := time.Since(start)
	kill()
	<-exited
	if h != nil {
		// The holder's exit tears down the PID namespace; Wait returns once
		// every process in it is gone.
		h.stop()
	}
	waitErr := cmd.Wait()
	_ = p.stdinW.Close()
	feeder.Wait()
	r.drain(&readers, p)

	var exitErr *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &exitErr) {
		return Result{}, fmt.Errorf("wait for command: %w", waitErr)
	}
	res := Result{TimedOut: timedOut, Duration: duration}
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		res.ExitCode, res.Signal = -1, unix.SignalName(ws.Signal())
	} else {
		res.ExitCode = ws.ExitStatus()
	}
	var outFlood, errFlood bool
	res.Stdout, res.StdoutTruncated, outFlood = stdout.result()
	res.Stderr, res.StderrTruncated, errFlood = stderr.result()
	res.LimitHit = limitHit(hitFacts{
		flooded:    outFlood || errFlood,
		truncated:  res.StdoutTruncated || res.StderrTruncated,
		oomKills:   cgValue(cg, (*runCgroup).oomKills),
		pidsMax:    cgValue(cg, (*runCgroup).pidsRefused),
		signal:     res.Signal,
		exitCode:   res.ExitCode,
		killedByUs: timedOut || cancelled,
		cpuUsed:    cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(),
		cpuLimit:   time.Duration(lim.CPUSeconds) * time.Second,
		fileAtCap:  func() bool { return fileAtLimit(dir, int64(mib(lim.MaxFileMB)), start) },
	})
	if cancelled {
		return res, fmt.Errorf("command cancelled: %w", ctx.Err())
	}
	return res, nil
}

// drain waits for the output readers. With a PID namespace or a cgroup every
// writer is dead by now; without them a detached process may still hold the
// pipes, so reading stops after outputGrace.
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
		// Closing the read ends unblocks the readers.
		_ = p.stdoutR.Close()
		_ = p.stderrR.Close()
		<-done
	}
}

// confine applies the rlimits and moves the gate shell into the cgroup.
func (r *Runner) confine(pid int, lim Limits, cg *runCgroup) error {
	var nproc uint64
	if r.cgroups.pids == nil {
		switch {
		case r.caps.PrivilegeDrop:
			nproc = uint64(lim.MaxProcesses)
		case os.Geteuid() != 0:
			// RLIMIT_NPROC counts every task of the user, the worker's
			// threads included, so the allowance goes on top of those.
			nproc = userTasks(os.Getuid()) + uint64(lim.MaxProcesses)
		}
	}
	if err := applyRlimits(pid, rlimitPlan(lim, r.cgroups.memory == nil, nproc)); err != nil {
		return err
	}
	if cg != nil {
		return cg.join(pid)
	}
	return nil
}

// chain builds the argv of the gate shell: enter the namespaces, drop
// privileges, replace the environment, run the command.
func (r *Runner) chain(spec Spec, dir string, h *holder) []string {
	args := []string{"-c", gateScript, "sh"}
	if h != nil {
		args = append(args, r.tools.nsenter, "--target="+strconv.Itoa(h.pid()), "--pid", "--mount")
		if h.netns {
			args = append(args, "--net")
		}
		// --wdns changes directory inside the mount namespace, where the
		// scratch directory may be a bind mount over a private /tmp.
		args = append(args, "--wdns="+dir, "--")
	}
	if r.caps.PrivilegeDrop {
		args = append(args, r.tools.setpriv,
			"--reuid="+strconv.Itoa(r.uid), "--regid="+strconv.Itoa(r.gid), "--clear-groups",
			"--no-new-privs", "--inh-caps=-all", "--bounding-set=-all", "--")
	}
	args = append(args, r.tools.env, "-i", "--")
	args = append(args, spec.Env...)
	return append(args, spec.Argv...)
}

// hitFacts is what limitHit decides from.
type hitFacts struct {
	flooded, truncated bool
	oomKills, pidsMax  int
	signal             string
	exitCode           int
	killedByUs         bool
	cpuUsed, cpuLimit  time.Duration
	fileAtCap          func() bool
}

// limitHit names the limit the command ran into, the most specific first.
func limitHit(f hitFacts) string {
	// A shell reports a child killed by a signal as 128+signal.
	shellSaw := func(sig syscall.Signal) bool { return f.exitCode == 128+int(sig) }
	cpu := f.signal == "SIGXCPU" ||
		((f.signal == "SIGKILL" && !f.killedByUs) || shellSaw(syscall.SIGXCPU) || shellSaw(syscall.SIGKILL)) &&
			f.cpuUsed >= f.cpuLimit
	switch {
	case f.flooded:
		return LimitOutput
	case f.oomKills > 0:
		return LimitMemory
	case cpu:
		return LimitCPU
	case f.signal == "SIGXFSZ" || f.fileAtCap():
		return LimitFileSize
	case f.pidsMax > 0:
		return LimitProcesses
	case f.truncated:
		return LimitOutput
	}
	return ""
}

func cgValue(cg *runCgroup, get func(*runCgroup) int) int {
	if cg == nil {
		return 0
	}
	return get(cg)
}

// fileAtLimit reports whether a regular file in dir, written since start,
// has reached the file-size limit: the trace a command leaves when a child
// hit RLIMIT_FSIZE and the parent went on.
func fileAtLimit(dir string, limit int64, start time.Time) bool {
	found, seen := false, 0
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		seen++
		if err != nil || seen > 10000 {
			return fs.SkipAll
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err == nil && info.Size() >= limit && !info.ModTime().Before(start) {
			found = true
			return fs.SkipAll
		}
		return nil
	})
	return found
}

// pipes are the command's stdin, stdout, stderr and gate.
type pipes struct {
	stdinR, stdinW   *os.File
	stdoutR, stdoutW *os.File
	stderrR, stderrW *os.File
	gateR, gateW     *os.File
}

func newPipes() (*pipes, error) {
	p := &pipes{}
	for _, pair := range []struct{ r, w **os.File }{
		{&p.stdinR, &p.stdinW}, {&p.stdoutR, &p.stdoutW}, {&p.stderrR, &p.stderrW}, {&p.gateR, &p.gateW},
	} {
		r, w, err := os.Pipe()
		if err != nil {
			p.closeChild()
			p.closeParent()
			return nil, fmt.Errorf("create pipe: %w", err)
		}
		*pair.r, *pair.w = r, w
	}
	return p, nil
}

// closeChild closes the ends the command inherited.
func (p *pipes) closeChild() {
	for _, f := range []*os.File{p.stdinR, p.stdoutW, p.stderrW, p.gateR} {
		if f != nil {
			_ = f.Close()
		}
	}
}

// closeParent closes the runner's ends; closing twice is harmless.
func (p *pipes) closeParent() {
	for _, f := range []*os.File{p.stdinW, p.stdoutR, p.stderrR, p.gateW} {
		if f != nil {
			_ = f.Close()
		}
	}
}

// workDir checks that dir is an existing absolute directory and resolves
// symbolic links, so that the namespace set-up sees its real path.
func workDir(dir string) (string, error) {
	if !filepath.IsAbs(dir) {
		return "", fmt.Errorf("%w: working directory %q is not absolute", ErrInvalidSpec, dir)
	}
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", fmt.Errorf("%w: working directory: %w", ErrInvalidSpec, err)
	}
	info, err := os.Stat(real)
	if err != nil {
		return "", fmt.Errorf("%w: working directory: %w", ErrInvalidSpec, err)
	}
	if !info.IsDir() {
		return "", fmt.Errorf("%w: working directory %q is not a directory", ErrInvalidSpec, dir)
	}
	return real, nil
}

// chownTree gives the scratch directory to the sandbox user. Symbolic links
// are changed, never followed: an earlier stage may have planted one.
func chownTree(dir string, uid, gid int) error {
	err := filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, gid)
	})
	if err != nil {
		return fmt.Errorf("hand scratch directory to sandbox user: %w", err)
	}
	return nil
}

// resolveUser turns Config.User into a uid and gid, refusing root.
func resolveUser(spec string) (uid, gid int, err error) {
	if spec == "" {
		uid, gid, err = resolveUser(defaultUser)
		if err != nil {
			// No "nobody" account: the conventional overflow ids.
			return 65534, 65534, nil
		}
		return uid, gid, nil
	}
	name, group, hasGroup := strings.Cut(spec, ":")
	if uid, err = strconv.Atoi(name); err != nil {
		u, lerr := user.Lookup(name)
		if lerr != nil {
			return 0, 0, fmt.Errorf("look up sandbox user: %w", lerr)
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
	} else {
		gid = uid
	}
	if hasGroup {
		if gid, err = strconv.Atoi(group); err != nil {
			g, lerr := user.LookupGroup(group)
			if lerr != nil {
				return 0, 0, fmt.Errorf("look up sandbox group: %w", lerr)
			}
			gid, _ = strconv.Atoi(g.Gid)
		}
	}
	if uid == 0 || gid == 0 {
		return 0, 0, fmt.Errorf("%w: sandbox user %q is root", ErrInvalidSpec, spec)
	}
	return uid, gid, nil
}

// lookTool finds a helper program on PATH or in the usual system
// directories, and returns "" when it is not installed.
func lookTool(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		if abs, err := filepath.Abs(p); err == nil {
			return abs
		}
	}
	for _, dir := range []string{"/usr/bin", "/bin", "/usr/sbin", "/sbin"} {
		p := filepath.Join(dir, name)
		if info, err := os.Stat(p); err == nil && info.Mode().IsRegular() && info.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// probeClone reports whether a process can be started with the clone flags.
func probeClone(sh string, flags uintptr) bool {
	cmd := exec.Command(sh, "-c", "exit 0")
	cmd.Env = []string{}
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: flags, Pdeathsig: syscall.SIGKILL}
	return cmd.Run() == nil
}

// tmpTargets lists the world-writable directories that get a private tmpfs
// in each mount namespace, so that nothing written there outlives a stage.
func tmpTargets() []string {
	var out []string
	for _, d := range []string{os.TempDir(), "/tmp", "/var/tmp", "/dev/shm", "/run/lock"} {
		info, err := os.Lstat(d)
		if err != nil || !info.IsDir() || slices.Contains(out, filepath.Clean(d)) {
			continue
		}
		out = append(out, filepath.Clean(d))
	}
	return out
}
