//go:build linux

package sandbox

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// cpuPeriod is the CFS period of the CPU quota, in microseconds.
const cpuPeriod = 100_000

// stackBytes is the stack rlimit, the usual Linux default.
const stackBytes = 8 << 20

// maskedPaths and readonlyPaths are the /proc entries container runtimes
// hide or freeze by default (moby's and runc's defaults).
var (
	maskedPaths = []string{
		"/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys",
		"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
		"/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
	}
	readonlyPaths = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
)

// initScript is the container's first process. The command runs as its
// child, not as PID 1 of the namespace: the kernel ignores signals such as
// SIGPIPE or a raised SIGABRT for a PID 1 without handlers, which would
// change how student programs end. The shell reports a death by signal N
// as exit status 128+N, which the runner turns back into the signal; its
// own stderr is /dev/null, so its "Segmentation fault" notices never mix
// with the command's stderr.
const initScript = `unset PWD; exec 3>&2 2>/dev/null; (exec "$@" 2>&3 3>&-); exit $?`

// container is everything one command's OCI spec is built from.
type container struct {
	id         string
	cgroupPath string
	argv, env  []string
	dir        string
	scratch    string
	// layer is the per-command tmpfs holding the overlay's upper and work
	// directories and the container's /tmp.
	layer string
	// view is the scratch tree's overlay, mounted on the host; pins are
	// the directories in it bound onto themselves (pinnedDirs).
	view   string
	pins   []string
	mounts []Mount
	lim    Limits
	// rootfs is the image root (Spec.RootFS); empty for the toolchain
	// skeleton.
	rootfs string
}

// defaultSeccomp converts moby's maintained default profile for a process
// whose bounding set holds caps (none for a command).
func defaultSeccomp(caps ...string) (*specs.LinuxSeccomp, error) {
	sp := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: caps}}}
	prof, err := seccomp.GetDefaultProfile(sp)
	if err != nil {
		return nil, fmt.Errorf("load default seccomp profile: %w", err)
	}
	rules := prof.Syscalls[:0:0]
	for _, rule := range prof.Syscalls {
		names := slices.DeleteFunc(slices.Clone(rule.Names), func(n string) bool { return slices.Contains(hostPoolCalls, n) })
		if len(names) > 0 {
			rule.Names = names
			rules = append(rules, rule)
		}
	}
	prof.Syscalls = append(rules, specs.LinuxSyscall{Names: hostPoolCalls, Action: specs.ActErrno, ErrnoRet: ptr(uint(unix.ENOSYS))})
	return prof, nil
}

// hostPoolCalls are allowed by moby's profile but draw on a pool that no
// cgroup or namespace limits, shared by the whole host or by every command
// (all run as user 65534): io_setup reserves events from fs.aio-max-nr, all
// of which one call may hold, and inotify instances count against
// fs.inotify.max_user_instances (128), which three processes of one command
// take. Held for as long as the command runs, either fails that facility
// for every other command, checker and service. They fail with ENOSYS, as
// on a kernel without them: libaio's users and inotify's (tail -f, file
// watchers) fall back, and glibc's POSIX AIO does not use io_setup.
var hostPoolCalls = []string{"io_setup", "inotify_init", "inotify_init1"}

// ociSpec builds the runtime spec of c.
func (r *Runner) ociSpec(c container) *specs.Spec {
	cpu := uint64(c.lim.CPUSeconds)
	fsize := mib(c.lim.MaxFileMB)
	nofile := uint64(c.lim.OpenFiles)
	var annotations map[string]string
	if r.seccompBPF != "" {
		// crun loads the precompiled filter and ignores Linux.Seccomp,
		// which stays as the policy of record for any other runtime.
		annotations = map[string]string{seccompBPFAnnotation: r.seccompBPF}
	}
	return &specs.Spec{
		Annotations: annotations,
		// The oldest version every supported runtime accepts (crun 1.8 refuses 1.3).
		Version:  "1.0.2",
		Hostname: "sandbox",
		Root:     &specs.Root{Path: r.rootPath(c), Readonly: true},
		Process: &specs.Process{
			User:            specs.User{UID: sandboxUID, GID: sandboxUID},
			Args:            append([]string{"/bin/sh", "-c", initScript, "sh"}, c.argv...),
			Env:             c.env,
			Cwd:             c.dir,
			Capabilities:    &specs.LinuxCapabilities{},
			NoNewPrivileges: true,
			OOMScoreAdj:     ptr(1000),
			Rlimits: []specs.POSIXRlimit{
				// SIGXCPU at the soft limit, SIGKILL one second later for a
				// program that catches SIGXCPU.
				{Type: "RLIMIT_CPU", Soft: cpu, Hard: cpu + 1},
				{Type: "RLIMIT_FSIZE", Soft: fsize, Hard: fsize},
				{Type: "RLIMIT_NOFILE", Soft: nofile, Hard: nofile},
				// A crashing program must not fill the scratch with a core.
				{Type: "RLIMIT_CORE", Soft: 0, Hard: 0},
				{Type: "RLIMIT_STACK", Soft: stackBytes, Hard: stackBytes},
			},
		},
		Mounts: r.ociMounts(c),
		Linux: &specs.Linux{
			Namespaces:    namespaces(),
			CgroupsPath:   c.cgroupPath,
			Resources:     resources(c.lim),
			MaskedPaths:   maskedPaths,
			ReadonlyPaths: readonlyPaths,
			Seccomp:       r.seccomp,
		},
	}
}

