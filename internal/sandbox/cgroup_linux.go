//go:build linux

package sandbox

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// cgroupParent is the directory, under each hierarchy, that holds the
// runners' cgroups, so that they are easy to find and clean up.
const cgroupParent = "zinc-sandbox"

// controller is one cgroup controller (memory or pids) in a v1 hierarchy of
// its own or in the unified v2 hierarchy.
type controller struct {
	name    string
	version int
	// base is <hierarchy>/zinc-sandbox; run cgroups are created inside it.
	base string
}

// cgroupSet is the controllers a runner can use; either may be nil.
type cgroupSet struct {
	memory *controller
	pids   *controller
}

// detectControllers finds the memory and pids controllers, from the mount
// table when root is empty, otherwise under root.
func detectControllers(root string) (cgroupSet, error) {
	var set cgroupSet
	find := findFromMountinfo
	if root != "" {
		find = func(name string) (string, int, error) { return findUnderRoot(root, name) }
	}
	for _, name := range []string{"memory", "pids"} {
		dir, version, err := find(name)
		if err != nil {
			return cgroupSet{}, err
		}
		if dir == "" {
			continue
		}
		c := &controller{name: name, version: version, base: filepath.Join(dir, cgroupParent)}
		if name == "memory" {
			set.memory = c
		} else {
			set.pids = c
		}
	}
	return set, nil
}

// findFromMountinfo returns the mount point of the hierarchy that carries the
// named controller: a v1 "cgroup" mount listing it in its options, else a
// "cgroup2" mount whose cgroup.controllers lists it.
func findFromMountinfo(name string) (string, int, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", 0, fmt.Errorf("read mount table: %w", err)
	}
	defer func() { _ = f.Close() }()
	var v2 string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		fields, tail := strings.Fields(pre), strings.Fields(post)
		if len(fields) < 5 || len(tail) < 3 {
			continue
		}
		mountPoint := unescapeMount(fields[4])
		switch tail[0] {
		case "cgroup":
			if slices.Contains(strings.Split(tail[2], ","), name) {
				return mountPoint, 1, nil
			}
		case "cgroup2":
			if v2 == "" && v2Has(mountPoint, name) {
				v2 = mountPoint
			}
		}
	}
	if err := sc.Err(); err != nil {
		return "", 0, fmt.Errorf("read mount table: %w", err)
	}
	if v2 != "" {
		return v2, 2, nil
	}
	return "", 0, nil
}

// findUnderRoot looks for <root>/<name> as a v1 hierarchy, then for root (or
// root/unified) as a v2 hierarchy offering the controller.
func findUnderRoot(root, name string) (string, int, error) {
	if isFS(filepath.Join(root, name), unix.CGROUP_SUPER_MAGIC) {
		return filepath.Join(root, name), 1, nil
	}
	for _, dir := range []string{root, filepath.Join(root, "unified")} {
		if isFS(dir, unix.CGROUP2_SUPER_MAGIC) && v2Has(dir, name) {
			return dir, 2, nil
		}
	}
	return "", 0, nil
}

func isFS(dir string, magic int64) bool {
	var st unix.Statfs_t
	return unix.Statfs(dir, &st) == nil && int64(st.Type) == magic
}

func v2Has(dir, name string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	return err == nil && slices.Contains(strings.Fields(string(b)), name)
}

// unescapeMount undoes the octal escapes (\040 for a space) of mountinfo.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// prepare creates the parent directory and, on v2, enables the controller
// for the cgroups below it.
func (c *controller) prepare() error {
	if err := os.Mkdir(c.base, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("create cgroup %s: %w", c.base, err)
	}
	if c.version == 2 {
		for _, dir := range []string{filepath.Dir(c.base), c.base} {
			// Already enabled is fine; a real failure shows up when the
			// limit files are missing in probe.
			_ = writeFile(filepath.Join(dir, "cgroup.subtree_control"), "+"+c.name)
		}
	}
	return nil
}

// runCgroup is the cgroup (one directory per hierarchy) of one command.
type runCgroup struct {
	memory string // directory, or "" when the memory controller is unused
	pids   string
	memV   int
	pidsV  int
}

// newRunCgroup creates the cgroup directories named name and writes the
// limits. maxTasks counts every task the command may hold, helpers included.
func newRunCgroup(set cgroupSet, name string, memoryBytes int64, maxTasks int) (*runCgroup, error) {
	rc := &runCgroup{}
	if set.memory != nil {
		rc.memory, rc.memV = filepath.Join(set.memory.base, name), set.memory.version
	}
	if set.pids != nil {
		rc.pids, rc.pidsV = filepath.Join(set.pids.base, name), set.pids.version
	}
	for _, dir := range rc.dirs() {
		if err := os.Mkdir(dir, 0o755); err != nil {
			_ = rc.remove()
			return nil, fmt.Errorf("create cgroup: %w", err)
		}
	}
	if err := rc.setLimits(memoryBytes, maxTasks); err != nil {
		_ = rc.remove()
		return nil, err
	}
	return rc, nil
}

