package definition_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/definition"
)

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return src
}

func mustParse(t *testing.T, src string) *definition.Definition {
	t.Helper()
	def, err := definition.Parse([]byte(src))
	require.NoError(t, err)
	return def
}

func TestParseVersion1(t *testing.T) {
	def := mustParse(t, string(readTestdata(t, "v1_hello.yaml")))

	assert.Equal(t, 1, def.Version)
	assert.Equal(t, "hello", def.Name)
	require.Len(t, def.Stages, 5)
	compile, greets, lint, shouts := def.Stages[0], def.Stages[1], def.Stages[3], def.Stages[4]

	assert.Equal(t, definition.KindCommand, compile.Kind)
	assert.Equal(t, []string{"gcc", "-O2", "-o", "hello", "hello.c"}, compile.Command)
	assert.Equal(t, 20*time.Second, compile.Timeout)
	assert.Empty(t, compile.DependsOn)

	assert.Equal(t, definition.DefaultTimeout, greets.Timeout)
	assert.Equal(t, "World\n", greets.Stdin)
	require.NotNil(t, greets.Expected)
	assert.Equal(t, "Hello, World!\n", greets.Expected.Text)
	assert.Equal(t, definition.Compare{IgnoreTrailingSpace: true}, greets.Expected.Compare)
	assert.Equal(t, 6.0, greets.Points)

	// Only earlier points-0 stages gate a version 1 stage.
	assert.Equal(t, []string{"compile"}, greets.DependsOn)
	assert.Equal(t, []string{"compile"}, lint.DependsOn)
	assert.Equal(t, []string{"compile", "lint"}, shouts.DependsOn)

	assert.Equal(t, definition.Visible, greets.Visibility)
	assert.Equal(t, definition.DefaultParallelism, greets.Parallelism)
	assert.Nil(t, def.Rubric)
	assert.Equal(t, 10.5, def.MaxScore())
}

func TestParseVersion2(t *testing.T) {
	def := mustParse(t, string(readTestdata(t, "v2_full.yaml")))

	assert.Equal(t, 2, def.Version)
	assert.Equal(t, 3*time.Second, def.Defaults.Timeout)
	assert.Equal(t, definition.Limits{MemoryMB: 128, MaxProcesses: 16, OutputLimitBytes: 65536}, def.Defaults.Limits)
	require.Len(t, def.Files, 4)
	assert.True(t, def.Files[2].Upload)
	assert.True(t, def.Files[3].VisibleToStudent)

	build, ok := def.Stage("build")
	require.True(t, ok)
	assert.Equal(t, definition.KindCompile, build.Kind)
	assert.Equal(t, []string{"gcc", "-O2", "-std=c11", "-o", "sum", "main.c", "sum.c", "-Wall", "-lm"}, build.Command)
	assert.Equal(t, []string{"gcc"}, build.Requires)
	assert.Equal(t, 3*time.Second, build.Timeout, "inherits defaults.timeout")
	assert.Equal(t, []string{"sum.h"}, build.Files)

	tests, ok := def.Stage("tests")
	require.True(t, ok)
	assert.Equal(t, []string{"build"}, tests.DependsOn, "defaults to the previous stage")
	assert.Equal(t, definition.Limits{MemoryMB: 64, MaxProcesses: 16, OutputLimitBytes: 65536, Network: true}, tests.Limits)
	assert.Equal(t, map[string]string{"MODE": "test"}, tests.Env)
	require.Len(t, tests.Scenarios, 2)
	small, negative := tests.Scenarios[0], tests.Scenarios[1]
	assert.Equal(t, 2*time.Second, small.Timeout, "inherits the stage timeout")
	assert.Equal(t, definition.AfterDue, small.Visibility, "inherits the stage visibility")
	assert.Equal(t, "tests/in1.txt", small.StdinFile)
	assert.Equal(t, &definition.Expected{File: "tests/out1.txt", Compare: definition.Compare{IgnoreTrailingSpace: true, IgnoreCase: true}}, small.Expected)
	assert.Equal(t, time.Second, negative.Timeout)
	assert.Equal(t, definition.Hidden, negative.Visibility)
	assert.Equal(t, []string{"--signed"}, negative.Args)
	tol := 0.5
	assert.Equal(t, &definition.Expected{Text: "-3\n", Compare: definition.Compare{IgnoreTrailingSpace: true, NumericTolerance: &tol}}, negative.Expected,
		"a scenario's compare replaces the stage's")

	judge, ok := def.Stage("judge")
	require.True(t, ok)
	assert.Equal(t, []string{"build"}, judge.DependsOn)
	assert.Equal(t, &definition.Checker{Command: []string{"python3", "checker.py"}, Protocol: definition.ProtocolFiles, Files: []string{"checker.py"}, Timeout: 3 * time.Second}, judge.Checker)

	memcheck, ok := def.Stage("memcheck")
	require.True(t, ok)
	assert.Empty(t, memcheck.DependsOn, "depends_on: [] means none")
	assert.Equal(t, []string{
		"valgrind", "--quiet", "--error-exitcode=99", "--leak-check=full", "--errors-for-leak-kinds=definite",
		"--child-silent-after-fork=yes", "--track-origins=yes", "./sum",
	}, memcheck.Command)
	assert.Equal(t, []string{"valgrind"}, memcheck.Requires)

	require.NotNil(t, def.Rubric)
	assert.Equal(t, definition.LimitErrorsZero, def.Rubric.LimitErrors)
	require.Len(t, def.Rubric.Components, 3)
	assert.Nil(t, def.Rubric.Components[0].Scenarios, `scenarios default to "*"`)
	assert.Equal(t, definition.ModeAllOrNothing, def.Rubric.Components[1].Mode)
	assert.Equal(t, 20.0, def.MaxScore())
	assert.Equal(t, []int{0, 1, 2, 3}, def.Order())
}

