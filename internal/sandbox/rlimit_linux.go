//go:build linux

package sandbox

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// rlimit is one resource limit to apply to the command's first process;
// every process it starts inherits it.
type rlimit struct {
	resource int
	name     string
	soft     uint64
	hard     uint64
}

// plan lists the rlimits for a command. memoryFallback and nprocFallback are
// set when no cgroup enforces memory or the process count.
func rlimitPlan(l Limits, memoryFallback bool, nproc uint64) []rlimit {
	cpu := uint64(l.CPUSeconds)
	plan := []rlimit{
		// SIGXCPU at the soft limit, SIGKILL one second later for a program
		// that catches SIGXCPU.
		{unix.RLIMIT_CPU, "cpu", cpu, cpu + 1},
		{unix.RLIMIT_FSIZE, "fsize", mib(l.MaxFileMB), mib(l.MaxFileMB)},
		{unix.RLIMIT_NOFILE, "nofile", uint64(l.OpenFiles), uint64(l.OpenFiles)},
		// A crashing program must not fill the scratch directory with a core.
		{unix.RLIMIT_CORE, "core", 0, 0},
	}
	if memoryFallback {
		plan = append(plan, rlimit{unix.RLIMIT_AS, "as", mib(l.MemoryMB), mib(l.MemoryMB)})
	}
	if nproc > 0 {
		plan = append(plan, rlimit{unix.RLIMIT_NPROC, "nproc", nproc, nproc})
	}
	return plan
}

func mib(n int) uint64 { return uint64(n) << 20 }

// applyRlimits sets the plan on process pid, never above the hard limits the
// process already has (an unprivileged worker cannot raise them).
func applyRlimits(pid int, plan []rlimit) error {
	for _, r := range plan {
		var old unix.Rlimit
		if err := unix.Prlimit(pid, r.resource, nil, &old); err != nil {
			return fmt.Errorf("read rlimit %s: %w", r.name, err)
		}
		lim := unix.Rlimit{Cur: min(r.soft, old.Max), Max: min(r.hard, old.Max)}
		if err := unix.Prlimit(pid, r.resource, &lim, nil); err != nil {
			return fmt.Errorf("set rlimit %s: %w", r.name, err)
		}
	}
	return nil
}

// userTasks counts the tasks (threads included, as RLIMIT_NPROC does) that
// uid owns right now, so that an unprivileged worker can give a command
// RLIMIT_NPROC headroom above what the user already runs.
func userTasks(uid int) uint64 {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	var n uint64
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		n += tasksOf(filepath.Join("/proc", e.Name(), "status"), uid)
	}
	return n
}

func tasksOf(statusPath string, uid int) uint64 {
	f, err := os.Open(statusPath)
	if err != nil {
		return 0
	}
	defer func() { _ = f.Close() }()
	var owned bool
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, val, _ := strings.Cut(sc.Text(), ":")
		fields := strings.Fields(val)
		switch {
		case key == "Uid" && len(fields) > 0:
			owned = fields[0] == strconv.Itoa(uid)
		case key == "Threads" && len(fields) > 0 && owned:
			n, _ := strconv.ParseUint(fields[0], 10, 64)
			return n
		}
	}
	return 0
}
