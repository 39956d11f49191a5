//go:build !unix

package supervise

import (
	"fmt"
	"syscall"
)

// Without process groups or SIGTERM, both kinds of stop kill the direct child.
const (
	sigTerm = iota
	sigKill
)

func childAttributes() *syscall.SysProcAttr { return nil }

func (p *Process) signal(int) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	if err := p.cmd.Process.Kill(); err != nil {
		return fmt.Errorf("kill %s (pid %d): %w", p.name, p.Pid(), err)
	}
	return nil
}

func (p *Process) killGroup() {}
