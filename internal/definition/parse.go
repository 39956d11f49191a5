package definition

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Bounds on a definition, so an oversized one is refused before any
// expensive decoding or validation (a 20,000-stage document is refused in
// milliseconds). MaxExpandedNodes bounds its YAML nodes.
const (
	// MaxSourceBytes bounds the YAML document itself.
	MaxSourceBytes = 4 << 20
	// MaxStages bounds the stages.
	MaxStages = 1000
	// MaxScenarios bounds the scenarios of all stages together,
	// scenarios_from expanded.
	MaxScenarios = 10_000
	// MaxFiles bounds the assignment files, archives' content included.
	MaxFiles = 5000
)

// Parse reads a YAML pipeline definition of version 1 or 2, validates it
// and expands its shorthand stages into plain commands. Unknown fields are
// errors. An invalid definition yields a *ValidationError listing every
// problem found.
func Parse(src []byte) (*Definition, error) {
	return ParseWithArchives(src, nil)
}

// ParseWithArchives is Parse for a config whose assignment archives (files
// with source: upload named *.tar.gz, *.tgz or *.zip) have been unpacked:
// archives maps each archive's name to the names of the files it held,
// which replace it in Files as uploaded files. scenarios_from stages are
// expanded over the assignment files; while an archive's content is not
// known (archives nil), they are left unexpanded.
func ParseWithArchives(src []byte, archives map[string][]string) (*Definition, error) {
	p := &parser{ps: &problems{}, version: 2}
	def := p.document(src)
	if def != nil {
		def.unpackArchives(archives)
		def.expandSources(p.ps)
		def.check(p.ps)
	}
	if err := p.ps.err(); err != nil {
		return nil, err
	}
	return def, nil
}

// parser walks the YAML node tree by hand, rather than unmarshalling into
// structs, so that every problem carries a stable path instead of a line
// number and decoding goes on after the first mistake.
type parser struct {
	ps *problems
	// version selects the fields that are allowed; it is 2, the superset,
	// while the document's own version is unknown or invalid.
	version int
}

func (p *parser) document(src []byte) *Definition {
	if len(src) > MaxSourceBytes {
		p.ps.report("", "the definition is %d bytes, more than %d", len(src), MaxSourceBytes)
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.ps.report("", "the definition is empty")
		} else {
			p.ps.report("", "invalid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
		}
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		p.ps.report("", "the definition must be a single YAML document")
		return nil
	}
	if len(doc.Content) == 0 {
		p.ps.report("", "the definition is empty")
		return nil
	}
	if raw := doc.Content[0]; raw.Kind == yaml.MappingNode && !p.withinBounds(raw) {
		// Counted before aliases are expanded too, so a huge document is
		// refused without copying it; check counts again on the model.
		return nil
	}
	root, err := expandAliases(doc.Content[0])
	if err != nil {
		p.ps.report("", "%v", err)
		return nil
	}
	if root.Kind != yaml.MappingNode {
		p.ps.report("", "the definition must be a YAML mapping")
		return nil
	}
	if !p.withinBounds(root) {
		return nil
	}
	def := &Definition{Version: 2, Defaults: Defaults{Timeout: DefaultTimeout}}
	p.readVersion(root, def)
	top := p.mapping(root, "", []string{"version", "name", "environment", "stages"}, []string{"defaults", "files", "rubric"})
	if n := top["name"]; n != nil {
		def.Name, _ = p.str(n, "name")
	}
	if n := top["environment"]; n != nil {
		def.Environment = p.environment(n, "environment")
	}
	if n := top["defaults"]; n != nil {
		def.Defaults = p.defaults(n, "defaults")
	}
	if n := top["files"]; n != nil {
		def.Files = p.files(n, "files")
	}
	if n := top["stages"]; n != nil {
		def.Stages = p.stages(n, "stages", def.Defaults)
	} else {
		p.ps.report("stages", "required")
	}
	if n := top["rubric"]; n != nil {
		def.Rubric = p.rubric(n, "rubric")
	}
	return def
}