func (rc *runCgroup) dirs() []string {
	var dirs []string
	for _, d := range []string{rc.memory, rc.pids} {
		if d != "" && !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

func (rc *runCgroup) setLimits(memoryBytes int64, maxTasks int) error {
	mem := strconv.FormatInt(memoryBytes, 10)
	switch {
	case rc.memory != "" && rc.memV == 1:
		if err := writeFile(filepath.Join(rc.memory, "memory.limit_in_bytes"), mem); err != nil {
			return fmt.Errorf("set memory limit: %w", err)
		}
		// Without swap accounting the file is absent; where it exists the
		// limit must also cover swap, or a hog swaps instead of being killed.
		if err := writeFile(filepath.Join(rc.memory, "memory.memsw.limit_in_bytes"), mem); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("set memory+swap limit: %w", err)
		}
	case rc.memory != "" && rc.memV == 2:
		if err := writeFile(filepath.Join(rc.memory, "memory.max"), mem); err != nil {
			return fmt.Errorf("set memory limit: %w", err)
		}
		if err := writeFile(filepath.Join(rc.memory, "memory.swap.max"), "0"); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("set swap limit: %w", err)
		}
	}
	if rc.pids != "" {
		if err := writeFile(filepath.Join(rc.pids, "pids.max"), strconv.Itoa(maxTasks)); err != nil {
			return fmt.Errorf("set process limit: %w", err)
		}
	}
	return nil
}

// join moves process pid into the cgroup.
func (rc *runCgroup) join(pid int) error {
	for _, dir := range rc.dirs() {
		if err := writeFile(filepath.Join(dir, "cgroup.procs"), strconv.Itoa(pid)); err != nil {
			return fmt.Errorf("join cgroup: %w", err)
		}
	}
	return nil
}

// oomKills reports how many processes the memory controller killed.
func (rc *runCgroup) oomKills() int {
	switch {
	case rc.memory != "" && rc.memV == 1:
		return keyedValue(filepath.Join(rc.memory, "memory.oom_control"), "oom_kill")
	case rc.memory != "" && rc.memV == 2:
		return keyedValue(filepath.Join(rc.memory, "memory.events"), "oom_kill")
	}
	return 0
}

// pidsRefused reports how many forks the pids controller refused.
func (rc *runCgroup) pidsRefused() int {
	if rc.pids == "" {
		return 0
	}
	return keyedValue(filepath.Join(rc.pids, "pids.events"), "max")
}

// killAll kills every process in the cgroup and waits, briefly, for the
// cgroup to empty. Without a PID namespace this is what catches processes
// that left the command's process group.
func (rc *runCgroup) killAll() {
	for _, dir := range rc.dirs() {
		// cgroup.kill (v2, Linux 5.14+) kills atomically, forks included.
		_ = writeFile(filepath.Join(dir, "cgroup.kill"), "1")
	}
	// A fork racing with the kill loop can add a process after a pass, so
	// passes repeat until a pass finds nothing; the pids limit bounds it.
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		alive := 0
		for _, dir := range rc.dirs() {
			for _, pid := range readPids(filepath.Join(dir, "cgroup.procs")) {
				alive++
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		if alive == 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// remove kills what is left and deletes the cgroup directories. A cgroup
// whose last tasks are still exiting refuses rmdir with EBUSY for a moment.
func (rc *runCgroup) remove() error {
	var errs []error
	for _, dir := range rc.dirs() {
		var err error
		for range 200 {
			err = os.Remove(dir)
			if err == nil || errors.Is(err, os.ErrNotExist) {
				err = nil
				break
			}
			rc.killAll()
			time.Sleep(5 * time.Millisecond)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("remove cgroup: %w", err))
		}
	}
	return errors.Join(errs...)
}

// removeStale deletes cgroups left under base by runners whose process no
// longer exists (a worker that crashed mid-stage), killing what they hold.
func removeStale(base string) {
	entries, err := os.ReadDir(base)
	if err != nil {
		return
	}
	for _, e := range entries {
		pid, ok := ownerPID(e.Name())
		if !e.IsDir() || !ok || pid == os.Getpid() || processExists(pid) {
			continue
		}
		dir := filepath.Join(base, e.Name())
		for _, p := range readPids(filepath.Join(dir, "cgroup.procs")) {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
		_ = os.Remove(dir)
	}
}

// cgroupName names a run cgroup "w<worker pid>-<runner id>-<sequence>", so a
// later runner can tell whether its owner is still alive.
func cgroupName(runnerID string, seq uint64) string {
	return fmt.Sprintf("w%d-%s-%d", os.Getpid(), runnerID, seq)
}

func ownerPID(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, "w")
	if !ok {
		return 0, false
	}
	pidText, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	pid, err := strconv.Atoi(pidText)
	return pid, err == nil && pid > 0
}

func processExists(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func readPids(path string) []int {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// keyedValue reads "key value" lines such as memory.events and returns the
// value of key, or 0.
func keyedValue(path, key string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		k, v, ok := strings.Cut(strings.TrimSpace(line), " ")
		if ok && k == key {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
}

// writeFile writes s to an existing control file, without creating or
// truncating it.
func writeFile(path, s string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, werr := f.WriteString(s)
	cerr := f.Close()
	return errors.Join(werr, cerr)
}
