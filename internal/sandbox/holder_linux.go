//go:build linux

package sandbox

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
)

// holderScript runs as PID 1 of a fresh PID and mount namespace (and network
// namespace when asked). It makes every mount private, mounts a /proc that
// shows only the namespace, puts a private tmpfs over each shared temporary
// directory — bind-mounting the scratch directory back when it lives in one:
// "." still names the original directory, and without canonicalising mount
// resolves it through the working directory, not through the new tmpfs —
// reports "ready", and then only reaps orphans until the runner kills it,
// which kills everything left in the namespace.
const holderScript = `set -eu
umask 022
dir=$1 size=$2
shift 2
cd "$dir"
mount --make-rprivate /
mount -t proc -o nosuid,nodev,noexec proc /proc
for t in "$@"; do
	[ -d "$t" ] || continue
	mount -t tmpfs -o "mode=1777,nosuid,nodev,size=$size" tmpfs "$t"
	case "$dir/" in
	"$t"/*)
		mkdir -p "$dir"
		mount --no-canonicalize --bind . "$dir"
		;;
	esac
done
echo ready
exec </dev/null >/dev/null 2>&1
while :; do sleep 86400 & wait; done`

// holderPath is the PATH of the holder, a trusted root process that only
// runs mount, mkdir and sleep.
const holderPath = "PATH=/usr/sbin:/usr/bin:/sbin:/bin"

// holder owns the namespaces of one command.
type holder struct {
	cmd   *exec.Cmd
	netns bool
	done  chan struct{}
}

// startHolder starts a holder for dir and waits until its namespaces are
// ready. The tmpfs mounts are capped at the command's memory limit.
func (r *Runner) startHolder(ctx context.Context, dir string, lim Limits, netns bool) (*holder, error) {
	flags := uintptr(syscall.CLONE_NEWPID | syscall.CLONE_NEWNS)
	if netns {
		flags |= syscall.CLONE_NEWNET
	}
	args := append([]string{"-c", holderScript, "sh", dir, fmt.Sprintf("%dm", lim.MemoryMB)}, r.tmpTargets...)
	cmd := exec.Command(r.tools.sh, args...)
	cmd.Env = []string{holderPath + ":" + os.Getenv("PATH")}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: flags, Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("start namespace holder: %w", err)
	}
	stderr := newCapture(4096, func() {})
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start namespace holder: %w", err)
	}
	h := &holder{cmd: cmd, netns: netns, done: make(chan struct{})}

	ctx, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	stop := context.AfterFunc(ctx, h.kill)
	line, rerr := bufio.NewReader(stdout).ReadString('\n')
	stop()
	if rerr != nil || line != "ready\n" {
		h.kill()
		werr := cmd.Wait()
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("start namespace holder: %w", err)
		}
		msg, _, _ := stderr.result()
		return nil, fmt.Errorf("start namespace holder: %v, %v: %s", rerr, werr, strings.TrimSpace(string(msg)))
	}
	go func() {
		defer close(h.done)
		_ = cmd.Wait()
	}()
	return h, nil
}

func (h *holder) pid() int { return h.cmd.Process.Pid }

// kill ends the holder; the kernel then kills every process of its PID
// namespace. The signal comes from the parent namespace, so PID 1 cannot
// ignore it, and it goes through the process handle (a pidfd), so it cannot
// reach a recycled pid once the holder has been reaped.
func (h *holder) kill() {
	_ = h.cmd.Process.Signal(syscall.SIGKILL)
}

// stop kills the holder and waits until its namespace is gone. It may be
// called more than once.
func (h *holder) stop() {
	h.kill()
	<-h.done
}