// withinBounds counts the stages, scenarios and files of the document
// before any of them is decoded, and reports each count above its bound.
func (p *parser) withinBounds(root *yaml.Node) bool {
	ok := true
	count := func(n *yaml.Node) int {
		if n == nil || n.Kind != yaml.SequenceNode {
			return 0
		}
		return len(n.Content)
	}
	stages := field(root, "stages")
	if n := count(stages); n > MaxStages {
		p.ps.report("stages", "%d stages, more than %d", n, MaxStages)
		ok = false
	}
	if n := count(field(root, "files")); n > MaxFiles {
		p.ps.report("files", "%d files, more than %d", n, MaxFiles)
		ok = false
	}
	if ok && stages != nil && stages.Kind == yaml.SequenceNode {
		scenarios := 0
		for _, s := range stages.Content {
			if s.Kind == yaml.MappingNode {
				scenarios += count(field(s, "scenarios"))
			}
		}
		if scenarios > MaxScenarios {
			p.ps.report("stages", "%d scenarios in all, more than %d", scenarios, MaxScenarios)
			ok = false
		}
	}
	return ok
}

// field returns the value of key in mapping n, or nil.
func field(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Kind == yaml.ScalarNode && n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// readVersion finds the version first because it decides which fields the
// rest of the document may use.
func (p *parser) readVersion(root *yaml.Node, def *Definition) {
	var node *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Kind == yaml.ScalarNode && root.Content[i].Value == "version" {
			node = root.Content[i+1]
			break
		}
	}
	if node == nil {
		p.ps.report("version", "required (1 or 2)")
		return
	}
	v, ok := p.integer(node, "version")
	switch {
	case !ok:
	case v == 1 || v == 2:
		def.Version = int(v)
		p.version = int(v)
	default:
		p.ps.report("version", "unsupported version %d (supported: 1, 2)", v)
	}
}

// environment decodes {image: <name>}; the digest is the store's to fill
// in, never the author's.
func (p *parser) environment(n *yaml.Node, path string) *Environment {
	m := p.mapping(n, path, []string{"image"}, nil)
	if m == nil {
		return &Environment{}
	}
	env := &Environment{}
	if v := m["image"]; v != nil {
		env.Image, _ = p.str(v, path+".image")
	} else {
		p.ps.report(path+".image", "required")
	}
	return env
}

func (p *parser) defaults(n *yaml.Node, path string) Defaults {
	d := Defaults{Timeout: DefaultTimeout}
	m := p.mapping(n, path, append([]string{"timeout"}, limitFields()...), nil)
	if v := m["timeout"]; v != nil {
		if t, ok := p.duration(v, path+".timeout"); ok {
			d.Timeout = t
		}
	}
	p.limits(m, path, &d.Limits)
	return d
}

// limits overrides the fields of l that m sets.
func (p *parser) limits(m map[string]*yaml.Node, path string, l *Limits) {
	ints := []struct {
		name string
		dst  *int
	}{
		{"cpu_seconds", &l.CPUSeconds},
		{"memory_mb", &l.MemoryMB},
		{"max_processes", &l.MaxProcesses},
		{"max_file_mb", &l.MaxFileMB},
		{"open_files", &l.OpenFiles},
	}
	for _, f := range ints {
		if v := m[f.name]; v != nil {
			if x, ok := p.integer(v, path+"."+f.name); ok {
				if x > math.MaxInt32 {
					p.ps.report(path+"."+f.name, "too large")
					continue
				}
				*f.dst = int(x)
			}
		}
	}
	if v := m["output_limit_bytes"]; v != nil {
		if x, ok := p.integer(v, path+".output_limit_bytes"); ok {
			l.OutputLimitBytes = x
		}
	}
	if v := m["network"]; v != nil {
		if b, ok := p.boolean(v, path+".network"); ok {
			l.Network = b
		}
	}
}

