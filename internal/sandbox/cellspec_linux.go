//go:build linux

package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// cellMount is where a cell sees its directory: the host mounts each
// command's layer, scratch view and read-only files below it, and the
// mounts propagate into the running cell.
const cellMount = "/cell"

// cellLoop is a cell's first process. For each request line it runs a
// command through bwrap with the files the runner prepared in the cell
// directory, and answers with bwrap's exit status: the command's, or 128+N
// for a death by signal N. Its own stderr is /dev/null; its environment,
// which bwrap's init (PID 1 of the command) keeps, is PATH and HOME only.
const cellLoop = `exec 2>/dev/null; unset PWD
while read -r request; do
  "$0" --args 7 --seccomp 8 -- /bin/sh -c "$1" sh \
    6<` + cellMount + `/command 7<` + cellMount + `/args 8<` + cellMount + `/seccomp.bpf 9>` + cellMount + `/ready \
    <` + cellMount + `/stdin >` + cellMount + `/stdout 2>` + cellMount + `/stderr
  echo $?
done`

// cellInit starts inside bwrap's namespaces, as the child of bwrap's own
// init. It reads one line from descriptor 6, written by the runner: the
// command's rlimits and its argv, quoted (bwrap reads options, not the
// command, from a file, and the environment would show them in PID 1's
// /proc environ). It marks the set-up as done once the limits are in force
// (so that a failure of bwrap or of the limits is never taken for the
// command's), closes the descriptors bwrap read, makes the command the OOM
// killer's first choice and becomes it.
const cellInit = `IFS= read -r command <&6 || exit 125
nl='
'
eval "$command" || exit 125
printf . >&9; exec 6<&- 7<&- 8<&- 9>&-; unset command nl
echo 1000 2>/dev/null >/proc/self/oom_score_adj; unset PWD; exec "$@"`

// cellCommandLine is the line cellInit evaluates: the rlimits (CPU
// seconds, file size in 512-byte blocks, open files, no core, stack in
// KiB), then the argv, each argument single-quoted, its newlines spelled
// "$nl" so that the line stays one line.
func cellCommandLine(j job) string {
	var b strings.Builder
	fmt.Fprintf(&b, "ulimit -S -t %d && ulimit -H -t %d && ulimit -f %d && ulimit -n %d && ulimit -c 0 && ulimit -s %d && set --",
		j.lim.CPUSeconds, j.lim.CPUSeconds+1, mib(j.lim.MaxFileMB)/512, j.lim.OpenFiles, stackBytes/1024)
	for _, arg := range j.spec.Argv {
		b.WriteString(" '")
		for _, r := range arg {
			switch r {
			case '\'':
				b.WriteString(`'\''`)
			case '\n':
				b.WriteString(`'"$nl"'`)
			default:
				b.WriteRune(r)
			}
		}
		b.WriteString("'")
	}
	b.WriteString("\n")
	return b.String()
}

