// Package supervise runs a group of child processes for a local stack: each
// in its own process group, with its output merged into one writer line by
// line under a "[name] " prefix, readiness probed over HTTP, restarts with
// exponential backoff for supervised children, a parent-death signal so no
// child outlives a killed parent (Linux), and a stop that leaves nothing
// running (SIGTERM, a grace period, then SIGKILL).
package supervise

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"time"
)

const (
	// readyInterval paces readiness probes.
	readyInterval = 100 * time.Millisecond
	// probeTimeout bounds one readiness request.
	probeTimeout = 2 * time.Second
	// drainGrace is how long output may keep flowing after a child exits,
	// from descendants that still hold its pipe, before the pipe is closed.
	drainGrace = time.Second
	// maxLine caps a logged line; longer lines are split, never dropped, so a
	// chatty child can never block on a full pipe.
	maxLine = 64 * 1024
)

// ErrExited reports that a process exited before it became ready.
var ErrExited = errors.New("process exited")

// Command describes one child process.
type Command struct {
	// Name labels the process in logs and prefixes its output as "[Name] ".
	Name string
	// Path is the program to run; a name without a slash is looked up in PATH.
	Path string
	// Args are the arguments after the program name.
	Args []string
	// Env is the complete environment, as in exec.Cmd; nil inherits ours.
	Env []string
	// Dir is the working directory; "" uses ours.
	Dir string
}

// Group starts child processes and stops them together. The zero value is
// not usable; create one with New.
type Group struct {
	out    *lineWriter
	logger *slog.Logger

	statusDir string

	mu       sync.Mutex
	procs    []*Process
	stopping bool
	// stopped is closed when Stop begins, to cut restart backoffs short.
	stopped  chan struct{}
	exited   chan struct{}
	cause    error
	watchers sync.WaitGroup
}

// Option configures a Group.
type Option func(*Group)

// WithStatusDir makes the group keep one file per child in dir,
// <name>.json, holding its current pid, restart count and state
// ("running", "restarting", "exited"), so other programs can find and signal
// each process by name.
func WithStatusDir(dir string) Option {
	return func(g *Group) { g.statusDir = dir }
}

// New returns an empty group that writes children's output to out and its own
// lifecycle events to logger (nil discards them).
func New(out io.Writer, logger *slog.Logger, opts ...Option) *Group {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	g := &Group{out: &lineWriter{w: out}, logger: logger, exited: make(chan struct{}), stopped: make(chan struct{})}
	for _, o := range opts {
		o(g)
	}
	return g
}

// Start launches c in a new process group. The process runs until it exits or
// the group stops; ctx only bounds the launch itself.
func (g *Group) Start(ctx context.Context, c Command) (*Process, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("start %s: %w", c.Name, err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopping {
		return nil, fmt.Errorf("start %s: group is stopping", c.Name)
	}
	return g.startLocked(ctx, c, false, 0)
}

// startLocked starts one run of c; an unsupervised run ends the group when
// it exits on its own. The caller holds g.mu.
func (g *Group) startLocked(ctx context.Context, c Command, supervised bool, restarts int) (*Process, error) {
	p, err := start(c, g.out)
	if err != nil {
		return nil, err
	}
	g.procs = append(g.procs, p)
	g.logger.InfoContext(ctx, "process started", "process", c.Name, "pid", p.Pid(), "restarts", restarts)
	g.writeStatusLocked(c.Name, p, restarts, "running")
	if !supervised {
		g.watchers.Go(func() { g.watch(p) })
	}
	return p, nil
}

// giveUpLocked ends the group with cause unless it already ended. The caller
// holds g.mu.
func (g *Group) giveUpLocked(cause error) {
	if g.cause != nil {
		return
	}
	g.cause = cause
	close(g.exited)
}

// Exited returns a channel closed when the first unsupervised process exits
// on its own (not because Stop asked it to), or when a supervised child
// exceeds its restart limit.
func (g *Group) Exited() <-chan struct{} { return g.exited }

// Cause says which process exited first on its own and how; nil until
// Exited is closed.
func (g *Group) Cause() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.cause
}