func (p *parser) files(n *yaml.Node, path string) []File {
	var out []File
	for i, fn := range p.seq(n, path) {
		fp := fmt.Sprintf("%s[%d]", path, i)
		m := p.mapping(fn, fp, []string{"name", "content", "source", "visible_to_student", "executable"}, nil)
		if m == nil {
			out = append(out, File{})
			continue
		}
		var f File
		if v := m["name"]; v != nil {
			f.Name, _ = p.str(v, fp+".name")
		} else {
			p.ps.report(fp+".name", "required")
		}
		content, source := m["content"], m["source"]
		switch {
		case content != nil && source != nil:
			p.ps.report(fp+".source", "conflicts with content")
		case content == nil && source == nil:
			p.ps.report(fp, "content or source is required")
		case content != nil:
			f.Content, _ = p.str(content, fp+".content")
		default:
			if s, ok := p.str(source, fp+".source"); ok {
				if s == "upload" {
					f.Upload = true
				} else {
					p.ps.report(fp+".source", "unknown source %q (want upload)", s)
				}
			}
		}
		if v := m["visible_to_student"]; v != nil {
			f.VisibleToStudent, _ = p.boolean(v, fp+".visible_to_student")
		}
		if v := m["executable"]; v != nil {
			f.Executable, _ = p.boolean(v, fp+".executable")
		}
		out = append(out, f)
	}
	return out
}

func (p *parser) stages(n *yaml.Node, path string, defaults Defaults) []Stage {
	nodes := p.seq(n, path)
	if nodes != nil && len(nodes) == 0 {
		p.ps.report(path, "at least one stage is required")
	}
	var out []Stage
	explicit := make([]bool, len(nodes))
	for i, sn := range nodes {
		var s Stage
		s, explicit[i] = p.stage(sn, fmt.Sprintf("%s[%d]", path, i), defaults)
		out = append(out, s)
	}
	// Default dependencies. Version 1 skipped a stage when an earlier
	// points-0 stage (a compile, say) had failed, so it depends on exactly
	// those; version 2 depends on the previous stage.
	for i := range out {
		if explicit[i] {
			continue
		}
		for j := range i {
			prev := out[j]
			if prev.Name == "" || prev.Name == out[i].Name || slices.Contains(out[i].DependsOn, prev.Name) {
				// Duplicate names are reported on their own.
				continue
			}
			if p.version == 1 && prev.Points == 0 || p.version != 1 && j == i-1 {
				out[i].DependsOn = append(out[i].DependsOn, prev.Name)
			}
		}
	}
	return out
}