func TestParseCompileLanguages(t *testing.T) {
	tests := []struct {
		name         string
		give         string
		wantCommand  []string
		wantRequires []string
	}{
		{
			name:         "cpp",
			give:         "language: cpp\n    sources: [a.cpp]\n    output: prog",
			wantCommand:  []string{"g++", "-O2", "-std=c++17", "-o", "prog", "a.cpp", "-lm"},
			wantRequires: []string{"g++"},
		},
		{
			name:         "python",
			give:         "language: python\n    sources: [main.py, util.py]",
			wantCommand:  []string{"python3", "-m", "py_compile", "main.py", "util.py"},
			wantRequires: []string{"python3"},
		},
		{
			name:         "java",
			give:         "language: java\n    sources: [Main.java]\n    flags: [-g]",
			wantCommand:  []string{"javac", "-d", ".", "-g", "Main.java"},
			wantRequires: []string{"javac"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			def := mustParse(t, "version: 2\nstages:\n  - name: build\n    kind: compile\n    "+tt.give+"\n")
			assert.Equal(t, tt.wantCommand, def.Stages[0].Command)
			assert.Equal(t, tt.wantRequires, def.Stages[0].Requires)
		})
	}
}

// problemsOf parses src and returns its problems as "path: message".
func problemsOf(t *testing.T, src string) []string {
	t.Helper()
	_, err := definition.Parse([]byte(src))
	var verr *definition.ValidationError
	require.ErrorAs(t, err, &verr)
	out := make([]string, len(verr.Problems))
	for i, p := range verr.Problems {
		out[i] = p.String()
	}
	return out
}