// Stop sends SIGTERM to every process group, waits for the processes to exit
// until ctx ends, then sends SIGKILL to the groups still running and waits for
// them. It returns once every process has been reaped and its output drained;
// the error reports signals that could not be delivered. Start fails after Stop.
func (g *Group) Stop(ctx context.Context) error {
	g.mu.Lock()
	if !g.stopping {
		g.stopping = true
		close(g.stopped)
	}
	procs := append([]*Process(nil), g.procs...)
	g.mu.Unlock()

	var errs []error
	for _, p := range procs {
		if err := p.signal(sigTerm); err != nil {
			errs = append(errs, err)
		}
	}
	for _, p := range procs {
		select {
		case <-p.Done():
			continue
		case <-ctx.Done():
		}
		g.logger.WarnContext(ctx, "process ignored sigterm, killing", "process", p.name, "pid", p.Pid())
		if err := p.signal(sigKill); err != nil {
			errs = append(errs, err)
		}
		<-p.Done()
	}
	for _, p := range procs {
		// The leader is gone; descendants left in its group would outlive us.
		p.killGroup()
	}
	g.watchers.Wait()
	g.logger.InfoContext(ctx, "processes stopped", "count", len(procs))
	return errors.Join(errs...)
}

// watch records the first process that exits while the group is not stopping.
func (g *Group) watch(p *Process) {
	<-p.Done()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.writeStatusLocked(p.name, p, 0, "exited")
	if g.stopping {
		return
	}
	g.giveUpLocked(fmt.Errorf("%s: %w: %s", p.name, ErrExited, p.exitText()))
}

// Process is one running child.
type Process struct {
	name string
	out  *lineWriter
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Name returns the process's label.
func (p *Process) Name() string { return p.name }

// Pid returns the operating-system process id, which is also its process
// group id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done returns a channel closed once the process has exited and its output
// has been written.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err returns how the process exited (nil for status 0); valid after Done.
func (p *Process) Err() error { return p.err }

// WaitHTTP returns once GET url answers 200. It fails with ErrExited when the
// process exits first, or with ctx's error when ctx ends first.
func (p *Process) WaitHTTP(ctx context.Context, url string) error {
	tick := time.NewTicker(readyInterval)
	defer tick.Stop()
	var last error
	for {
		if last = ProbeHTTP(ctx, url); last == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("wait for %s ready: %w: %s", p.name, ErrExited, p.exitText())
		case <-ctx.Done():
			return fmt.Errorf("wait for %s ready: %w (last attempt: %w)", p.name, context.Cause(ctx), last)
		case <-tick.C:
		}
	}
}

// exitText describes how the process ended; valid after Done.
func (p *Process) exitText() string {
	if p.err == nil {
		return "exit status 0"
	}
	return p.err.Error()
}

// ProbeHTTP reports whether url answers 200 within a short bound, closing
// the connection so none outlives the probe or the server it probed.
func ProbeHTTP(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	// No idle connection outlives the probe.
	req.Close = true
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("get %s: %w", url, err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("get %s: status %d", url, resp.StatusCode)
	}
	return nil
}

// start launches c with stdout and stderr on one pipe that a goroutine copies
// to out, then reaps the process in another.
func start(c Command, out *lineWriter) (*Process, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start %s: create pipe: %w", c.Name, err)
	}
	cmd := exec.Command(c.Path, c.Args...)
	cmd.Env = c.Env
	cmd.Dir = c.Dir
	// One *os.File for both streams: the child writes straight into the pipe,
	// so exec starts no copying goroutine and Wait does not wait on output.
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = childAttributes()

	p := &Process{name: c.Name, out: out, cmd: cmd, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// The parent-death signal fires when the thread that forked the child
		// exits, not the process: this goroutine keeps its thread locked, and
		// so alive, from the fork until the child is reaped.
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.reap(r)
	}()
	err = <-started
	// The child holds its own copy; ours would keep the pipe open forever.
	_ = w.Close()
	if err != nil {
		_ = r.Close()
		return nil, fmt.Errorf("start %s: %w", c.Name, err)
	}
	return p, nil
}

// reap copies the child's output until it exits, waits for it and closes
// done.
func (p *Process) reap(r *os.File) {
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		p.out.copyLines("["+p.name+"] ", r)
	}()
	p.err = p.cmd.Wait()
	select {
	case <-copied:
	case <-time.After(drainGrace):
		// A descendant outside the group still holds the pipe; stop reading.
	}
	_ = r.Close()
	<-copied
	close(p.done)
}

// lineWriter writes whole prefixed lines to w, one at a time, so lines from
// different children never interleave.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// copyLines copies r to the writer line by line until r fails or ends.
func (l *lineWriter) copyLines(prefix string, r io.Reader) {
	br := bufio.NewReaderSize(r, maxLine)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			l.write(prefix, line)
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}

func (l *lineWriter) write(prefix string, line []byte) {
	buf := make([]byte, 0, len(prefix)+len(line)+1)
	buf = append(buf, prefix...)
	buf = append(buf, line...)
	if buf[len(buf)-1] != '\n' {
		buf = append(buf, '\n')
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	// A failing log writer must not stall children; their output is dropped.
	_, _ = l.w.Write(buf)
}