// cellSpec is the OCI spec of a cell: the runner's read-only root, the
// cell directory with its mounts propagating in, no capabilities, and
// moby's profile for a process with CAP_SYS_ADMIN in its bounding set, so
// that bwrap may build each command's namespaces (it has the capability
// only inside the user namespace it creates; the command then runs under
// the profile for no capabilities). /proc is not masked: the kernel lets a
// user namespace mount a fresh proc only where the existing one is fully
// visible; each command's own /proc is masked instead.
func (r *Runner) cellSpec(c *cell) *specs.Spec {
	var annotations map[string]string
	if r.cellSeccompBPF != "" {
		annotations = map[string]string{seccompBPFAnnotation: r.cellSeccompBPF}
	}
	mounts := []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=64k"}},
		{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "mode=755", "size=64k"}},
	}
	mounts = append(mounts, r.rootMounts(container{})...)
	mounts = append(mounts, specs.Mount{Destination: cellMount, Type: "bind", Source: c.dir,
		Options: []string{"rbind", "rw", "nosuid", "nodev", "rslave"}})
	return &specs.Spec{
		Annotations: annotations,
		Version:     "1.0.2",
		Hostname:    "sandbox",
		Root:        &specs.Root{Path: r.root.dir, Readonly: true},
		Process: &specs.Process{
			User:            specs.User{UID: sandboxUID, GID: sandboxUID},
			Args:            []string{"/bin/sh", "-c", cellLoop, r.bwrap, cellInit},
			Env:             []string{"PATH=/usr/bin:/bin"},
			Cwd:             "/",
			Capabilities:    &specs.LinuxCapabilities{},
			NoNewPrivileges: true,
		},
		Mounts: mounts,
		Linux: &specs.Linux{
			Namespaces: namespaces(),
			// The host's mounts in the cell directory must reach the cell.
			RootfsPropagation: "rslave",
			CgroupsPath:       c.cgroupPath,
			// Until the first command sets its own.
			Resources: resources(Limits{MemoryMB: defaultMemoryMB, MaxProcesses: defaultProcesses, CPUs: defaultCPUs}),
			Seccomp:   r.cellSeccomp,
		},
	}
}

// bwrapArgs are the options of one command's bwrap: every namespace fresh
// (user, PID, IPC, network with loopback up, UTS, cgroup, mount), no
// capabilities, no further user namespaces, the runner's read-only root,
// a masked /proc, a private /dev, the layer's /tmp and /dev/shm, the
// scratch view, the directories on the way to the read-only mounts bound
// onto themselves (pinnedDirs) and the read-only mounts, then the root made
// read-only.
func (r *Runner) bwrapArgs(j job, mounts []string) []string {
	uid := strconv.Itoa(sandboxUID)
	a := []string{
		"--unshare-user", "--uid", uid, "--gid", uid, "--disable-userns",
		"--unshare-pid", "--unshare-ipc", "--unshare-net", "--unshare-uts", "--unshare-cgroup",
		"--die-with-parent", "--new-session", "--hostname", "sandbox", "--clearenv",
	}
	for _, kv := range j.spec.Env {
		k, v, _ := strings.Cut(kv, "=")
		a = append(a, "--setenv", k, v)
	}
	for _, d := range r.root.binds {
		a = append(a, "--ro-bind", d, d)
	}
	for _, l := range r.root.links {
		a = append(a, "--symlink", l[1], l[0])
	}
	a = append(a, "--ro-bind", "/etc", "/etc", "--proc", "/proc")
	a = append(a, r.cellProcMasks...)
	layer := filepath.Join(cellMount, "layer")
	a = append(a,
		"--dev", "/dev", "--mqueue", "/dev/mqueue",
		"--bind", filepath.Join(layer, "shm"), "/dev/shm",
		"--bind", filepath.Join(layer, "tmp"), "/tmp",
		"--bind", filepath.Join(cellMount, "view"), j.scratch)
	for _, d := range pinnedDirs(j.scratch, j.spec.Mounts) {
		a = append(a, "--bind", filepath.Join(cellMount, "view", d), filepath.Join(j.scratch, d))
	}
	for i, m := range j.spec.Mounts {
		a = append(a, "--ro-bind", mounts[i], m.Target)
	}
	return append(a, "--remount-ro", "/", "--chdir", j.dir)
}

// procMasks hide and freeze the /proc entries container runtimes do
// (maskedPaths, readonlyPaths), those this kernel has.
func procMasks() []string {
	var a []string
	for _, p := range maskedPaths {
		info, err := os.Stat(p)
		switch {
		case err != nil || !strings.HasPrefix(p, "/proc/"):
		case info.IsDir():
			a = append(a, "--tmpfs", p, "--remount-ro", p)
		default:
			a = append(a, "--ro-bind", "/dev/null", p)
		}
	}
	for _, p := range readonlyPaths {
		if _, err := os.Stat(p); err == nil {
			a = append(a, "--ro-bind", p, p)
		}
	}
	return a
}
