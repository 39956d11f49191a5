//go:build linux && amd64

package sandbox

import (
	"encoding/base64"
	"encoding/binary"
	"testing"

	"github.com/elastic/go-seccomp-bpf/arch"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

const (
	retAllow = uint32(unix.SECCOMP_RET_ALLOW)
	retEPERM = uint32(unix.SECCOMP_RET_ERRNO) | uint32(unix.EPERM)
)

// seccompVM runs a compiled filter on a struct seccomp_data. x/net/bpf
// loads words big-endian where the kernel loads them native-endian, so
// each 32-bit word is written big-endian at its native-endian place.
type seccompVM struct{ vm *bpf.VM }

func newSeccompVM(t *testing.T, b64 string) seccompVM {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(b64)
	require.NoError(t, err)
	require.Zero(t, len(raw)%8)
	var prog []bpf.Instruction
	for i := 0; i < len(raw); i += 8 {
		ins := bpf.RawInstruction{
			Op: binary.NativeEndian.Uint16(raw[i:]), Jt: raw[i+2], Jf: raw[i+3],
			K: binary.NativeEndian.Uint32(raw[i+4:]),
		}
		prog = append(prog, ins.Disassemble())
	}
	vm, err := bpf.NewVM(prog)
	require.NoError(t, err)
	return seccompVM{vm}
}

func (s seccompVM) verdict(t *testing.T, archID uint32, nr int, args ...uint64) uint32 {
	t.Helper()
	data := make([]byte, 64)
	binary.BigEndian.PutUint32(data[0:], uint32(nr))
	binary.BigEndian.PutUint32(data[4:], archID)
	for i, a := range args {
		binary.BigEndian.PutUint32(data[16+8*i:], uint32(a))
		binary.BigEndian.PutUint32(data[20+8*i:], uint32(a>>32))
	}
	ret, err := s.vm.Run(data)
	require.NoError(t, err)
	return uint32(ret)
}

func TestCompiledSeccompMatchesTheProfile(t *testing.T) {
	profile, err := defaultSeccomp()
	require.NoError(t, err)
	b64, err := compileSeccomp(profile)
	require.NoError(t, err)
	vm := newSeccompVM(t, b64)
	native, err := arch.GetInfo("")
	require.NoError(t, err)
	nr := func(name string) int {
		n, ok := native.SyscallNames[name]
		require.True(t, ok, name)
		return n
	}
	x86 := func(name string, args ...uint64) uint32 {
		return vm.verdict(t, unix.AUDIT_ARCH_X86_64, nr(name), args...)
	}

	allowed := 0
	for _, rule := range profile.Syscalls {
		if rule.Action != specs.ActAllow || len(rule.Args) > 0 {
			continue
		}
		for _, name := range rule.Names {
			if _, ok := native.SyscallNames[name]; ok {
				assert.Equal(t, retAllow, x86(name), "%s is allowed by the profile", name)
				allowed++
			}
		}
	}
	assert.Greater(t, allowed, 300, "the profile's allow list reached the filter")

	for _, name := range []string{
		"mount", "umount2", "unshare", "setns", "pivot_root", "keyctl", "add_key", "request_key", "bpf",
		"kexec_load", "init_module", "finit_module", "delete_module", "reboot", "swapon", "open_by_handle_at",
		"perf_event_open", "userfaultfd", "settimeofday", "acct", "quotactl", "lookup_dcookie",
	} {
		assert.Equal(t, retEPERM, x86(name), "%s is refused", name)
	}
	// Rules with argument checks.
	assert.Equal(t, retAllow, x86("clone", unix.CLONE_VM|unix.CLONE_FS|uint64(unix.SIGCHLD)))
	for _, flag := range []uint64{unix.CLONE_NEWUSER, unix.CLONE_NEWNS, unix.CLONE_NEWNET, unix.CLONE_NEWPID} {
		assert.Equal(t, retEPERM, x86("clone", flag|uint64(unix.SIGCHLD)), "clone with %#x", flag)
	}
	assert.Equal(t, uint32(unix.SECCOMP_RET_ERRNO)|uint32(unix.ENOSYS), x86("clone3"), "glibc falls back to clone")
	for _, call := range []string{"io_setup", "inotify_init", "inotify_init1"} {
		assert.Equal(t, uint32(unix.SECCOMP_RET_ERRNO)|uint32(unix.ENOSYS), x86(call), "%s draws on a pool no cgroup limits", call)
	}
	assert.Equal(t, retAllow, x86("personality", 0))
	assert.Equal(t, retAllow, x86("personality", 0xffffffff), "querying the persona")
	assert.Equal(t, retEPERM, x86("personality", 0x0040000), "ADDR_NO_RANDOMIZE")
	assert.Equal(t, retEPERM, x86("personality", 1<<32), "all 64 bits are compared")
	assert.Equal(t, retAllow, x86("socket", unix.AF_INET))
	assert.Equal(t, retEPERM, x86("socket", unix.AF_VSOCK))
	// Other ABIs of the same machine.
	assert.Equal(t, retEPERM, vm.verdict(t, unix.AUDIT_ARCH_I386, 1), "32-bit calls get the default action")
	assert.Equal(t, uint32(unix.SECCOMP_RET_ERRNO)|uint32(unix.ENOSYS), vm.verdict(t, unix.AUDIT_ARCH_X86_64, nr("read")|0x40000000), "x32 calls")
}

func TestCompileSeccompRefusesWhatItCannotExpress(t *testing.T) {
	eperm := uint(unix.EPERM)
	for name, profile := range map[string]*specs.LinuxSeccomp{
		"default allow": {DefaultAction: specs.ActAllow},
		"trap action": {DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read"}, Action: specs.ActTrap}}},
		"two actions for one syscall": {DefaultAction: specs.ActErrno, DefaultErrnoRet: &eperm, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read"}, Action: specs.ActAllow},
			{Names: []string{"read"}, Action: specs.ActErrno}}},
		"general mask": {DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"clone"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{
				{Index: 0, Value: 0b11, ValueTwo: 0b01, Op: specs.OpMaskedEqual}}}}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := compileSeccomp(profile)
			assert.ErrorIs(t, err, errSeccompShape)
		})
	}
}