// stage decodes one stage and reports whether depends_on was written.
func (p *parser) stage(n *yaml.Node, path string, defaults Defaults) (Stage, bool) {
	s := Stage{
		Kind:        KindCommand,
		Timeout:     defaults.Timeout,
		Limits:      defaults.Limits,
		Parallelism: DefaultParallelism,
		Visibility:  Visible,
	}
	m := p.mapping(n, path,
		[]string{"name", "command", "stdin", "expected_stdout", "timeout", "points"},
		[]string{
			"kind", "depends_on", "stdin_file", "env", "workdir", "limits", "files",
			"scenarios", "visibility", "expected", "expected_file", "compare", "parallelism",
			"language", "sources", "output", "flags", "checker", "exit_status", "scenarios_from",
		})
	if m == nil {
		return s, false
	}
	if v := m["name"]; v != nil {
		s.Name, _ = p.str(v, path+".name")
	}
	if v := m["kind"]; v != nil {
		if k, ok := p.str(v, path+".kind"); ok {
			s.Kind = Kind(k)
		}
	}
	if v := m["command"]; v != nil {
		s.Command, _ = p.strList(v, path+".command")
	}
	if v := m["depends_on"]; v != nil {
		if deps, ok := p.strList(v, path+".depends_on"); ok && len(deps) > 0 {
			s.DependsOn = deps
		}
	}
	if v := m["env"]; v != nil {
		s.Env = p.strMap(v, path+".env")
	}
	if v := m["workdir"]; v != nil {
		s.Workdir, _ = p.str(v, path+".workdir")
	}
	if v := m["timeout"]; v != nil {
		if t, ok := p.duration(v, path+".timeout"); ok {
			s.Timeout = t
		}
	}
	if v := m["limits"]; v != nil {
		p.limits(p.mapping(v, path+".limits", limitFields(), nil), path+".limits", &s.Limits)
	}
	if v := m["files"]; v != nil {
		s.Files, _ = p.strList(v, path+".files")
	}
	if v := m["visibility"]; v != nil {
		if vis, ok := p.str(v, path+".visibility"); ok {
			s.Visibility = Visibility(vis)
		}
	}
	if v := m["points"]; v != nil {
		s.Points, _ = p.number(v, path+".points")
	}
	if v := m["parallelism"]; v != nil {
		if x, ok := p.integer(v, path+".parallelism"); ok {
			s.Parallelism = int(max(min(x, math.MaxInt32), math.MinInt32))
		}
	}
	if v := m["exit_status"]; v != nil {
		s.ExitStatus, _ = p.exitStatus(v, path+".exit_status")
	}
	cmp, cmpOK := Compare{IgnoreTrailingSpace: true}, true
	if v := m["compare"]; v != nil {
		cmp, cmpOK = p.compare(v, path+".compare")
	}
	if v := m["scenarios"]; v != nil {
		s.Scenarios = p.scenarios(v, path+".scenarios", &s, cmp, cmpOK)
	}
	if v := m["scenarios_from"]; v != nil {
		s.ScenariosFrom = p.scenarioSource(v, path+".scenarios_from")
		s.ScenariosFrom.Compare = cmp
	}
	if m["scenarios"] != nil || m["scenarios_from"] != nil {
		for _, field := range []string{"stdin", "stdin_file", "expected_stdout", "expected", "expected_file"} {
			if m[field] != nil {
				p.ps.report(path+"."+field, "not allowed with scenarios (set it on each scenario)")
			}
		}
	} else {
		s.Stdin, s.StdinFile = p.input(m, path)
		s.Expected = p.expected(m, path, cmp, cmpOK)
	}
	if v := m["checker"]; v != nil {
		s.Checker = p.checker(v, path+".checker", s.Timeout)
	}
	p.expand(m, path, &s)
	return s, m["depends_on"] != nil
}

// input reads stdin or stdin_file, which exclude each other.
func (p *parser) input(m map[string]*yaml.Node, path string) (stdin, stdinFile string) {
	if m["stdin"] != nil && m["stdin_file"] != nil {
		p.ps.report(path+".stdin_file", "conflicts with stdin")
		return "", ""
	}
	if v := m["stdin"]; v != nil {
		stdin, _ = p.str(v, path+".stdin")
	}
	if v := m["stdin_file"]; v != nil {
		stdinFile, _ = p.str(v, path+".stdin_file")
	}
	return stdin, stdinFile
}

// expected reads expected_stdout (version 1's name), expected or
// expected_file; at most one may be set.
func (p *parser) expected(m map[string]*yaml.Node, path string, cmp Compare, cmpOK bool) *Expected {
	var set []string
	for _, field := range []string{"expected_stdout", "expected", "expected_file"} {
		if m[field] != nil {
			set = append(set, field)
		}
	}
	if len(set) == 0 {
		if cmpOK && cmp.Standalone() {
			// A rule that needs no expected output still judges the run.
			return &Expected{Compare: cmp}
		}
		return nil
	}
	if len(set) > 1 {
		p.ps.report(path+"."+set[1], "conflicts with %s", set[0])
		return nil
	}
	if !cmpOK {
		p.ps.markBad(path + ".compare")
	}
	e := &Expected{Compare: cmp}
	text, ok := p.str(m[set[0]], path+"."+set[0])
	if !ok {
		p.ps.markBad(path + ".expected")
		return e
	}
	if set[0] == "expected_file" {
		e.File = text
		return e
	}
	e.Text = text
	if set[0] == "expected_stdout" {
		// The model checks patterns under "expected"; check here instead,
		// against the key the author wrote.
		p.ps.markBad(path + ".expected")
		if _, _, err := cmp.pattern(text); cmp.Regex && err != nil {
			p.ps.report(path+".expected_stdout", "invalid pattern: %v", err)
		}
		if err := cmp.checkRule(text); cmpOK && err != nil {
			p.ps.report(path+".expected_stdout", "%v", err)
		}
	}
	return e
}

