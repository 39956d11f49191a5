package definition

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/zinc-edu/orchestrator/internal/grading"
)

// Problem is one reason a definition is invalid. Path locates the offending
// value in the YAML document ("stages[2].scenarios[1].timeout"); paths are
// shown to users, so they stay stable. An empty Path concerns the whole
// document.
type Problem struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

// String formats the problem as "path: message".
func (p Problem) String() string {
	if p.Path == "" {
		return p.Message
	}
	return p.Path + ": " + p.Message
}

// ValidationError lists every problem of an invalid definition, ordered by
// path.
type ValidationError struct {
	Problems []Problem
}

// Error returns the problems one per line.
func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Validate checks an expanded definition, such as one decoded from the JSON
// a Definition marshals to. It returns a *ValidationError, or nil. Parse
// already validates what it returns.
func (d *Definition) Validate() error {
	ps := &problems{}
	d.check(ps)
	return ps.err()
}

// problems collects Problems. Paths the decoder already reported are
// "bad": the model holds placeholders there, so checks below them stay
// quiet instead of reporting the same mistake twice.
type problems struct {
	list []Problem
	bad  []string
}

// report records a problem found while decoding and marks its path bad.
func (ps *problems) report(path, format string, args ...any) {
	ps.markBad(path)
	ps.list = append(ps.list, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

func (ps *problems) markBad(path string) {
	ps.bad = append(ps.bad, path)
}

// add records a problem found on the model unless the decoder already
// reported the value or one of its parents.
func (ps *problems) add(path, format string, args ...any) {
	for _, b := range ps.bad {
		if covers(b, path) {
			return
		}
	}
	p := Problem{Path: path, Message: fmt.Sprintf(format, args...)}
	if !slices.Contains(ps.list, p) {
		ps.list = append(ps.list, p)
	}
}

func (ps *problems) err() error {
	if len(ps.list) == 0 {
		return nil
	}
	list := slices.Clone(ps.list)
	slices.SortStableFunc(list, func(a, b Problem) int { return comparePaths(a.Path, b.Path) })
	return &ValidationError{Problems: list}
}

// covers reports whether path is parent, or the same as, path p.
func covers(parent, p string) bool {
	return parent == "" || p == parent ||
		strings.HasPrefix(p, parent+".") || strings.HasPrefix(p, parent+"[")
}

// comparePaths orders paths field by field: top-level fields in the order
// the format documents them, list indexes numerically, other names
// alphabetically.
func comparePaths(a, b string) int {
	ta, tb := pathTokens(a), pathTokens(b)
	for i := 0; i < len(ta) && i < len(tb); i++ {
		if c := compareTokens(ta[i], tb[i], i == 0); c != 0 {
			return c
		}
	}
	return len(ta) - len(tb)
}

func pathTokens(p string) []string {
	var out []string
	for _, field := range strings.Split(p, ".") {
		name, rest, _ := strings.Cut(field, "[")
		out = append(out, name)
		for rest != "" {
			idx, after, _ := strings.Cut(rest, "]")
			out = append(out, "["+idx)
			_, rest, _ = strings.Cut(after, "[")
		}
	}
	return out
}

func compareTokens(a, b string, top bool) int {
	if top {
		// Unknown top-level fields sort last, alphabetically.
		order := []string{"", "version", "name", "environment", "defaults", "files", "stages", "rubric"}
		ia, ib := slices.Index(order, a), slices.Index(order, b)
		if ia < 0 {
			ia = len(order)
		}
		if ib < 0 {
			ib = len(order)
		}
		if ia != ib {
			return ia - ib
		}
	}
	na, errA := strconv.Atoi(strings.TrimPrefix(a, "["))
	nb, errB := strconv.Atoi(strings.TrimPrefix(b, "["))
	if strings.HasPrefix(a, "[") && strings.HasPrefix(b, "[") && errA == nil && errB == nil {
		return na - nb
	}
	return strings.Compare(a, b)
}

// validName reports whether s uses only the characters stage, scenario,
// file-segment and component names may contain; names end up in
// object-store keys and file names.
func validName(s string) bool {
	if s == "" || s == "." || s == ".." {
		return false
	}
	for _, r := range s {
		if !isAlnum(r) && r != '_' && r != '.' && r != '-' {
			return false
		}
	}
	return true
}

// validEnvName reports whether s is a portable environment variable name.
func validEnvName(s string) bool {
	for i, r := range s {
		if !isAlnum(r) && r != '_' || i == 0 && r >= '0' && r <= '9' {
			return false
		}
	}
	return s != ""
}

func isAlnum(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
}

const maxNameLen = 100

func nameProblem(name string) string {
	switch {
	case name == "":
		return "required"
	case len(name) > maxNameLen:
		return fmt.Sprintf("name longer than %d characters", maxNameLen)
	case !validName(name):
		return fmt.Sprintf("invalid name %q (use letters, digits, '_', '.', '-')", name)
	}
	return ""
}

// relPathProblem checks a path inside the scratch directory.
func relPathProblem(p string) string {
	if p == "" {
		return "must not be empty"
	}
	if strings.HasPrefix(p, "/") || strings.ContainsAny(p, "\\\x00") || slices.Contains(strings.Split(p, "/"), "..") {
		return `must be a relative path without ".."`
	}
	return ""
}

// fileNameProblem checks an assignment file name: a relative path whose
// segments are valid names.
func fileNameProblem(name string) string {
	if name == "" {
		return "required"
	}
	if strings.HasPrefix(name, "/") {
		return `must be a relative path without ".."`
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == ".." {
			return `must be a relative path without ".."`
		}
		if msg := nameProblem(seg); msg != "" {
			return fmt.Sprintf("invalid file name %q (segments use letters, digits, '_', '.', '-')", name)
		}
	}
	return ""
}

func (d *Definition) check(ps *problems) {
	if d.Version != 1 && d.Version != 2 {
		ps.add("version", "unsupported version %d (supported: 1, 2)", d.Version)
	}
	checkTimeout(ps, "defaults.timeout", d.Defaults.Timeout)
	checkLimits(ps, "defaults", d.Defaults.Limits, Limits{})
	checkEnvironment(ps, d.Environment)
	if !d.checkBounds(ps) {
		// Checking an oversized definition is the work the bounds avoid.
		return
	}
	d.checkFiles(ps)
	d.checkStages(ps)
	d.checkCycles(ps)
	d.checkRubric(ps)
}

// checkEnvironment checks the image name and, once the config has been
// stored, the digest it was resolved to.
func checkEnvironment(ps *problems, e *Environment) {
	if e == nil {
		return
	}
	if !grading.ValidEnvironmentName(e.Image) {
		ps.add("environment.image", "invalid environment name %q (1 to %d characters from a-z, 0-9, '.', '_', '-', starting with a letter or digit)",
			e.Image, grading.MaxEnvironmentName)
	}
	if e.Digest != "" && !validDigest(e.Digest) {
		ps.add("environment.digest", "invalid digest %q (want sha256:<64 hex digits>)", e.Digest)
	}
}

// validDigest reports whether s is "sha256:" and 64 lowercase hex digits.
func validDigest(s string) bool {
	hex, ok := strings.CutPrefix(s, "sha256:")
	if !ok || len(hex) != 64 {
		return false
	}
	for _, r := range hex {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			return false
		}
	}
	return true
}

// checkBounds checks the counts parsing bounds once more on the model, where
// archives and scenarios_from have been expanded.
func (d *Definition) checkBounds(ps *problems) bool {
	ok := true
	if len(d.Stages) > MaxStages {
		ps.add("stages", "%d stages, more than %d", len(d.Stages), MaxStages)
		ok = false
	}
	if len(d.Files) > MaxFiles {
		ps.add("files", "%d files, more than %d", len(d.Files), MaxFiles)
		ok = false
	}
	scenarios := 0
	for _, s := range d.Stages {
		scenarios += len(s.Scenarios)
	}
	if scenarios > MaxScenarios {
		ps.add("stages", "%d scenarios in all, more than %d", scenarios, MaxScenarios)
		ok = false
	}
	return ok
}

func (d *Definition) checkFiles(ps *problems) {
	seen := map[string]bool{}
	names := make([]string, 0, len(d.Files))
	for i, f := range d.Files {
		at := fmt.Sprintf("files[%d]", i)
		if msg := fileNameProblem(f.Name); msg != "" {
			ps.add(at+".name", "%s", msg)
		} else if seen[f.Name] {
			ps.add(at+".name", "duplicate name %q", f.Name)
		}
		seen[f.Name] = true
		names = append(names, f.Name)
		if f.Upload && f.Content != "" {
			ps.add(at+".source", "conflicts with content")
		}
	}
	// A file named like the directory of another could not be laid out,
	// nor stored, beside it. Names under dir/ sort together, from the
	// first one not below it.
	slices.Sort(names)
	for i, f := range d.Files {
		dir := f.Name + "/"
		j, _ := slices.BinarySearch(names, dir)
		if j < len(names) && strings.HasPrefix(names[j], dir) {
			ps.add(fmt.Sprintf("files[%d].name", i), "%q is also the directory of %q", f.Name, names[j])
		}
	}
}

func (d *Definition) checkStages(ps *problems) {
	if len(d.Stages) == 0 {
		ps.add("stages", "at least one stage is required")
	}
	seen := map[string]bool{}
	for i := range d.Stages {
		s := &d.Stages[i]
		path := fmt.Sprintf("stages[%d]", i)
		if msg := nameProblem(s.Name); msg != "" {
			ps.add(path+".name", "%s", msg)
		} else if seen[s.Name] {
			ps.add(path+".name", "duplicate name %q", s.Name)
		}
		seen[s.Name] = true
		d.checkStage(ps, path, s)
	}
}

func (d *Definition) checkStage(ps *problems, path string, s *Stage) {
	switch s.Kind {
	case KindCommand, KindCompile, KindDiff, KindChecker, KindValgrind:
	default:
		ps.add(path+".kind", "unknown kind %q (want command, compile, diff, checker or valgrind)", s.Kind)
	}
	checkArgv(ps, path+".command", s.Command)
	d.checkDeps(ps, path, s)
	if s.Stdin != "" && s.StdinFile != "" {
		ps.add(path+".stdin_file", "conflicts with stdin")
	}
	d.checkFileRef(ps, path+".stdin_file", s.StdinFile)
	checkEnv(ps, path+".env", s.Env)
	if s.Workdir != "" {
		if msg := relPathProblem(s.Workdir); msg != "" {
			ps.add(path+".workdir", "%s", msg)
		}
	}
	checkTimeout(ps, path+".timeout", s.Timeout)
	checkLimits(ps, path+".limits", s.Limits, d.Defaults.Limits)
	for j, name := range s.Files {
		fp := fmt.Sprintf("%s.files[%d]", path, j)
		if slices.Contains(s.Files[:j], name) {
			ps.add(fp, "duplicate file %q", name)
		}
		d.checkFileRef(ps, fp, name)
	}
	if s.Parallelism < 1 || s.Parallelism > MaxParallelism {
		ps.add(path+".parallelism", "must be between 1 and %d", MaxParallelism)
	}
	checkVisibility(ps, path+".visibility", s.Visibility)
	checkNonNegative(ps, path+".points", s.Points)
	switch {
	case s.Kind == KindChecker && s.Checker == nil:
		ps.add(path+".checker", "required for kind checker")
	case s.Kind != KindChecker && s.Checker != nil:
		ps.add(path+".checker", "only allowed with kind checker")
	case s.Checker != nil:
		if p := s.Checker.Protocol; p != "" && p != ProtocolFiles && p != ProtocolBatch {
			ps.add(path+".checker.protocol", "unknown protocol %q (want files or batch)", s.Checker.Protocol)
		}
		checkArgv(ps, path+".checker.command", s.Checker.Command)
		checkTimeout(ps, path+".checker.timeout", s.Checker.Timeout)
		for j, name := range s.Checker.Files {
			d.checkFileRef(ps, fmt.Sprintf("%s.checker.files[%d]", path, j), name)
		}
	}
	checkExitStatus(ps, path+".exit_status", s.ExitStatus)
	if s.ScenariosFrom != nil {
		if !d.pendingArchive() {
			ps.add(path+".scenarios_from", "not expanded over the assignment files")
		}
		if len(s.Scenarios) == 0 {
			return
		}
	}
	if len(s.Scenarios) == 0 {
		d.checkExpected(ps, path, s.Kind, s.Expected)
		return
	}
	if s.Kind == KindCompile {
		ps.add(path+".scenarios", "not allowed with kind compile")
	}
	for _, field := range []struct {
		name string
		set  bool
	}{{"stdin", s.Stdin != ""}, {"stdin_file", s.StdinFile != ""}, {"expected", s.Expected != nil}} {
		if field.set {
			ps.add(path+"."+field.name, "not allowed with scenarios (set it on each scenario)")
		}
	}
	seen := map[string]bool{}
	for k := range s.Scenarios {
		sc := &s.Scenarios[k]
		sp := fmt.Sprintf("%s.scenarios[%d]", path, k)
		if msg := nameProblem(sc.Name); msg != "" {
			ps.add(sp+".name", "%s", msg)
		} else if seen[sc.Name] {
			ps.add(sp+".name", "duplicate name %q", sc.Name)
		}
		seen[sc.Name] = true
		checkNUL(ps, sp+".args", sc.Args)
		if sc.Stdin != "" && sc.StdinFile != "" {
			ps.add(sp+".stdin_file", "conflicts with stdin")
		}
		d.checkFileRef(ps, sp+".stdin_file", sc.StdinFile)
		checkEnv(ps, sp+".env", sc.Env)
		checkTimeout(ps, sp+".timeout", sc.Timeout)
		checkVisibility(ps, sp+".visibility", sc.Visibility)
		checkExitStatus(ps, sp+".exit_status", sc.ExitStatus)
		checkNonNegative(ps, sp+".points", sc.Points)
		d.checkExpected(ps, sp, s.Kind, sc.Expected)
	}
}

func (d *Definition) checkDeps(ps *problems, path string, s *Stage) {
	for j, dep := range s.DependsOn {
		dp := fmt.Sprintf("%s.depends_on[%d]", path, j)
		switch {
		case dep == s.Name:
			ps.add(dp, "a stage cannot depend on itself")
		case slices.Contains(s.DependsOn[:j], dep):
			ps.add(dp, "duplicate dependency %q", dep)
		default:
			if _, ok := d.Stage(dep); !ok {
				ps.add(dp, "unknown stage %q", dep)
			}
		}
	}
}

func (d *Definition) checkExpected(ps *problems, path string, kind Kind, e *Expected) {
	if e == nil {
		if kind == KindDiff {
			ps.add(path+".expected", "required for kind diff")
		}
		return
	}
	if kind == KindCompile {
		ps.add(path+".expected", "not allowed with kind compile")
	}
	if e.File != "" {
		if e.Text != "" {
			ps.add(path+".expected_file", "conflicts with expected")
		}
		d.checkFileRef(ps, path+".expected_file", e.File)
	}
	checkCompare(ps, path+".compare", e.Compare)
	text := e.Text
	if f, ok := d.File(e.File); ok && e.File != "" {
		if f.Upload {
			// Uploaded bytes are only known at run time; the engine reports
			// a bad pattern then.
			return
		}
		text = f.Content
	}
	if e.Compare.Regex {
		if _, _, err := e.Compare.pattern(text); err != nil {
			ps.add(path+".expected", "invalid pattern: %v", err)
		}
	}
	if err := e.Compare.checkRule(text); err != nil {
		field := ".expected"
		if e.File != "" {
			field = ".expected_file"
		}
		ps.add(path+field, "%v", err)
	}
}

// checkCompare reports contradictory compare options. The decoder calls it
// where the options are written; the model check repeats it for
// definitions decoded from JSON.
func checkCompare(ps *problems, path string, c Compare) {
	if c.Exact && (c.IgnoreTrailingSpace || c.IgnoreAllSpace || c.IgnoreBlankLines || c.IgnoreCase || c.NumericTolerance != nil || c.Regex ||
		c.Pattern != "" || c.Contains != "" || c.Tokens) {
		ps.add(path+".exact", "cannot be combined with other compare options")
	}
	var modes []string
	for _, m := range []struct {
		name string
		set  bool
	}{{"regex", c.Regex || c.Pattern != ""}, {"contains", c.Contains != ""}, {"tokens", c.Tokens}} {
		if m.set {
			modes = append(modes, m.name)
		}
	}
	if len(modes) > 1 {
		ps.add(path+"."+modes[1], "cannot be combined with %s", modes[0])
	}
	if c.Pattern != "" {
		if _, _, err := c.search(strings.ReplaceAll(c.Pattern, ExpectedPlaceholder, "x")); err != nil {
			ps.add(path+".regex", "invalid pattern: %v", err)
		}
	}
	if c.Contains != "" && c.NumericTolerance != nil {
		ps.add(path+".numeric_tolerance", "cannot be combined with contains")
	}
	if t := c.NumericTolerance; t != nil {
		if *t < 0 || math.IsNaN(*t) || math.IsInf(*t, 0) {
			ps.add(path+".numeric_tolerance", "must be a non-negative number")
		}
		if c.Regex || c.Pattern != "" {
			ps.add(path+".numeric_tolerance", "cannot be combined with regex")
		}
		if c.IgnoreAllSpace {
			ps.add(path+".numeric_tolerance", "cannot be combined with ignore_all_space")
		}
	}
}

func (d *Definition) checkFileRef(ps *problems, path, name string) {
	if name == "" || d.pendingArchive() {
		// A file may come in an archive whose content is not known yet.
		return
	}
	if _, ok := d.File(name); !ok {
		ps.add(path, "unknown file %q", name)
	}
}

func checkArgv(ps *problems, path string, argv []string) {
	if len(argv) == 0 {
		ps.add(path, "must not be empty")
		return
	}
	if argv[0] == "" {
		ps.add(path+"[0]", "must not be empty")
	}
	checkNUL(ps, path, argv)
}

func checkNUL(ps *problems, path string, args []string) {
	for i, a := range args {
		if strings.ContainsRune(a, 0) {
			ps.add(fmt.Sprintf("%s[%d]", path, i), "must not contain NUL")
		}
	}
}

func checkEnv(ps *problems, path string, env map[string]string) {
	for k, v := range env {
		switch {
		case !validEnvName(k):
			ps.add(path+"."+k, "invalid variable name")
		case strings.ContainsRune(v, 0):
			ps.add(path+"."+k, "must not contain NUL")
		}
	}
}

func checkTimeout(ps *problems, path string, t time.Duration) {
	switch {
	case t <= 0:
		ps.add(path, "must be positive")
	case t > MaxTimeout:
		ps.add(path, "must be at most %s", MaxTimeout)
	}
}

// checkLimits reports negative limits, except those inherited unchanged
// from inherited, which are reported where they are written.
func checkLimits(ps *problems, path string, l, inherited Limits) {
	for _, f := range []struct {
		name    string
		v, base int64
	}{
		{"cpu_seconds", int64(l.CPUSeconds), int64(inherited.CPUSeconds)},
		{"memory_mb", int64(l.MemoryMB), int64(inherited.MemoryMB)},
		{"max_processes", int64(l.MaxProcesses), int64(inherited.MaxProcesses)},
		{"max_file_mb", int64(l.MaxFileMB), int64(inherited.MaxFileMB)},
		{"open_files", int64(l.OpenFiles), int64(inherited.OpenFiles)},
		{"output_limit_bytes", l.OutputLimitBytes, inherited.OutputLimitBytes},
	} {
		if f.v < 0 && f.v != f.base {
			ps.add(path+"."+f.name, "must not be negative")
		}
	}
}

func checkExitStatus(ps *problems, path string, e ExitStatus) {
	if e.Code < 0 || e.Code > 255 {
		ps.add(path, "must be between 0 and 255")
	}
}

func checkVisibility(ps *problems, path string, v Visibility) {
	switch v {
	case Visible, Hidden, AfterDue, AfterStop:
	default:
		ps.add(path, "unknown visibility %q (want visible, hidden, after_due or after_stop)", v)
	}
}

// checkCycles reports each dependency cycle once, at the first stage of
// the cycle in declaration order.
func (d *Definition) checkCycles(ps *problems) {
	index := map[string]int{}
	for i, s := range d.Stages {
		if _, dup := index[s.Name]; !dup {
			index[s.Name] = i
		}
	}
	const (
		white = iota
		grey
		black
	)
	color := make([]int, len(d.Stages))
	reported := map[string]bool{}
	var stack []int
	var visit func(i int)
	visit = func(i int) {
		color[i] = grey
		stack = append(stack, i)
		for _, dep := range d.Stages[i].DependsOn {
			j, ok := index[dep]
			if !ok || j == i {
				continue
			}
			switch color[j] {
			case white:
				visit(j)
			case grey:
				cycle := stack[slices.Index(stack, j):]
				first := slices.Min(cycle)
				members := slices.Sorted(slices.Values(cycle))
				key := fmt.Sprint(members)
				if reported[key] {
					continue
				}
				reported[key] = true
				// Rotate so the cycle reads from its first-declared stage,
				// following depends_on edges.
				start := slices.Index(cycle, first)
				names := make([]string, 0, len(cycle)+1)
				for k := range cycle {
					names = append(names, d.Stages[cycle[(start+k)%len(cycle)]].Name)
				}
				names = append(names, d.Stages[first].Name)
				ps.add(fmt.Sprintf("stages[%d].depends_on", first), "dependency cycle: %s", strings.Join(names, " -> "))
			}
		}
		stack = stack[:len(stack)-1]
		color[i] = black
	}
	for i := range d.Stages {
		if color[i] == white {
			visit(i)
		}
	}
}

func (d *Definition) checkRubric(ps *problems) {
	r := d.Rubric
	if r == nil {
		return
	}
	if len(r.Components) == 0 {
		ps.add("rubric.components", "at least one component is required")
	}
	seen := map[string]bool{}
	for i := range r.Components {
		c := &r.Components[i]
		path := fmt.Sprintf("rubric.components[%d]", i)
		if msg := nameProblem(c.Name); msg != "" {
			ps.add(path+".name", "%s", msg)
		} else if seen[c.Name] {
			ps.add(path+".name", "duplicate name %q", c.Name)
		}
		seen[c.Name] = true
		checkPositive(ps, path+".max_score", c.MaxScore)
		if c.Points != nil {
			checkNonNegative(ps, path+".points", *c.Points)
		}
		switch c.Mode {
		case ModeSum, ModeAllOrNothing:
		default:
			ps.add(path+".mode", "unknown mode %q (want sum or all_or_nothing)", c.Mode)
		}
		d.checkSelection(ps, path, c)
	}
	t := r.Total
	if t.MaxScore != nil {
		checkPositive(ps, "rubric.total.max_score", *t.MaxScore)
	}
	if t.NormalizeTo != nil {
		checkPositive(ps, "rubric.total.normalize_to", *t.NormalizeTo)
	}
	if t.Min != nil {
		checkNonNegative(ps, "rubric.total.min", *t.Min)
	}
	if t.Max != nil {
		checkPositive(ps, "rubric.total.max", *t.Max)
	}
	if t.Min != nil && t.Max != nil && *t.Min > *t.Max {
		ps.add("rubric.total.min", "must not exceed max")
	}
	switch r.LimitErrors {
	case LimitErrorsUngraded, LimitErrorsZero:
	default:
		ps.add("rubric.limit_errors", "unknown policy %q (want ungraded or zero)", r.LimitErrors)
	}
}

// checkSelection checks that a component's stage and scenarios resolve.
func (d *Definition) checkSelection(ps *problems, path string, c *Component) {
	if c.From == "" {
		ps.add(path+".from", "required")
		return
	}
	s, ok := d.Stage(c.From)
	if !ok {
		ps.add(path+".from", "unknown stage %q", c.From)
		return
	}
	if len(s.Scenarios) == 0 {
		if c.Scenarios != nil {
			ps.add(path+".scenarios", "stage %q has no scenarios", c.From)
		}
		if len(c.PointsPerScenario) > 0 {
			ps.add(path+".points_per_scenario", "stage %q has no scenarios", c.From)
		}
		return
	}
	if c.Scenarios != nil && len(c.Scenarios) == 0 {
		ps.add(path+".scenarios", `at least one scenario is required (or "*")`)
	}
	for k, name := range c.Scenarios {
		sp := fmt.Sprintf("%s.scenarios[%d]", path, k)
		switch {
		case slices.Contains(c.Scenarios[:k], name):
			ps.add(sp, "duplicate scenario %q", name)
		case !slices.ContainsFunc(s.Scenarios, func(sc Scenario) bool { return sc.Name == name }):
			ps.add(sp, "unknown scenario %q in stage %q", name, c.From)
		}
	}
	selected := c.selected(s)
	for name, w := range c.PointsPerScenario {
		pp := path + ".points_per_scenario." + name
		if !slices.Contains(selected, name) {
			ps.add(pp, "scenario %q is not scored by this component", name)
		}
		checkNonNegative(ps, pp, w)
	}
}

// checkPositive and checkNonNegative check points and score values, which
// MaxPoints also bounds.
func checkPositive(ps *problems, path string, v float64) {
	if !(v > 0) || math.IsInf(v, 0) {
		ps.add(path, "must be a positive number")
	} else {
		checkAtMostMaxPoints(ps, path, v)
	}
}

func checkNonNegative(ps *problems, path string, v float64) {
	if !(v >= 0) || math.IsInf(v, 0) {
		ps.add(path, "must be a non-negative number")
	} else {
		checkAtMostMaxPoints(ps, path, v)
	}
}

func checkAtMostMaxPoints(ps *problems, path string, v float64) {
	if v > MaxPoints {
		ps.add(path, "must be at most %d", MaxPoints)
	}
}