func TestParseProblems(t *testing.T) {
	tests := []struct {
		name string
		give string
		want []string
	}{
		{
			name: "invalid yaml",
			give: "version: [",
			want: []string{"invalid YAML: line 1: did not find expected node content"},
		},
		{
			name: "empty",
			give: "  \n",
			want: []string{"the definition is empty"},
		},
		{
			name: "not a mapping",
			give: "- 1\n",
			want: []string{"the definition must be a YAML mapping"},
		},
		{
			name: "two documents",
			give: "version: 1\n---\nversion: 2\n",
			want: []string{"the definition must be a single YAML document"},
		},
		{
			name: "version missing",
			give: "stages: [{name: a, command: [true]}]",
			want: []string{"version: required (1 or 2)"},
		},
		{
			name: "version unsupported",
			give: "version: 3\nstages: [{name: a, command: [true]}]",
			want: []string{"version: unsupported version 3 (supported: 1, 2)"},
		},
		{
			name: "version not an integer",
			give: "version: two\nstages: [{name: a, command: [true]}]",
			want: []string{"version: must be an integer"},
		},
		{
			name: "stages missing",
			give: "version: 1",
			want: []string{"stages: required"},
		},
		{
			name: "stages empty",
			give: "version: 1\nstages: []",
			want: []string{"stages: at least one stage is required"},
		},
		{
			name: "unknown fields",
			give: "version: 2\ntitle: x\nstages: [{name: a, command: [true], cmd: [x]}]",
			want: []string{"stages[0].cmd: unknown field", "title: unknown field"},
		},
		{
			name: "version 2 field in version 1",
			give: "version: 1\nstages: [{name: a, command: [true], depends_on: []}]\nrubric: {}",
			want: []string{
				"stages[0].depends_on: unknown field (available from version 2)",
				"rubric: unknown field (available from version 2)",
			},
		},
		{
			name: "duplicate field",
			give: "version: 1\nstages: [{name: a, command: [true], name: b}]",
			want: []string{"stages[0].name: duplicate field"},
		},
		{
			name: "names",
			give: `version: 1
stages:
  - {command: [true]}
  - {name: "has space", command: [true]}
  - {name: "..", command: [true]}
  - {name: build, command: [true]}
  - {name: build, command: [true]}`,
			want: []string{
				"stages[0].name: required",
				`stages[1].name: invalid name "has space" (use letters, digits, '_', '.', '-')`,
				`stages[2].name: invalid name ".." (use letters, digits, '_', '.', '-')`,
				`stages[4].name: duplicate name "build"`,
			},
		},
		{
			name: "wrong types",
			give: `version: 1
name: [x]
stages:
  - name: a
    command: "gcc main.c"
    timeout: ten
    points: many
    stdin: {a: b}
  - 42`,
			want: []string{
				"name: must be a string",
				"stages[0].command: must be a list of strings",
				"stages[0].points: must be a number",
				"stages[0].stdin: must be a string",
				"stages[0].timeout: not a duration (for example 10s, 1m30s, or a number of seconds)",
				"stages[1]: must be a mapping",
			},
		},
		{
			name: "null",
			give: "version: 1\nstages:\n  - name: &n a\n    command: [true]\n    stdin: *n\n    expected_stdout:\n",
			want: []string{
				"stages[0].expected_stdout: must be a string, not null",
			},
		},
		{
			name: "empty commands",
			give: `version: 2
stages:
  - {name: a, command: []}
  - {name: b, command: ["", x]}
  - {name: c}
  - {name: d, command: [ok, "a` + "\\0" + `b"]}`,
			want: []string{
				"stages[0].command: must not be empty",
				"stages[1].command[0]: must not be empty",
				"stages[2].command: must not be empty",
				"stages[3].command[1]: must not contain NUL",
			},
		},
		{
			name: "timeouts",
			give: `version: 2
defaults: {timeout: 0s}
stages:
  - name: a
    command: [true]
    timeout: -1s
  - name: b
    command: [true]
    timeout: 2h
    scenarios:
      - {name: s, timeout: soon}`,
			want: []string{
				"defaults.timeout: must be positive",
				"stages[0].timeout: must be positive",
				"stages[1].scenarios[0].timeout: not a duration (for example 10s, 1m30s, or a number of seconds)",
				"stages[1].timeout: must be at most 1h0m0s",
			},
		},
		{
			name: "stdin and stdin_file",
			give: `version: 2
files: [{name: in.txt, content: x}]
stages:
  - {name: a, command: [cat], stdin: "", stdin_file: in.txt}
  - name: b
    command: [cat]
    scenarios: [{name: s, stdin: x, stdin_file: in.txt}]`,
			want: []string{
				"stages[0].stdin_file: conflicts with stdin",
				"stages[1].scenarios[0].stdin_file: conflicts with stdin",
			},
		},
		{
			name: "expected conflicts",
			give: `version: 2
files: [{name: out.txt, content: x}]
stages:
  - {name: a, command: [cat], expected_stdout: x, expected: y}
  - name: b
    command: [cat]
    scenarios: [{name: s, expected: x, expected_file: out.txt}]`,
			want: []string{
				"stages[0].expected: conflicts with expected_stdout",
				"stages[1].scenarios[0].expected_file: conflicts with expected",
			},
		},
		{
			name: "stage input with scenarios",
			give: `version: 2
stages:
  - name: a
    command: [cat]
    stdin: x
    expected_stdout: y
    scenarios: [{name: s}]`,
			want: []string{
				"stages[0].expected_stdout: not allowed with scenarios (set it on each scenario)",
				"stages[0].stdin: not allowed with scenarios (set it on each scenario)",
			},
		},
		{
			name: "unknown files",
			give: `version: 2
stages:
  - name: a
    command: [cat]
    files: [harness.c]
    stdin_file: in.txt
    expected_file: out.txt
  - name: b
    kind: checker
    command: [cat]
    checker: {command: [./check], files: [check]}
    scenarios: [{name: s, stdin_file: in2.txt}]`,
			want: []string{
				`stages[0].expected_file: unknown file "out.txt"`,
				`stages[0].files[0]: unknown file "harness.c"`,
				`stages[0].stdin_file: unknown file "in.txt"`,
				`stages[1].checker.files[0]: unknown file "check"`,
				`stages[1].scenarios[0].stdin_file: unknown file "in2.txt"`,
			},
		},
		{
			name: "files",
			give: `version: 2
files:
  - {name: a.txt, content: x, source: upload}
  - {name: b.txt}
  - {name: c.txt, source: s3}
  - {name: ../d.txt, content: x}
  - {name: /e.txt, content: x}
  - {name: a.txt, content: y}
  - {content: z}
stages: [{name: a, command: [true]}]`,
			want: []string{
				"files[0].source: conflicts with content",
				"files[1]: content or source is required",
				`files[2].source: unknown source "s3" (want upload)`,
				`files[3].name: must be a relative path without ".."`,
				`files[4].name: must be a relative path without ".."`,
				`files[5].name: duplicate name "a.txt"`,
				"files[6].name: required",
			},
		},
		{
			name: "workdir env limits",
			give: `version: 2
defaults: {memory_mb: -1, network: maybe}
stages:
  - name: a
    command: [true]
    workdir: ../up
    env: {"1BAD": x, GOOD: y, ALSO-BAD: z}
    limits: {max_processes: -2, cpu: 1}
  - {name: b, command: [true], workdir: /etc}`,
			want: []string{
				"defaults.memory_mb: must not be negative",
				"defaults.network: must be true or false",
				"stages[0].env.1BAD: invalid variable name",
				"stages[0].env.ALSO-BAD: invalid variable name",
				"stages[0].limits.cpu: unknown field",
				"stages[0].limits.max_processes: must not be negative",
				`stages[0].workdir: must be a relative path without ".."`,
				`stages[1].workdir: must be a relative path without ".."`,
			},
		},
		{
			name: "dependencies",
			give: `version: 2
stages:
  - {name: a, command: [true], depends_on: [a]}
  - {name: b, command: [true], depends_on: [ghost, a, a]}`,
			want: []string{
				"stages[0].depends_on[0]: a stage cannot depend on itself",
				`stages[1].depends_on[0]: unknown stage "ghost"`,
				`stages[1].depends_on[2]: duplicate dependency "a"`,
			},
		},
		{
			name: "cycles",
			give: `version: 2
stages:
  - {name: a, command: [true], depends_on: [c]}
  - {name: b, command: [true], depends_on: [a]}
  - {name: c, command: [true], depends_on: [b]}
  - {name: d, command: [true], depends_on: [e]}
  - {name: e, command: [true], depends_on: [d]}`,
			want: []string{
				"stages[0].depends_on: dependency cycle: a -> c -> b -> a",
				"stages[3].depends_on: dependency cycle: d -> e -> d",
			},
		},
		{
			name: "kinds",
			give: `version: 2
stages:
  - {name: a, kind: shell, command: [true]}
  - {name: b, command: [true], language: c, flags: [-O3]}
  - {name: c, kind: checker, command: [true]}
  - {name: d, command: [true], checker: {command: [x]}}
  - {name: e, kind: diff, command: [true]}
  - {name: f, kind: checker, command: [true], checker: {files: []}}`,
			want: []string{
				`stages[0].kind: unknown kind "shell" (want command, compile, diff, checker or valgrind)`,
				"stages[1].flags: only allowed with kind compile or valgrind",
				"stages[1].language: only allowed with kind compile",
				"stages[2].checker: required for kind checker",
				"stages[3].checker: only allowed with kind checker",
				"stages[4].expected: required for kind diff",
				"stages[5].checker.command: required",
			},
		},
		{
			name: "compile",
			give: `version: 2
stages:
  - {name: a, kind: compile}
  - {name: b, kind: compile, language: rust, sources: [main.rs]}
  - {name: c, kind: compile, language: c, sources: [], command: [gcc]}
  - {name: d, kind: compile, language: python, sources: [../x.py], output: x, flags: [-O]}
  - {name: e, kind: compile, language: c, sources: [a.c], scenarios: [{name: s}], expected: x}
  - {name: f, kind: compile, language: c, sources: [a.c], expected_stdout: x}`,
			want: []string{
				"stages[0].language: required for kind compile (or a command)",
				"stages[0].sources: required for kind compile (or a command)",
				`stages[1].language: unknown language "rust" (want c, cpp, python or java)`,
				"stages[2].sources: at least one source file is required",
				"stages[3].flags: not allowed for language python",
				"stages[3].output: not allowed for language python",
				`stages[3].sources[0]: must be a relative path without ".."`,
				"stages[4].expected: not allowed with scenarios (set it on each scenario)",
				"stages[4].scenarios: not allowed with kind compile",
				"stages[5].expected_stdout: not allowed with kind compile",
			},
		},
		{
			name: "compare options",
			give: `version: 2
stages:
  - name: a
    command: [cat]
    compare: {exact: true, ignore_case: true}
    scenarios:
      - {name: s1, expected: x}
      - {name: s2, expected: y}
  - name: b
    command: [cat]
    expected: "[unclosed"
    compare: {regex: true, numeric_tolerance: -1, ignore_spaces: true}
  - name: c
    command: [cat]
    expected: "(a|b"
    compare: {regex: true}
  - name: d
    command: [cat]
    expected_stdout: "(a|b"
    compare: {regex: true}`,
			want: []string{
				"stages[0].compare.exact: cannot be combined with other compare options",
				"stages[1].compare.ignore_spaces: unknown field",
				"stages[1].compare.numeric_tolerance: must be a non-negative number",
				"stages[1].compare.numeric_tolerance: cannot be combined with regex",
				"stages[1].expected: invalid pattern: error parsing regexp: missing closing ]: `[unclosed`",
				"stages[2].expected: invalid pattern: error parsing regexp: missing closing ): `(a|b`",
				"stages[3].expected_stdout: invalid pattern: error parsing regexp: missing closing ): `(a|b`",
			},
		},
		{
			name: "scenarios",
			give: `version: 2
stages:
  - name: a
    command: [cat]
    scenarios:
      - {name: s, args: [x]}
      - {name: s}
      - {args: "x", visibility: secret}
  - {name: b, command: [cat], scenarios: []}`,
			want: []string{
				`stages[0].scenarios[1].name: duplicate name "s"`,
				"stages[0].scenarios[2].args: must be a list of strings",
				"stages[0].scenarios[2].name: required",
				`stages[0].scenarios[2].visibility: unknown visibility "secret" (want visible, hidden, after_due or after_stop)`,
				"stages[1].scenarios: at least one scenario is required when scenarios is set",
			},
		},
		{
			name: "stage settings",
			give: `version: 2
stages:
  - {name: a, command: [true], parallelism: 0, points: -1, visibility: never}`,
			want: []string{
				"stages[0].parallelism: must be between 1 and 16",
				"stages[0].points: must be a non-negative number",
				`stages[0].visibility: unknown visibility "never" (want visible, hidden, after_due or after_stop)`,
			},
		},
		{
			name: "rubric references",
			give: `version: 2
stages:
  - {name: build, command: [true]}
  - name: run
    command: [cat]
    scenarios: [{name: s1}, {name: s2}]
rubric:
  components:
    - {name: a, from: tests, max_score: 5}
    - {name: b, from: build, max_score: 5, scenarios: [s1]}
    - {name: c, from: run, max_score: 5, scenarios: [s1, s3, s1]}
    - {name: d, from: run, max_score: 5, scenarios: [s1], points_per_scenario: {s2: 1, s1: -1}}
    - {name: e, max_score: 5}
    - {name: f, from: run, max_score: 5, scenarios: all}
    - {name: g, from: run, max_score: 5, scenarios: []}`,
			want: []string{
				`rubric.components[0].from: unknown stage "tests"`,
				`rubric.components[1].scenarios: stage "build" has no scenarios`,
				`rubric.components[2].scenarios[1]: unknown scenario "s3" in stage "run"`,
				`rubric.components[2].scenarios[2]: duplicate scenario "s1"`,
				"rubric.components[3].points_per_scenario.s1: must be a non-negative number",
				`rubric.components[3].points_per_scenario.s2: scenario "s2" is not scored by this component`,
				"rubric.components[4].from: required",
				`rubric.components[5].scenarios: must be "*" or a list of scenario names`,
				`rubric.components[6].scenarios: at least one scenario is required (or "*")`,
			},
		},
		{
			name: "rubric numbers",
			give: `version: 2
stages: [{name: build, command: [true]}]
rubric:
  limit_errors: ignore
  components:
    - {name: a, from: build, max_score: 0}
    - {name: b, from: build, max_score: -3, points: -1, mode: best}
    - {name: a, from: build}
  total: {max_score: 0, normalize_to: -5, min: 10, max: 5}`,
			want: []string{
				`rubric.components[0].max_score: must be a positive number`,
				`rubric.components[1].max_score: must be a positive number`,
				`rubric.components[1].mode: unknown mode "best" (want sum or all_or_nothing)`,
				"rubric.components[1].points: must be a non-negative number",
				"rubric.components[2].max_score: required",
				`rubric.components[2].name: duplicate name "a"`,
				`rubric.limit_errors: unknown policy "ignore" (want ungraded or zero)`,
				"rubric.total.max_score: must be a positive number",
				"rubric.total.min: must not exceed max",
				"rubric.total.normalize_to: must be a positive number",
			},
		},
		{
			// Both cannot be laid out in one tree, nor stored in a
			// file-system bucket.
			name: "file in place of a directory",
			give: `version: 2
files:
  - {name: tests, content: "x"}
  - {name: tests/1.in, content: "1"}
  - {name: lib/a/b.h, content: "x"}
  - {name: lib/a, content: "x"}
stages: [{name: a, command: [true]}]`,
			want: []string{
				`files[0].name: "tests" is also the directory of "tests/1.in"`,
				`files[3].name: "lib/a" is also the directory of "lib/a/b.h"`,
			},
		},
		{
			name: "rubric without components",
			give: "version: 2\nstages: [{name: a, command: [true]}]\nrubric: {components: []}",
			want: []string{"rubric.components: at least one component is required"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, problemsOf(t, tt.give))
		})
	}
}