// ociMounts lists the container's mounts: kernel file systems, the
// read-only toolchain (or an image's /etc files), a private /tmp, the
// scratch tree's overlay view, the directories on the way to the extra
// mounts bound onto themselves, and the spec's extra mounts.
func (r *Runner) ociMounts(c container) []specs.Mount {
	tmpfs := func(dst, opts string) specs.Mount {
		return specs.Mount{Destination: dst, Type: "tmpfs", Source: "tmpfs",
			Options: append([]string{"nosuid", "nodev"}, strings.Split(opts, ",")...)}
	}
	ms := []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		// Not nodev: the runtime creates /dev/null and the like in it.
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=64k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts",
			Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
	}
	ms = append(ms, r.rootMounts(c)...)
	// /tmp and /dev/shm live in the command's layer, inside its disk limit.
	ms = append(ms,
		specs.Mount{Destination: "/tmp", Type: "bind", Source: filepath.Join(c.layer, "tmp"),
			Options: []string{"bind", "rw", "nosuid", "nodev"}},
		specs.Mount{Destination: "/dev/shm", Type: "bind", Source: filepath.Join(c.layer, "shm"),
			Options: []string{"bind", "rw", "nosuid", "nodev", "noexec"}})
	if top := topDir(c.scratch); top != "/tmp" {
		// Holds the scratch's mount point, so that the shared read-only
		// skeleton is never written.
		ms = append(ms, tmpfs(top, "mode=755,size=64k"))
	}
	ms = append(ms, specs.Mount{Destination: c.scratch, Type: "bind", Source: c.view,
		Options: []string{"bind", "rw", "nosuid", "nodev"}})
	for _, d := range c.pins {
		ms = append(ms, specs.Mount{Destination: filepath.Join(c.scratch, d), Type: "bind", Source: filepath.Join(c.view, d),
			Options: []string{"bind", "rw", "nosuid", "nodev"}})
	}
	for _, m := range c.mounts {
		ms = append(ms, specs.Mount{Destination: m.Target, Type: "bind", Source: m.Source,
			Options: []string{"rbind", "ro", "nosuid", "nodev"}})
	}
	return ms
}

// namespaces are the namespaces of every container.
func namespaces() []specs.LinuxNamespace {
	return []specs.LinuxNamespace{
		{Type: specs.PIDNamespace}, {Type: specs.MountNamespace}, {Type: specs.IPCNamespace},
		{Type: specs.UTSNamespace}, {Type: specs.CgroupNamespace}, {Type: specs.NetworkNamespace},
	}
}

// resources are a container's cgroup limits: memory with swap equal to it
// (memory plus swap may not pass the limit), processes, CPU quota, devices.
func resources(lim Limits) *specs.LinuxResources {
	memory := int64(mib(lim.MemoryMB))
	pids := int64(lim.MaxProcesses)
	quota := int64(lim.CPUs * cpuPeriod)
	period := uint64(cpuPeriod)
	return &specs.LinuxResources{
		Memory:  &specs.LinuxMemory{Limit: &memory, Swap: &memory},
		Pids:    &specs.LinuxPids{Limit: &pids},
		CPU:     &specs.LinuxCPU{Quota: &quota, Period: &period},
		Devices: deviceRules(),
	}
}

// deviceRules deny every device but the few a program expects in /dev.
func deviceRules() []specs.LinuxDeviceCgroup {
	rules := []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}
	for _, d := range []struct{ major, minor int64 }{
		{1, 3}, {1, 5}, {1, 7}, {1, 8}, {1, 9}, {5, 0}, {5, 2}, // null zero full random urandom tty ptmx
	} {
		rules = append(rules, specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: ptr(d.major), Minor: ptr(d.minor), Access: "rwm"})
	}
	// The pseudo-terminals of the container's own devpts.
	return append(rules, specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: ptr(int64(136)), Access: "rwm"})
}

// topDir is the first component of an absolute path: "/tmp" for
// "/tmp/zinc-grade-1".
func topDir(path string) string {
	rest := strings.TrimPrefix(filepath.Clean(path), "/")
	top, _, _ := strings.Cut(rest, "/")
	return "/" + top
}

// validScratch refuses scratch paths that cannot be mounted safely: inside
// the toolchain, at the root, or with characters the overlay options
// cannot carry.
func validScratch(scratch string) error {
	top := topDir(scratch)
	switch {
	case top == "/" || filepath.Clean(scratch) == top && top != "/tmp":
		return fmt.Errorf("%w: scratch directory %q must be below a top-level directory", ErrInvalidSpec, scratch)
	case top == "/tmp" && filepath.Clean(scratch) == "/tmp":
		return fmt.Errorf("%w: scratch directory may not be /tmp itself", ErrInvalidSpec)
	case strings.ContainsAny(scratch, ",:\\"):
		return fmt.Errorf("%w: scratch directory %q contains ',', ':' or '\\'", ErrInvalidSpec, scratch)
	case top == "/proc" || top == "/dev" || top == "/etc" || top == "/sys":
		return fmt.Errorf("%w: scratch directory %q is in a system directory", ErrInvalidSpec, scratch)
	}
	for _, d := range toolchainDirs {
		if top == d {
			return fmt.Errorf("%w: scratch directory %q is in the toolchain", ErrInvalidSpec, scratch)
		}
	}
	return nil
}

func ptr[T any](v T) *T { return &v }
