package supervise

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrCrashLoop reports that a supervised child exited unexpectedly more often
// than its restart policy allows.
var ErrCrashLoop = errors.New("restarted too often")

// RestartPolicy says how a supervised child is restarted after it exits on
// its own. The zero value gives the defaults documented on each field.
type RestartPolicy struct {
	// InitialBackoff is the wait before the first restart; it doubles with
	// each further restart inside Window. Default 250 ms.
	InitialBackoff time.Duration
	// MaxBackoff caps the wait between restarts. Default 15 s.
	MaxBackoff time.Duration
	// MaxRestarts is how many restarts Window may hold; one more exit gives
	// up on the child and ends the group (see Group.Exited). Default 5.
	MaxRestarts int
	// Window is the sliding period MaxRestarts counts over. Default 1 minute.
	Window time.Duration
}

func (r RestartPolicy) withDefaults() RestartPolicy {
	if r.InitialBackoff <= 0 {
		r.InitialBackoff = 250 * time.Millisecond
	}
	if r.MaxBackoff <= 0 {
		r.MaxBackoff = 15 * time.Second
	}
	if r.MaxRestarts <= 0 {
		r.MaxRestarts = 5
	}
	if r.Window <= 0 {
		r.Window = time.Minute
	}
	return r
}

// backoff is the wait before a restart when recent restarts already happened
// inside the window.
func (r RestartPolicy) backoff(recent int) time.Duration {
	d := r.InitialBackoff
	for range recent {
		d *= 2
		if d >= r.MaxBackoff {
			return r.MaxBackoff
		}
	}
	return d
}

// Child is a supervised command: the group starts it again, after a backoff,
// whenever it exits while the group is not stopping.
type Child struct {
	g      *Group
	cmd    Command
	policy RestartPolicy

	// gone is closed once the group gave up on the child or stopped.
	gone chan struct{}
	// The fields below are guarded by g.mu.
	current  *Process
	restarts int
	recent   []time.Time
}

// Supervise starts c in a new process group and keeps it running: each
// unexpected exit is logged with its status and followed by a restart after an
// exponential backoff, until the policy's limit of restarts per window is
// exceeded; then the group gives up on every child (Exited is closed, Cause
// wraps ErrCrashLoop and ErrExited). Other children keep running meanwhile.
func (g *Group) Supervise(ctx context.Context, c Command, policy RestartPolicy) (*Child, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("start %s: %w", c.Name, err)
	}
	ch := &Child{g: g, cmd: c, policy: policy.withDefaults(), gone: make(chan struct{})}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopping {
		return nil, fmt.Errorf("start %s: group is stopping", c.Name)
	}
	p, err := g.startLocked(ctx, c, true, 0)
	if err != nil {
		return nil, err
	}
	ch.current = p
	g.watchers.Go(func() { ch.supervise(p) })
	return ch, nil
}

// Name returns the child's label.
func (c *Child) Name() string { return c.cmd.Name }

// Process returns the current run of the child.
func (c *Child) Process() *Process {
	c.g.mu.Lock()
	defer c.g.mu.Unlock()
	return c.current
}

// Restarts returns how many times the child was restarted.
func (c *Child) Restarts() int {
	c.g.mu.Lock()
	defer c.g.mu.Unlock()
	return c.restarts
}

// Gone returns a channel closed once the child will not run again: the group
// gave up on it or is stopping.
func (c *Child) Gone() <-chan struct{} { return c.gone }

// WaitHTTP returns once GET url answers 200, following the child across
// restarts. It fails with ErrExited when the child will not run again, or with
// ctx's error when ctx ends first.
func (c *Child) WaitHTTP(ctx context.Context, url string) error {
	tick := time.NewTicker(readyInterval)
	defer tick.Stop()
	var last error
	for {
		if last = ProbeHTTP(ctx, url); last == nil {
			return nil
		}
		select {
		case <-c.gone:
			return fmt.Errorf("wait for %s ready: %w: %s", c.cmd.Name, ErrExited, c.Process().exitText())
		case <-ctx.Done():
			return fmt.Errorf("wait for %s ready: %w (last attempt: %w)", c.cmd.Name, context.Cause(ctx), last)
		case <-tick.C:
		}
	}
}

// supervise restarts the child each time its current run p exits, until the
// group stops or the restart limit is exceeded.
func (c *Child) supervise(p *Process) {
	defer close(c.gone)
	for {
		<-p.Done()
		delay, ok := c.nextRestart(p)
		if !ok {
			return
		}
		timer := time.NewTimer(delay)
		select {
		case <-timer.C:
		case <-c.g.stopped:
			timer.Stop()
			return
		}
		next, ok := c.restart()
		if !ok {
			return
		}
		p = next
	}
}

// nextRestart records the exit of run p and decides whether and when to
// start the child again.
func (c *Child) nextRestart(p *Process) (time.Duration, bool) {
	g := c.g
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopping {
		g.writeStatusLocked(c.cmd.Name, p, c.restarts, "exited")
		return 0, false
	}
	now := time.Now()
	cutoff := now.Add(-c.policy.Window)
	kept := c.recent[:0]
	for _, t := range c.recent {
		if t.After(cutoff) {
			kept = append(kept, t)
		}
	}
	c.recent = kept
	if len(c.recent) >= c.policy.MaxRestarts {
		g.logger.Error("process keeps crashing, giving up", "process", c.cmd.Name, "pid", p.Pid(),
			"exit_status", p.exitText(), "restarts_in_window", len(c.recent), "window", c.policy.Window)
		g.writeStatusLocked(c.cmd.Name, p, c.restarts, "exited")
		g.giveUpLocked(fmt.Errorf("%s: %w (%d times in %s): %w: %s",
			c.cmd.Name, ErrCrashLoop, len(c.recent), c.policy.Window, ErrExited, p.exitText()))
		return 0, false
	}
	delay := c.policy.backoff(len(c.recent))
	c.recent = append(c.recent, now)
	g.logger.Warn("process exited unexpectedly, restarting", "process", c.cmd.Name, "pid", p.Pid(),
		"exit_status", p.exitText(), "restart", c.restarts+1, "backoff", delay)
	g.writeStatusLocked(c.cmd.Name, p, c.restarts, "restarting")
	return delay, true
}

// restart starts the next run unless the group is stopping.
func (c *Child) restart() (*Process, bool) {
	g := c.g
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopping {
		return nil, false
	}
	c.restarts++
	p, err := g.startLocked(context.Background(), c.cmd, true, c.restarts)
	if err != nil {
		g.logger.Error("process restart failed, giving up", "process", c.cmd.Name, "err", err)
		g.giveUpLocked(fmt.Errorf("%s: restart: %w", c.cmd.Name, err))
		return nil, false
	}
	c.current = p
	return p, true
}