func TestValidationErrorLists(t *testing.T) {
	_, err := definition.Parse([]byte("version: 1\nstages:\n  - {name: a, command: []}\n  - {name: a, command: [x], timeout: x}\n"))

	var verr *definition.ValidationError
	require.True(t, errors.As(err, &verr))
	assert.Equal(t, strings.Join([]string{
		"stages[0].command: must not be empty",
		`stages[1].name: duplicate name "a"`,
		"stages[1].timeout: not a duration (for example 10s, 1m30s, or a number of seconds)",
	}, "\n"), err.Error())
	assert.Equal(t, definition.Problem{Path: "stages[0].command", Message: "must not be empty"}, verr.Problems[0])
}

func TestValidateJSONRoundTrip(t *testing.T) {
	for _, name := range []string{"v1_hello.yaml", "v2_full.yaml"} {
		t.Run(name, func(t *testing.T) {
			def := mustParse(t, string(readTestdata(t, name)))
			b, err := json.Marshal(def)
			require.NoError(t, err)

			var back definition.Definition
			require.NoError(t, json.Unmarshal(b, &back))

			require.NoError(t, back.Validate())
			assert.Equal(t, def, &back)
		})
	}
}

func TestValidateModel(t *testing.T) {
	def := mustParse(t, string(readTestdata(t, "v2_full.yaml")))
	def.Stages[1].Name = "build"
	def.Stages[1].Scenarios[0].Expected.Compare.Exact = true
	def.Stages[2].Timeout = 0
	def.Version = 7

	err := def.Validate()

	var verr *definition.ValidationError
	require.ErrorAs(t, err, &verr)
	assert.Equal(t, []definition.Problem{
		{Path: "version", Message: "unsupported version 7 (supported: 1, 2)"},
		{Path: "stages[1].depends_on[0]", Message: "a stage cannot depend on itself"},
		{Path: "stages[1].name", Message: `duplicate name "build"`},
		{Path: "stages[1].scenarios[0].compare.exact", Message: "cannot be combined with other compare options"},
		{Path: "stages[2].timeout", Message: "must be positive"},
		{Path: "rubric.components[0].from", Message: `unknown stage "tests"`},
	}, verr.Problems)
}

func TestOrder(t *testing.T) {
	def := mustParse(t, `version: 2
stages:
  - {name: report, command: [true], depends_on: [test, lint]}
  - {name: test, command: [true], depends_on: [build]}
  - {name: lint, command: [true], depends_on: []}
  - {name: build, command: [true], depends_on: []}
`)
	assert.Equal(t, []int{2, 3, 1, 0}, def.Order())
}