func (p *parser) compare(n *yaml.Node, path string) (Compare, bool) {
	before := len(p.ps.list)
	c := Compare{IgnoreTrailingSpace: true}
	m := p.mapping(n, path, []string{
		"exact", "ignore_trailing_space", "ignore_all_space", "ignore_blank_lines",
		"ignore_case", "numeric_tolerance", "regex", "contains", "tokens",
	}, nil)
	if m == nil {
		return c, false
	}
	if v := m["exact"]; v != nil {
		c.Exact, _ = p.boolean(v, path+".exact")
		// Exact means bytes as they are, so the default normalisation goes.
		c.IgnoreTrailingSpace = !c.Exact
	}
	flags := []struct {
		name string
		dst  *bool
	}{
		{"ignore_trailing_space", &c.IgnoreTrailingSpace},
		{"ignore_all_space", &c.IgnoreAllSpace},
		{"ignore_blank_lines", &c.IgnoreBlankLines},
		{"ignore_case", &c.IgnoreCase},
		{"tokens", &c.Tokens},
	}
	for _, f := range flags {
		if v := m[f.name]; v != nil {
			if b, ok := p.boolean(v, path+"."+f.name); ok {
				*f.dst = b
			}
		}
	}
	if v := m["numeric_tolerance"]; v != nil {
		if t, ok := p.number(v, path+".numeric_tolerance"); ok {
			c.NumericTolerance = &t
		}
	}
	// regex and contains take true (the expected output is the pattern or
	// the text) or a rule in which {expected} stands for it.
	if v := m["regex"]; v != nil {
		if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!str" {
			c.Pattern = v.Value
		} else {
			c.Regex, _ = p.boolean(v, path+".regex")
		}
	}
	if v := m["contains"]; v != nil {
		if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!str" {
			c.Contains = v.Value
		} else if b, ok := p.boolean(v, path+".contains"); ok && b {
			c.Contains = ExpectedPlaceholder
		}
	}
	checkCompare(p.ps, path, c)
	if len(p.ps.list) != before {
		p.ps.markBad(path)
		return c, false
	}
	return c, true
}

func (p *parser) scenarios(n *yaml.Node, path string, s *Stage, cmp Compare, cmpOK bool) []Scenario {
	nodes := p.seq(n, path)
	if nodes != nil && len(nodes) == 0 {
		p.ps.report(path, "at least one scenario is required when scenarios is set")
	}
	var out []Scenario
	for i, sn := range nodes {
		sp := fmt.Sprintf("%s[%d]", path, i)
		sc := Scenario{Timeout: s.Timeout, Visibility: s.Visibility, ExitStatus: s.ExitStatus}
		m := p.mapping(sn, sp, []string{
			"name", "args", "stdin", "stdin_file", "env", "timeout",
			"expected", "expected_file", "compare", "visibility", "exit_status",
		}, nil)
		if m == nil {
			out = append(out, sc)
			continue
		}
		if v := m["name"]; v != nil {
			sc.Name, _ = p.str(v, sp+".name")
		}
		if v := m["args"]; v != nil {
			sc.Args, _ = p.strList(v, sp+".args")
		}
		sc.Stdin, sc.StdinFile = p.input(m, sp)
		if v := m["env"]; v != nil {
			sc.Env = p.strMap(v, sp+".env")
		}
		if v := m["timeout"]; v != nil {
			if t, ok := p.duration(v, sp+".timeout"); ok {
				sc.Timeout = t
			}
		}
		if v := m["visibility"]; v != nil {
			if vis, ok := p.str(v, sp+".visibility"); ok {
				sc.Visibility = Visibility(vis)
			}
		}
		if v := m["exit_status"]; v != nil {
			if e, ok := p.exitStatus(v, sp+".exit_status"); ok {
				sc.ExitStatus = e
			}
		}
		scCmp, scOK := cmp, cmpOK
		if v := m["compare"]; v != nil {
			scCmp, scOK = p.compare(v, sp+".compare")
		}
		sc.Expected = p.expected(m, sp, scCmp, scOK)
		out = append(out, sc)
	}
	return out
}

