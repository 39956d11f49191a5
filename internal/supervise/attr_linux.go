package supervise

import "syscall"

// childAttributes puts the child in a process group of its own, so a
// terminal's Ctrl-C reaches only us and we decide how children stop, and so
// one signal reaches the child's descendants too; and it has the kernel
// SIGKILL the child when the thread that started it dies, which happens when
// we are killed with SIGKILL and cannot stop the child ourselves.
func childAttributes() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
