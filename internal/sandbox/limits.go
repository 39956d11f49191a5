package sandbox

import (
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// hitFacts is what limitHit decides from: what the command's end looked
// like and what the container's cgroup and file systems counted.
type hitFacts struct {
	flooded, truncated bool
	oomKills, pidsMax  int
	signal             string
	exitCode           int
	killedByUs         bool
	// cpuUsed is the CPU time the command's processes used, all of them
	// (the container's cgroup) where it is known.
	cpuUsed, cpuLimit time.Duration
	// fileAtCap: a file written during the command reached the file-size
	// limit (a program that caught SIGXFSZ and got EFBIG leaves this).
	fileAtCap bool
	// diskFull: the command's writable layer ran out of space or inodes.
	diskFull bool
}

// cpuEvidence is the share of the CPU limit a command must have used for
// SIGXCPU or SIGKILL to count as the CPU limit. The rlimit counts ticks and
// the exact run time trails it on a busy host (below 0.9 of the limit in
// the race-enabled suite on two cores): half the limit still makes a
// forged signal cost the student half of the CPU they are allowed.
const cpuEvidence = 0.5

// limitHit names the limit the command ran into, the most specific first.
// A signal alone proves nothing: a program can raise SIGXCPU or SIGXFSZ
// on itself, or exit with 152 or 153, to pass for a limit hit (and leave a
// delivery ungraded where limits are not the student's fault). So a
// limit is named only with evidence the program cannot fake: CPU time
// used, a file at the size cap.
func limitHit(f hitFacts) string {
	// A shell reports a child killed by a signal as 128+signal.
	died := func(sig syscall.Signal) bool {
		return f.signal == unix.SignalName(sig) || f.exitCode == 128+int(sig)
	}
	cpuSpent := float64(f.cpuUsed) >= cpuEvidence*float64(f.cpuLimit)
	cpu := cpuSpent && (died(syscall.SIGXCPU) || died(syscall.SIGKILL) && !f.killedByUs)
	switch {
	case f.flooded:
		return LimitOutput
	case f.oomKills > 0:
		return LimitMemory
	case cpu:
		return LimitCPU
	case f.fileAtCap:
		// With or without SIGXFSZ: a program that caught it got EFBIG.
		return LimitFileSize
	case f.diskFull:
		return LimitDisk
	case f.pidsMax > 0:
		return LimitProcesses
	case f.truncated:
		return LimitOutput
	}
	return ""
}