func (p *parser) checker(n *yaml.Node, path string, timeout time.Duration) *Checker {
	c := &Checker{Timeout: timeout, Protocol: ProtocolFiles}
	m := p.mapping(n, path, []string{"command", "files", "timeout", "protocol"}, nil)
	if m == nil {
		return c
	}
	if v := m["protocol"]; v != nil {
		c.Protocol, _ = p.str(v, path+".protocol")
	}
	if v := m["command"]; v != nil {
		c.Command, _ = p.strList(v, path+".command")
	} else {
		p.ps.report(path+".command", "required")
	}
	if v := m["files"]; v != nil {
		c.Files, _ = p.strList(v, path+".files")
	}
	if v := m["timeout"]; v != nil {
		if t, ok := p.duration(v, path+".timeout"); ok {
			c.Timeout = t
		}
	}
	return c
}

// exitStatus reads must_be_zero, ignore, an integer, or {expected: N}.
func (p *parser) exitStatus(n *yaml.Node, path string) (ExitStatus, bool) {
	const want = "must be must_be_zero, ignore, an integer, or {expected: N}"
	switch {
	case n.Kind == yaml.MappingNode:
		m := p.mapping(n, path, []string{"expected"}, nil)
		if v := m["expected"]; v != nil {
			return p.exitCode(v, path+".expected")
		}
		p.ps.report(path+".expected", "required")
		return ExitStatus{}, false
	case n.Kind != yaml.ScalarNode:
		p.ps.report(path, want)
		return ExitStatus{}, false
	case n.ShortTag() == "!!int":
		return p.exitCode(n, path)
	case n.Value == "must_be_zero":
		return ExitStatus{}, true
	case n.Value == "ignore":
		return ExitStatus{Ignore: true}, true
	}
	p.ps.report(path, want)
	return ExitStatus{}, false
}

func (p *parser) exitCode(n *yaml.Node, path string) (ExitStatus, bool) {
	code, ok := p.integer(n, path)
	if ok && (code < 0 || code > 255) {
		p.ps.report(path, "must be between 0 and 255")
		return ExitStatus{}, false
	}
	return ExitStatus{Code: int(code)}, ok
}

func (p *parser) scenarioSource(n *yaml.Node, path string) *ScenarioSource {
	src := &ScenarioSource{}
	m := p.mapping(n, path, []string{"glob", "expected", "points"}, nil)
	if m == nil {
		return src
	}
	if v := m["glob"]; v != nil {
		src.Glob, _ = p.str(v, path+".glob")
	} else {
		p.ps.report(path+".glob", "required")
	}
	if v := m["expected"]; v != nil {
		src.Expected, _ = p.str(v, path+".expected")
	}
	if v := m["points"]; v != nil {
		src.Points, _ = p.number(v, path+".points")
	}
	return src
}

