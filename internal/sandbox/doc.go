// Package sandbox runs untrusted commands — student code, the tools that
// build it, and instructor checkers — in containers of an OCI runtime (crun
// by default, runc or runsc): each in fresh namespaces made by bwrap inside
// a long-lived container, two per slot (a cell, cell_linux.go), or each in a
// container of its own. Either way: a read-only minimal root made of
// the host's toolchain (or, with Spec.RootFS, an environment image's file
// system sealed by SealRootFS), PID, mount, IPC, UTS, cgroup and network namespaces,
// no capabilities, a default seccomp profile, cgroup limits on memory,
// processes and CPU, rlimits, a disk-limited writable layer over the
// scratch tree, a wall-clock timeout and output caps.
//
// The runtime spec is generated per command; the host is detected in
// host_linux.go, the root skeleton built in rootfs_linux.go, the spec in
// ocispec_linux.go, image roots in image_linux.go, the container's life in
// container_linux.go, the
// writable layer in layer_linux.go, limit inference in limits.go.
// LIMITS.md lists which limit is enforced by which mechanism.
package sandbox
