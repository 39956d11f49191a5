package sandbox

import (
	"syscall"
	"time"
)

// hitFacts is what limitHit decides from: what the command's end looked
// like and what the container's cgroup and file systems counted.
type hitFacts struct {
	flooded, truncated bool
	oomKills, pidsMax  int
	signal             string
	exitCode           int
	killedByUs         bool
	cpuUsed, cpuLimit  time.Duration
	// fileAtCap: a file written during the command reached the file-size
	// limit (a program that caught SIGXFSZ and got EFBIG leaves this).
	fileAtCap bool
	// diskFull: the command's writable layer ran out of space or inodes.
	diskFull bool
}

// limitHit names the limit the command ran into, the most specific first.
func limitHit(f hitFacts) string {
	// A shell reports a child killed by a signal as 128+signal.
	shellSaw := func(sig syscall.Signal) bool { return f.exitCode == 128+int(sig) }
	cpu := f.signal == "SIGXCPU" ||
		((f.signal == "SIGKILL" && !f.killedByUs) || shellSaw(syscall.SIGXCPU) || shellSaw(syscall.SIGKILL)) &&
			f.cpuUsed >= f.cpuLimit
	switch {
	case f.flooded:
		return LimitOutput
	case f.oomKills > 0:
		return LimitMemory
	case cpu:
		return LimitCPU
	case f.signal == "SIGXFSZ" || shellSaw(syscall.SIGXFSZ) || f.fileAtCap:
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