func (p *parser) rubric(n *yaml.Node, path string) *Rubric {
	r := &Rubric{LimitErrors: LimitErrorsZero}
	m := p.mapping(n, path, []string{"components", "total", "limit_errors"}, nil)
	if m == nil {
		return r
	}
	if v := m["components"]; v != nil {
		for i, cn := range p.seq(v, path+".components") {
			r.Components = append(r.Components, p.component(cn, fmt.Sprintf("%s.components[%d]", path, i)))
		}
	} else {
		p.ps.report(path+".components", "required")
	}
	if v := m["total"]; v != nil {
		tm := p.mapping(v, path+".total", []string{"max_score", "normalize_to", "min", "max"}, nil)
		for _, f := range []struct {
			name string
			dst  **float64
		}{
			{"max_score", &r.Total.MaxScore},
			{"normalize_to", &r.Total.NormalizeTo},
			{"min", &r.Total.Min},
			{"max", &r.Total.Max},
		} {
			if fv := tm[f.name]; fv != nil {
				if x, ok := p.number(fv, path+".total."+f.name); ok {
					*f.dst = &x
				}
			}
		}
	}
	if v := m["limit_errors"]; v != nil {
		if s, ok := p.str(v, path+".limit_errors"); ok {
			r.LimitErrors = LimitErrors(s)
		}
	}
	return r
}

func (p *parser) component(n *yaml.Node, path string) Component {
	// A placeholder maximum keeps a missing one from being reported twice.
	c := Component{Mode: ModeSum, MaxScore: 1}
	m := p.mapping(n, path, []string{"name", "max_score", "from", "scenarios", "points", "points_per_scenario", "mode"}, nil)
	if m == nil {
		return c
	}
	if v := m["name"]; v != nil {
		c.Name, _ = p.str(v, path+".name")
	}
	if v := m["max_score"]; v != nil {
		if x, ok := p.number(v, path+".max_score"); ok {
			c.MaxScore = x
		}
	} else {
		p.ps.report(path+".max_score", "required")
	}
	if v := m["from"]; v != nil {
		c.From, _ = p.str(v, path+".from")
	}
	if v := m["scenarios"]; v != nil {
		if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!str" && v.Value == "*" {
			c.Scenarios = nil
		} else if v.Kind == yaml.SequenceNode {
			list, ok := p.strList(v, path+".scenarios")
			if ok {
				c.Scenarios = append([]string{}, list...)
			}
		} else {
			p.ps.report(path+".scenarios", `must be "*" or a list of scenario names`)
		}
	}
	if v := m["points"]; v != nil {
		if x, ok := p.number(v, path+".points"); ok {
			c.Points = &x
		}
	}
	if v := m["points_per_scenario"]; v != nil {
		pm := p.dict(v, path+".points_per_scenario")
		c.PointsPerScenario = map[string]float64{}
		for k, kv := range pm {
			if x, ok := p.number(kv, path+".points_per_scenario."+k); ok {
				c.PointsPerScenario[k] = x
			}
		}
	}
	if v := m["mode"]; v != nil {
		if s, ok := p.str(v, path+".mode"); ok {
			c.Mode = Mode(s)
		}
	}
	return c
}

// limitFields are the keys of a limits mapping.
func limitFields() []string {
	return []string{"cpu_seconds", "memory_mb", "max_processes", "max_file_mb", "open_files", "network", "output_limit_bytes"}
}

// mapping checks that n is a mapping whose keys are among v1 (or v2, in a
// version 2 document) and returns its values by key. It returns nil when n
// is not a mapping.
func (p *parser) mapping(n *yaml.Node, path string, v1, v2 []string) map[string]*yaml.Node {
	return p.pairs(n, path, func(key, fp string) bool {
		switch {
		case slices.Contains(v1, key):
		case slices.Contains(v2, key):
			if p.version == 1 {
				p.ps.report(fp, "unknown field (available from version 2)")
				return false
			}
		default:
			p.ps.report(fp, "unknown field")
			return false
		}
		return true
	})
}

// dict is a mapping keyed by names the author chooses, such as env.
func (p *parser) dict(n *yaml.Node, path string) map[string]*yaml.Node {
	return p.pairs(n, path, func(string, string) bool { return true })
}

