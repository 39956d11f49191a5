//go:build linux

package sandbox

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// host is what start-up found out about the machine.
type host struct {
	runtime     string // absolute path of the OCI runtime binary
	runtimeName string // its base name: crun, runc or runsc
	// cgroup2 is set on a unified (v2-only) hierarchy; otherwise cgroups
	// are v1 and each controller has its own mount under /sys/fs/cgroup.
	cgroup2 bool
	// network is the user-mode network helper: slirp4netns or pasta.
	network     string
	networkPath string
	// ip is the iproute2 binary, used to close private ranges in a
	// container's network namespace.
	ip string
}

// errHybridCgroups explains the one host set-up crun refuses.
var errHybridCgroups = errors.New("cgroups in hybrid mode with controllers on the v2 hierarchy; crun refuses them: " +
	"bind those controllers to v1 (for example `mkdir -p /sys/fs/cgroup/hugetlb && " +
	"mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb`), boot with cgroups v2 only, " +
	"or set ZINC_SANDBOX_RUNTIME=runc")

// detectHost finds the runtime and the helpers and checks that the host can
// run containers at all: root, cgroups crun accepts, overlayfs.
func detectHost(runtime string) (host, error) {
	var h host
	if runtime == "" {
		runtime = defaultRuntime
	}
	path, err := exec.LookPath(runtime)
	if err != nil {
		return h, fmt.Errorf("%w: find %s: %w", ErrNoRuntime, runtime, err)
	}
	if h.runtime, err = filepath.Abs(path); err != nil {
		return h, fmt.Errorf("%w: %w", ErrNoRuntime, err)
	}
	h.runtimeName = filepath.Base(h.runtime)
	if os.Geteuid() != 0 {
		return h, fmt.Errorf("%w: the worker must run as root to create containers (euid %d)", ErrNoRuntime, os.Geteuid())
	}
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil {
		return h, fmt.Errorf("%w: inspect /sys/fs/cgroup: %w", ErrNoRuntime, err)
	}
	h.cgroup2 = st.Type == unix.CGROUP2_SUPER_MAGIC
	if !h.cgroup2 && h.runtimeName == "crun" && hybridWithControllers() {
		return h, fmt.Errorf("%w: %w", ErrNoRuntime, errHybridCgroups)
	}
	if !filesystemSupported("overlay") {
		return h, fmt.Errorf("%w: the kernel has no overlayfs", ErrNoRuntime)
	}
	for _, name := range []string{"slirp4netns", "pasta"} {
		if p, err := exec.LookPath(name); err == nil {
			h.network, h.networkPath = name, p
			break
		}
	}
	h.ip = lookTool("ip")
	return h, nil
}

// hybridWithControllers reports a v1 host whose unified hierarchy still
// carries controllers, the layout crun refuses.
func hybridWithControllers() bool {
	b, err := os.ReadFile("/sys/fs/cgroup/unified/cgroup.controllers")
	return err == nil && strings.TrimSpace(string(b)) != ""
}

func filesystemSupported(name string) bool {
	b, err := os.ReadFile("/proc/filesystems")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[len(f)-1] == name {
			return true
		}
	}
	return false
}

// cgroupFile is the path of a control file of the container's cgroup.
func (h host) cgroupFile(cgroupPath, controller, file string) string {
	if h.cgroup2 {
		return filepath.Join("/sys/fs/cgroup", cgroupPath, file)
	}
	return filepath.Join("/sys/fs/cgroup", controller, cgroupPath, file)
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

// prepareCpuset gives the runner's cgroup parents in a v1 cpuset hierarchy
// the CPUs and memory nodes of the root: a v1 cpuset cgroup starts empty,
// and a runtime that creates the parents on the way to a container's cgroup
// leaves them so, which refuses every task.
func (h host) prepareCpuset(runnerID string) error {
	if h.cgroup2 {
		return nil
	}
	base := "/sys/fs/cgroup/cpuset"
	if _, err := os.Stat(filepath.Join(base, "cpuset.cpus")); err != nil {
		return nil // no cpuset hierarchy
	}
	parent := base
	for _, d := range []string{cgroupParent, runnerID} {
		dir := filepath.Join(parent, d)
		if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("prepare cpuset cgroup: %w", err)
		}
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			b, err := os.ReadFile(filepath.Join(parent, f))
			if err != nil {
				return fmt.Errorf("prepare cpuset cgroup: %w", err)
			}
			if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
				return fmt.Errorf("prepare cpuset cgroup: %w", err)
			}
		}
		parent = dir
	}
	return nil
}
