//go:build unix

package supervise

import (
	"errors"
	"fmt"
	"syscall"
)

const (
	sigTerm = syscall.SIGTERM
	sigKill = syscall.SIGKILL
)

// signal sends sig to the process's group unless the process is already gone.
func (p *Process) signal(sig syscall.Signal) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	err := syscall.Kill(-p.Pid(), sig)
	if err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal %s (pid %d): %w", p.name, p.Pid(), err)
	}
	return nil
}

// killGroup kills whatever is left in the process's group after the leader
// was reaped. The group id cannot be reused while members remain, and an
// empty group makes this a no-op.
func (p *Process) killGroup() {
	_ = syscall.Kill(-p.Pid(), syscall.SIGKILL)
}