func (p *parser) pairs(n *yaml.Node, path string, accept func(key, fp string) bool) map[string]*yaml.Node {
	if !p.is(n, path, yaml.MappingNode, "a mapping") {
		return nil
	}
	out := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.ps.report(path, "keys must be plain strings")
			continue
		}
		fp := join(path, k.Value)
		if !accept(k.Value, fp) {
			continue
		}
		if _, dup := out[k.Value]; dup {
			p.ps.report(fp, "duplicate field")
			continue
		}
		out[k.Value] = v
	}
	return out
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// is checks the node kind, reporting aliases and nulls plainly.
func (p *parser) is(n *yaml.Node, path string, kind yaml.Kind, what string) bool {
	null := n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
	switch {
	case n.Kind == yaml.AliasNode:
		// expandAliases leaves none; a Node built by hand might.
		p.ps.report(path, "unexpanded YAML alias")
	case null:
		p.ps.report(path, "must be %s, not null", what)
	case n.Kind == kind:
		return true
	default:
		p.ps.report(path, "must be %s", what)
	}
	return false
}

// seq returns the items of a sequence; nil when n is not a sequence.
func (p *parser) seq(n *yaml.Node, path string) []*yaml.Node {
	if !p.is(n, path, yaml.SequenceNode, "a list") {
		return nil
	}
	if n.Content == nil {
		return []*yaml.Node{}
	}
	return n.Content
}

// str accepts any non-null scalar as its literal text, so "stdin: 42" means
// the characters 4 and 2.
func (p *parser) str(n *yaml.Node, path string) (string, bool) {
	if !p.is(n, path, yaml.ScalarNode, "a string") {
		return "", false
	}
	return n.Value, true
}

func (p *parser) strList(n *yaml.Node, path string) ([]string, bool) {
	if !p.is(n, path, yaml.SequenceNode, "a list of strings") {
		return nil, false
	}
	out := []string{}
	ok := true
	for i, item := range n.Content {
		s, good := p.str(item, fmt.Sprintf("%s[%d]", path, i))
		ok = ok && good
		out = append(out, s)
	}
	return out, ok
}

func (p *parser) strMap(n *yaml.Node, path string) map[string]string {
	m := p.dict(n, path)
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		if s, ok := p.str(v, path+"."+k); ok {
			out[k] = s
		}
	}
	return out
}

func (p *parser) integer(n *yaml.Node, path string) (int64, bool) {
	if !p.is(n, path, yaml.ScalarNode, "an integer") {
		return 0, false
	}
	var v int64
	if n.ShortTag() != "!!int" || n.Decode(&v) != nil {
		p.ps.report(path, "must be an integer")
		return 0, false
	}
	return v, true
}

func (p *parser) number(n *yaml.Node, path string) (float64, bool) {
	if !p.is(n, path, yaml.ScalarNode, "a number") {
		return 0, false
	}
	var v float64
	tag := n.ShortTag()
	if tag != "!!int" && tag != "!!float" || n.Decode(&v) != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		p.ps.report(path, "must be a number")
		return 0, false
	}
	return v, true
}

func (p *parser) boolean(n *yaml.Node, path string) (bool, bool) {
	if !p.is(n, path, yaml.ScalarNode, "true or false") {
		return false, false
	}
	var v bool
	if n.ShortTag() != "!!bool" || n.Decode(&v) != nil {
		p.ps.report(path, "must be true or false")
		return false, false
	}
	return v, true
}

// duration reads a Go duration string ("1m30s") or a bare number of
// seconds ("2", "0.5").
func (p *parser) duration(n *yaml.Node, path string) (time.Duration, bool) {
	if !p.is(n, path, yaml.ScalarNode, "a duration") {
		return 0, false
	}
	switch n.ShortTag() {
	case "!!int", "!!float":
		var secs float64
		if n.Decode(&secs) == nil && !math.IsNaN(secs) && secs < float64(math.MaxInt64)/float64(time.Second) {
			return time.Duration(secs * float64(time.Second)), true
		}
	case "!!str":
		if d, err := time.ParseDuration(n.Value); err == nil {
			return d, true
		}
	}
	p.ps.report(path, "not a duration (for example 10s, 1m30s, or a number of seconds)")
	return 0, false
}
