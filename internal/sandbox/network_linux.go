//go:build linux

package sandbox

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// networkSetupTimeout bounds bringing up the user-mode network.
const networkSetupTimeout = 10 * time.Second

// closedRanges are the destinations a command with Limits.Network may never
// reach: loopback, link-local, private and shared address space. The host's
// own addresses are added at start-up.
var closedRanges = []string{
	"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10",
	"127.0.0.0/8", "0.0.0.0/8", "224.0.0.0/4", "240.0.0.0/4",
}

// userNetwork is a running slirp4netns serving one container.
type userNetwork struct {
	cmd *exec.Cmd
}

// hostAddresses lists the worker's own IPv4 addresses as /32 routes, so a
// container cannot reach services listening on them either.
func hostAddresses() []string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []string
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && !ipn.IP.IsLoopback() {
			out = append(out, ipn.IP.String()+"/32")
		}
	}
	return out
}

// startNetwork connects the network namespace of process pid to the outside
// through slirp4netns, with the host's loopback disabled and slirp4netns
// itself confined (it parses the command's packets as root on the host: its
// own mount namespace, no capabilities, a seccomp filter), and then closes
// every private range with "prohibit" routes inside the namespace, where the
// command, without capabilities, cannot change them.
func (r *Runner) startNetwork(ctx context.Context, pid int) (*userNetwork, error) {
	if r.host.network != "slirp4netns" {
		return nil, fmt.Errorf("%w: network access needs slirp4netns, which is not installed", ErrInvalidSpec)
	}
	ctx, cancel := context.WithTimeout(ctx, networkSetupTimeout)
	defer cancel()
	ready, readyW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start network: %w", err)
	}
	defer func() { _ = ready.Close() }()
	cmd := exec.Command(r.host.networkPath, "--configure", "--mtu=65520", "--disable-host-loopback", "--enable-sandbox", "--enable-seccomp",
		"--ready-fd=3", strconv.Itoa(pid), "tap0")
	cmd.ExtraFiles = []*os.File{readyW}
	// A mount namespace of its own, every mount in it private, before
	// slirp4netns makes its sandbox: it unshares one more and makes only
	// "/" private there, so the copies of every shared mount of the host
	// (each cell's directory and the layer, scratch view and read-only
	// files of the command running in it) stay peers of the host's, and
	// detaching its old root then unmounted those of the host too: the
	// cell command's commit failed ("lstat .") and its clean-up with
	// EINVAL (TestCellCommandKeepsItsMountsWhileANetworkCommandStarts).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Unshareflags: syscall.CLONE_NEWNS}
	if err := cmd.Start(); err != nil {
		_ = readyW.Close()
		return nil, fmt.Errorf("start slirp4netns: %w", err)
	}
	_ = readyW.Close()
	n := &userNetwork{cmd: cmd}
	got := make(chan error, 1)
	go func() {
		b := make([]byte, 1)
		_, err := ready.Read(b)
		got <- err
	}()
	select {
	case err = <-got:
	case <-ctx.Done():
		err = ctx.Err()
		_ = ready.Close()
	}
	if err != nil {
		n.stop()
		return nil, fmt.Errorf("wait for slirp4netns: %w", err)
	}
	if err := r.closeRanges(ctx, pid); err != nil {
		n.stop()
		return nil, err
	}
	return n, nil
}

// closeRanges adds the prohibit routes inside the namespace of pid.
func (r *Runner) closeRanges(ctx context.Context, pid int) error {
	nsenter := lookTool("nsenter")
	if r.host.ip == "" || nsenter == "" {
		return fmt.Errorf("close private ranges: ip and nsenter are needed")
	}
	var batch strings.Builder
	for _, c := range append(append([]string{}, closedRanges...), r.hostAddrs...) {
		fmt.Fprintf(&batch, "route add prohibit %s\n", c)
	}
	cmd := exec.CommandContext(ctx, nsenter, "--net=/proc/"+strconv.Itoa(pid)+"/ns/net", "--", r.host.ip, "-batch", "-")
	cmd.Stdin = strings.NewReader(batch.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("close private ranges: %w: %s", err, out)
	}
	return nil
}

// stop ends slirp4netns.
func (n *userNetwork) stop() {
	if n == nil {
		return
	}
	_ = n.cmd.Process.Kill()
	_ = n.cmd.Wait()
}
