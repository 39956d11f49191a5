package definition

import (
	"fmt"
	"strconv"

	"gopkg.in/yaml.v3"
)

// Languages a compile stage knows, with the program each one needs.
const (
	LangC      = "c"
	LangCPP    = "cpp"
	LangPython = "python"
	LangJava   = "java"
)

// expand checks the kind-specific fields of a stage and turns compile and
// valgrind stages into the plain command they stand for, so the engine has
// a single way to run every stage.
func (p *parser) expand(m map[string]*yaml.Node, path string, s *Stage) {
	if s.Kind != KindCompile {
		for _, field := range []string{"language", "sources", "output"} {
			if m[field] != nil {
				p.ps.report(path+"."+field, "only allowed with kind compile")
			}
		}
	}
	if m["flags"] != nil && s.Kind != KindCompile && s.Kind != KindValgrind {
		p.ps.report(path+".flags", "only allowed with kind compile or valgrind")
	}
	var flags []string
	if v := m["flags"]; v != nil {
		flags, _ = p.strList(v, path+".flags")
	}
	switch s.Kind {
	case KindCompile:
		p.expandCompile(m, path, s, flags)
	case KindValgrind:
		if len(s.Command) > 0 {
			s.Command = valgrindCommand(flags, s.Command)
			s.Requires = []string{"valgrind"}
		}
	case KindCommand, KindDiff, KindChecker:
	default:
		p.ps.report(path+".kind", "unknown kind %q (want command, compile, diff, checker or valgrind)", s.Kind)
	}
}

func (p *parser) expandCompile(m map[string]*yaml.Node, path string, s *Stage, flags []string) {
	// Whatever goes wrong below, the generated command is not the author's
	// mistake to read about.
	own := m["command"] != nil
	if !own {
		p.ps.markBad(path + ".command")
	}
	before := len(p.ps.list)
	if m["scenarios"] == nil {
		for _, field := range []string{"expected_stdout", "expected", "expected_file"} {
			if m[field] != nil {
				p.ps.report(path+"."+field, "not allowed with kind compile")
			}
		}
		s.Expected = nil
	}
	var lang string
	if v := m["language"]; v != nil {
		if l, ok := p.str(v, path+".language"); ok {
			lang = l
			switch l {
			case LangC, LangCPP, LangPython, LangJava:
			default:
				p.ps.report(path+".language", "unknown language %q (want c, cpp, python or java)", l)
			}
		}
	} else if !own {
		p.ps.report(path+".language", "required for kind compile (or a command)")
	}
	var sources []string
	if v := m["sources"]; v != nil {
		if list, ok := p.strList(v, path+".sources"); ok {
			sources = list
			if len(list) == 0 {
				p.ps.report(path+".sources", "at least one source file is required")
			}
			for i, src := range list {
				if msg := relPathProblem(src); msg != "" {
					p.ps.report(fmt.Sprintf("%s.sources[%d]", path, i), "%s", msg)
				}
			}
		}
	} else if !own {
		p.ps.report(path+".sources", "required for kind compile (or a command)")
	}
	output := ""
	if v := m["output"]; v != nil {
		if o, ok := p.str(v, path+".output"); ok {
			output = o
			if msg := relPathProblem(o); msg != "" {
				p.ps.report(path+".output", "%s", msg)
			}
		}
	}
	if lang == LangPython {
		for _, field := range []string{"output", "flags"} {
			if m[field] != nil {
				p.ps.report(path+"."+field, "not allowed for language python")
			}
		}
	}
	if len(p.ps.list) != before {
		return
	}
	if own {
		// The instructor's command is used as written; flags still append.
		s.Command = append(s.Command, flags...)
		return
	}
	s.Command, s.Requires = compileCommand(lang, sources, output, flags)
}

// compileCommand is the compiler call of a compile stage and the program it
// needs. Flags come after the sources so that libraries (-lpthread) link.
func compileCommand(lang string, sources []string, output string, flags []string) (argv, requires []string) {
	switch lang {
	case LangC, LangCPP:
		if output == "" {
			output = "a.out"
		}
		compiler, std := "gcc", "-std=c11"
		if lang == LangCPP {
			compiler, std = "g++", "-std=c++17"
		}
		argv = append([]string{compiler, "-O2", std, "-o", output}, sources...)
		argv = append(append(argv, flags...), "-lm")
		return argv, []string{compiler}
	case LangPython:
		return append([]string{"python3", "-m", "py_compile"}, sources...), []string{"python3"}
	default:
		if output == "" {
			output = "."
		}
		argv = append([]string{"javac", "-d", output}, flags...)
		return append(argv, sources...), []string{"javac"}
	}
}

// valgrindCommand wraps a command in valgrind's memcheck so that reported
// errors, definite leaks included, end it with ValgrindErrorExitCode.
func valgrindCommand(flags, command []string) []string {
	argv := []string{
		"valgrind", "--quiet",
		"--error-exitcode=" + strconv.Itoa(ValgrindErrorExitCode),
		"--leak-check=full", "--errors-for-leak-kinds=definite",
		"--child-silent-after-fork=yes",
	}
	argv = append(argv, flags...)
	return append(argv, command...)
}
