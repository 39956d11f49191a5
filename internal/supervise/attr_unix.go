//go:build unix && !linux

package supervise

import "syscall"

// childAttributes puts the child in a process group of its own, so a
// terminal's Ctrl-C reaches only us and we decide how children stop, and so
// one signal reaches the child's descendants too. Without a parent-death
// signal on this system, a child outlives a parent killed with SIGKILL.
func childAttributes() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
