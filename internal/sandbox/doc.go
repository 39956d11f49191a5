// Package sandbox runs untrusted commands — student code and the tools that
// build it — under limits: a wall-clock timeout that kills the whole process
// tree, CPU seconds, memory, number of processes, file size, open files and
// captured output, with a scrubbed environment, no network by default and,
// when the worker runs as root, an unprivileged user.
//
// On Linux as root each command gets its own PID, mount and network
// namespaces and its own cgroup, so nothing it starts outlives it. Where a
// mechanism is missing the runner degrades to a process group, rlimits and the
// timeout, and says so once at start-up; LIMITS.md lists which limit is
// enforced by which mechanism.
package sandbox
