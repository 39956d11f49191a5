//go:build linux

package sandbox

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"

	gsb "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// seccompBPFAnnotation hands crun a filter compiled beforehand: crun then
// skips compiling the profile with libseccomp, which costs about 25 ms per
// container on this kind of machine (most of a container's start-up).
const seccompBPFAnnotation = "run.oci.seccomp_bpf_data"

// errSeccompShape reports a profile rule the compiler cannot express
// exactly; the runner then leaves the profile to the runtime.
var errSeccompShape = errors.New("seccomp rule not expressible")

// compileSeccomp compiles profile, for the native architecture only, into
// the raw filter (struct sock_filter[], base64) crun's annotation takes.
// Calls of any other architecture (32-bit x86 from a 64-bit process) get
// the default action, which is stricter than the profile, and so are
// syscalls the compiler's table does not know. Everything else means
// exactly what the profile says, or it fails and the runtime compiles it.
func compileSeccomp(profile *specs.LinuxSeccomp) (string, error) {
	if profile.DefaultAction != specs.ActErrno || errnoOf(profile.DefaultErrnoRet, unix.EPERM) != unix.EPERM {
		return "", fmt.Errorf("%w: default action %s", errSeccompShape, profile.DefaultAction)
	}
	native, err := arch.GetInfo("")
	if err != nil {
		return "", fmt.Errorf("compile seccomp profile: %w", err)
	}
	groups, err := seccompGroups(profile, native)
	if err != nil {
		return "", err
	}
	policy := gsb.Policy{DefaultAction: gsb.ActionErrno, Syscalls: groups}
	prog, err := policy.Assemble()
	if err != nil {
		return "", fmt.Errorf("compile seccomp profile: %w", err)
	}
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return "", fmt.Errorf("compile seccomp profile: %w", err)
	}
	out := make([]byte, 0, 8*len(raw))
	for _, ins := range raw {
		out = binary.NativeEndian.AppendUint16(out, ins.Op)
		out = append(out, ins.Jt, ins.Jf)
		out = binary.NativeEndian.AppendUint32(out, ins.K)
	}
	return base64.StdEncoding.EncodeToString(out), nil
}

// seccompGroups turns the profile's rules into one group per action, in
// the order the actions first appear. A syscall may have rules of one
// action only: the compiled filter takes the first group that matches,
// where libseccomp would weigh the actions.
func seccompGroups(profile *specs.LinuxSeccomp, native *arch.Info) ([]gsb.SyscallGroup, error) {
	type rules struct {
		unconditional map[string]bool
		conditional   map[string][]gsb.ArgumentConditions
		order         []string
	}
	var actions []gsb.Action
	byAction := map[gsb.Action]*rules{}
	actionOf := map[string]gsb.Action{}
	for _, sc := range profile.Syscalls {
		action, err := seccompAction(sc)
		if err != nil {
			return nil, err
		}
		conds, err := seccompConditions(sc.Args)
		if err != nil {
			return nil, err
		}
		rs := byAction[action]
		if rs == nil {
			rs = &rules{unconditional: map[string]bool{}, conditional: map[string][]gsb.ArgumentConditions{}}
			byAction[action] = rs
			actions = append(actions, action)
		}
		for _, name := range sc.Names {
			if _, known := native.SyscallNames[name]; !known {
				continue
			}
			if a, seen := actionOf[name]; seen && a != action {
				return nil, fmt.Errorf("%w: %s has rules of two actions", errSeccompShape, name)
			}
			actionOf[name] = action
			if !rs.unconditional[name] && len(rs.conditional[name]) == 0 {
				rs.order = append(rs.order, name)
			}
			if conds == nil {
				rs.unconditional[name] = true
			} else {
				rs.conditional[name] = append(rs.conditional[name], conds)
			}
		}
	}
	groups := make([]gsb.SyscallGroup, 0, len(actions))
	for _, action := range actions {
		rs := byAction[action]
		g := gsb.SyscallGroup{Action: action}
		for _, name := range rs.order {
			if rs.unconditional[name] {
				// An unconditional rule already matches every call.
				g.Names = append(g.Names, name)
				continue
			}
			for _, c := range rs.conditional[name] {
				g.NamesWithCondtions = append(g.NamesWithCondtions, gsb.NameWithConditions{Name: name, Conditions: c})
			}
		}
		groups = append(groups, g)
	}
	return groups, nil
}

func seccompAction(sc specs.LinuxSyscall) (gsb.Action, error) {
	switch sc.Action {
	case specs.ActAllow:
		return gsb.ActionAllow, nil
	case specs.ActErrno:
		return gsb.ActionErrno | gsb.Action(errnoOf(sc.ErrnoRet, unix.EPERM)), nil
	}
	return 0, fmt.Errorf("%w: action %s", errSeccompShape, sc.Action)
}

func errnoOf(ret *uint, def unix.Errno) unix.Errno {
	if ret == nil {
		return def
	}
	return unix.Errno(*ret)
}

// seccompConditions converts one rule's argument checks, all of which must
// hold; nil means the rule has none.
func seccompConditions(args []specs.LinuxSeccompArg) (gsb.ArgumentConditions, error) {
	if len(args) == 0 {
		return nil, nil
	}
	ops := map[specs.LinuxSeccompOperator]gsb.Operation{
		specs.OpEqualTo: gsb.Equal, specs.OpNotEqual: gsb.NotEqual,
		specs.OpLessThan: gsb.LessThan, specs.OpLessEqual: gsb.LessOrEqual,
		specs.OpGreaterThan: gsb.GreaterThan, specs.OpGreaterEqual: gsb.GreaterOrEqual,
	}
	conds := make(gsb.ArgumentConditions, 0, len(args))
	for _, a := range args {
		c := gsb.Condition{Argument: uint32(a.Index), Value: a.Value}
		if op, ok := ops[a.Op]; ok {
			c.Operation = op
		} else if a.Op != specs.OpMaskedEqual {
			return nil, fmt.Errorf("%w: operator %s", errSeccompShape, a.Op)
		} else if a.ValueTwo == 0 {
			// (arg & mask) == 0: none of the mask's bits set.
			c.Operation = gsb.BitsNotSet
		} else if a.ValueTwo == a.Value && bits.OnesCount64(a.Value) == 1 {
			// (arg & bit) == bit for a single bit.
			c.Operation = gsb.BitsSet
		} else {
			return nil, fmt.Errorf("%w: masked comparison %#x == %#x", errSeccompShape, a.Value, a.ValueTwo)
		}
		if a.Index > 5 {
			return nil, fmt.Errorf("%w: argument %d", errSeccompShape, a.Index)
		}
		conds = append(conds, c)
	}
	return conds, nil
}
