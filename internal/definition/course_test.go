package definition_test

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/definition"
	"github.com/zinc-edu/orchestrator/internal/grading"
)

// courseConfig is the dozen lines an instructor writes for an assignment
// whose tests come as files in an archive.
const courseConfig = `version: 2
files:
  - {name: tests.tar.gz, source: upload}
stages:
  - {name: build, kind: compile, command: [cc, main.c, -o, main, -lm]}
  - name: tests
    kind: diff
    command: [./main]
    timeout: 2
    exit_status: ignore
    compare: {regex: "^{expected}$"}
    scenarios_from: {glob: "tests/blackbox/*.in", expected: "{dir}/{stem}.out", points: 1}
`

func TestCompileCommandIsUsedAsWritten(t *testing.T) {
	def := mustParse(t, "version: 2\nstages:\n  - {name: build, kind: compile, command: [cc, x.c, -o, x], flags: [-lm]}\n")
	assert.Equal(t, []string{"cc", "x.c", "-o", "x", "-lm"}, def.Stages[0].Command)
	assert.Empty(t, def.Stages[0].Requires, "a command's program is checked when it runs")
}

func TestExitStatus(t *testing.T) {
	def := mustParse(t, `version: 2
stages:
  - name: run
    command: [./a]
    exit_status: ignore
    scenarios:
      - {name: inherits}
      - {name: zero, exit_status: must_be_zero}
      - {name: code, exit_status: 43}
      - {name: mapping, exit_status: {expected: 2}}
`)
	got := def.Stages[0].Scenarios
	assert.Equal(t, definition.ExitStatus{Ignore: true}, got[0].ExitStatus)
	assert.Equal(t, definition.ExitStatus{}, got[1].ExitStatus)
	assert.Equal(t, definition.ExitStatus{Code: 43}, got[2].ExitStatus)
	assert.Equal(t, definition.ExitStatus{Code: 2}, got[3].ExitStatus)
	assert.True(t, got[0].ExitStatus.Accepts(43))
	assert.False(t, got[1].ExitStatus.Accepts(43))
	assert.True(t, got[2].ExitStatus.Accepts(43))

	assert.Equal(t, []string{
		"stages[0].exit_status: must be must_be_zero, ignore, an integer, or {expected: N}",
		"stages[1].exit_status: must be between 0 and 255",
	}, problemsOf(t, "version: 2\nstages:\n  - {name: a, command: [x], exit_status: sometimes}\n  - {name: b, command: [x], exit_status: 300}\n"))
}

func TestDurationsAsSeconds(t *testing.T) {
	def := mustParse(t, "version: 2\ndefaults: {timeout: 3}\nstages:\n  - {name: a, command: [x], timeout: 1.5}\n  - {name: b, command: [x]}\n")
	assert.Equal(t, 1500*time.Millisecond, def.Stages[0].Timeout)
	assert.Equal(t, 3*time.Second, def.Stages[1].Timeout)
}

func TestAnchorsAndAliases(t *testing.T) {
	def := mustParse(t, `version: 2
stages:
  - &run {name: a, command: [./main], timeout: 2s}
  - {<<: *run, name: b, timeout: 5s}
`)
	require.Len(t, def.Stages, 2)
	assert.Equal(t, []string{"./main"}, def.Stages[1].Command)
	assert.Equal(t, 5*time.Second, def.Stages[1].Timeout, "keys written beside a merge win")
	assert.Equal(t, 2*time.Second, def.Stages[0].Timeout)
}

func TestAliasExpansionIsBounded(t *testing.T) {
	// Each level doubles the previous one: 2^30 nodes once expanded.
	var b strings.Builder
	b.WriteString("version: 2\nl0: &l0 [x, x]\n")
	for i := 1; i <= 30; i++ {
		b.WriteString("l" + itoa(i) + ": &l" + itoa(i) + " [*l" + itoa(i-1) + ", *l" + itoa(i-1) + "]\n")
	}
	b.WriteString("stages: []\n")
	_, err := definition.Parse([]byte(b.String()))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "too many YAML nodes")
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestMergeOfManyKeysIsLinear: merging a mapping of 24,000 keys, within
// the node budget, costs about as much as writing them out; scanning the
// pairs once per merged key took 10 to 30 times as long (5s, 48s under
// -race).
func TestMergeOfManyKeysIsLinear(t *testing.T) {
	var keys strings.Builder
	for i := range 24_000 {
		keys.WriteString("k" + itoa(i) + ": 1, ")
	}
	doc := func(y string) []byte {
		return []byte("version: 2\nx: &a {" + keys.String() + "}\ny: " + y + "\nstages: [{name: a, command: [x]}]\n")
	}
	elapsed := func(src []byte) time.Duration {
		start := time.Now()
		_, err := definition.Parse(src)
		require.ErrorContains(t, err, "x: unknown field")
		return time.Since(start)
	}
	written := elapsed(doc("{" + keys.String() + "}"))
	merged := elapsed(doc("{<<: *a}"))
	assert.Less(t, merged, 5*written, "written out in %s", written)
}

func TestLimitsFailAScenarioByDefault(t *testing.T) {
	def := mustParse(t, `version: 2
stages:
  - name: run
    command: [./a]
    scenarios: [{name: s1, expected: "1"}, {name: s2, expected: "2"}]
rubric:
  components: [{name: tests, from: run, max_score: 10}]
`)
	steps := []grading.Step{
		{Stage: "run", Scenario: "s1", State: grading.StepSuccess},
		{Stage: "run", Scenario: "s2", State: grading.StepError, TimedOut: true, Message: "timed out after 10s"},
	}
	got := definition.Score(def, steps)
	assert.Equal(t, grading.StatusGraded, got.Status)
	assert.Equal(t, 5.0, got.Score)
}

func TestCompareModes(t *testing.T) {
	tol := 0.01
	tests := []struct {
		name       string
		give       definition.Compare
		giveWant   string
		giveActual string
		wantOK     bool
	}{
		{"regex with expected", definition.Compare{Pattern: "^Result: {expected}$"}, "3.5 (a+b)\n", "x\nResult: 3.5 (a+b)\ny\n", true},
		{"regex escapes expected", definition.Compare{Pattern: "^{expected}$"}, "a.b\n", "axb\n", false},
		{"regex without expected", definition.Compare{Pattern: `\d+ primes`}, "", "found 25 primes\n", true},
		{"contains", definition.Compare{Contains: "{expected}"}, " 42 \n", "the answer is 42.\n", true},
		{"contains misses", definition.Compare{Contains: "{expected}"}, "42", "41\n", false},
		{"contains ignore case", definition.Compare{Contains: "DONE", IgnoreCase: true}, "", "done\n", true},
		{"tokens", definition.Compare{Tokens: true}, "1 2\n3\n", "1\n2 3", true},
		{"tokens differ", definition.Compare{Tokens: true}, "1 2 3", "1 2 4", false},
		{"tokens with tolerance", definition.Compare{Tokens: true, NumericTolerance: &tol}, "1.000 2", "1.004\n2", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, reason, err := tt.give.Match([]byte(tt.giveWant), []byte(tt.giveActual))
			require.NoError(t, err)
			assert.Equal(t, tt.wantOK, ok, reason)
		})
	}
}

func TestCompareParse(t *testing.T) {
	def := mustParse(t, `version: 2
stages:
  - name: run
    command: [./a]
    scenarios:
      - {name: a, expected: "1", compare: {regex: "^{expected}$"}}
      - {name: b, expected: "1", compare: {contains: true}}
      - {name: c, expected: "1", compare: {tokens: true, numeric_tolerance: 0.1}}
      - {name: d, compare: {regex: "ok"}}
      - {name: e, expected: "a.*", compare: {regex: true}}
`)
	sc := def.Stages[0].Scenarios
	assert.Equal(t, "^{expected}$", sc[0].Expected.Compare.Pattern)
	assert.Equal(t, "{expected}", sc[1].Expected.Compare.Contains)
	assert.True(t, sc[2].Expected.Compare.Tokens)
	require.NotNil(t, sc[3].Expected, "a rule without {expected} judges on its own")
	assert.Equal(t, "ok", sc[3].Expected.Compare.Pattern)
	assert.True(t, sc[4].Expected.Compare.Regex)

	assert.Equal(t, []string{
		"stages[0].scenarios[0].compare.contains: cannot be combined with regex",
		"stages[0].scenarios[1].compare.regex: invalid pattern: error parsing regexp: missing closing ): `(`",
	}, problemsOf(t, `version: 2
stages:
  - name: run
    command: [./a]
    scenarios:
      - {name: a, expected: "1", compare: {regex: "x", contains: "y"}}
      - {name: b, expected: "1", compare: {regex: "("}}
`))
}

// TestCompareParseBlankRule: a contains or regex rule that a blank
// expected output leaves empty would accept any output, and a pattern that
// no longer compiles once {expected} is replaced could judge nothing; both
// are refused where the expected output is written.
func TestCompareParseBlankRule(t *testing.T) {
	assert.Equal(t, []string{
		"stages[0].scenarios[0].expected: contains rule: the expected output is blank, so the rule would accept any output",
		"stages[0].scenarios[1].expected: contains rule: the expected output is blank, so the rule would accept any output",
		"stages[0].scenarios[2].expected: regex rule: the expected output is blank, so the rule would accept any output",
		"stages[0].scenarios[3].expected_file: contains rule: the expected output is blank, so the rule would accept any output",
		"stages[0].scenarios[4].expected: compile pattern: error parsing regexp: invalid repeat count: `{1,2000}`",
		"stages[1].expected_stdout: contains rule: the expected output is blank, so the rule would accept any output",
	}, problemsOf(t, `version: 2
files: [{name: blank.out, content: "\n"}]
stages:
  - name: run
    command: [./a]
    scenarios:
      - {name: a, expected: "", compare: {contains: true}}
      - {name: b, expected: " \n", compare: {contains: "{expected}{expected}"}}
      - {name: c, expected: "\n", compare: {regex: "{expected}"}}
      - {name: d, expected_file: blank.out, compare: {contains: true}}
      - {name: e, expected: "2000", compare: {regex: "a{1,{expected}}"}}
      - {name: ok, expected: "", compare: {contains: "Result: {expected}"}}
  - {name: v1, command: [./a], expected_stdout: "", compare: {contains: true}}
`))
}

func TestBatchChecker(t *testing.T) {
	def := mustParse(t, `version: 2
stages:
  - name: judge
    kind: checker
    command: [./a]
    checker: {command: [python3, check.py], protocol: batch}
    scenarios: [{name: s, stdin: x}]
`)
	assert.Equal(t, definition.ProtocolBatch, def.Stages[0].Checker.Protocol)
	assert.Equal(t, []string{`stages[0].checker.protocol: unknown protocol "socket" (want files or batch)`},
		problemsOf(t, "version: 2\nstages:\n  - {name: j, kind: checker, command: [x], checker: {command: [c], protocol: socket}}\n"))
}

func TestScenariosFromFiles(t *testing.T) {
	var files strings.Builder
	for _, n := range []string{"10", "2", "1"} {
		files.WriteString("  - {name: tests/blackbox/" + n + ".in, content: \"" + n + "\"}\n")
		files.WriteString("  - {name: tests/blackbox/" + n + ".out, content: \"" + n + "\"}\n")
	}
	def := mustParse(t, "version: 2\nfiles:\n"+files.String()+`stages:
  - name: tests
    command: [./main]
    timeout: 2
    compare: {tokens: true}
    scenarios_from: {glob: "tests/blackbox/*.in", expected: "{dir}/{stem}.out", points: 1}
`)
	s := def.Stages[0]
	var names []string
	for _, sc := range s.Scenarios {
		names = append(names, sc.Name)
	}
	assert.Equal(t, []string{"1", "2", "10"}, names, "natural order")
	assert.Equal(t, "tests/blackbox/10.in", s.Scenarios[2].StdinFile)
	assert.Equal(t, "tests/blackbox/10.out", s.Scenarios[2].Expected.File)
	assert.True(t, s.Scenarios[2].Expected.Compare.Tokens)
	assert.Equal(t, 2*time.Second, s.Scenarios[2].Timeout)
	assert.Equal(t, 3.0, def.MaxScore())
	assert.Nil(t, s.ScenariosFrom)

	assert.Equal(t, []string{"stages[0].scenarios_from.glob: matches no assignment file"},
		problemsOf(t, "version: 2\nstages:\n  - {name: t, command: [x], scenarios_from: {glob: \"*.in\"}}\n"))
}

// A generated scenario's name clash is reported at the glob that made it, a
// path in the author's file, not at a scenario index the file does not have.
func TestScenariosFromNameClashesAreReportedAtTheGlob(t *testing.T) {
	tests := []struct {
		name, files, scenarios, glob, want string
	}{
		{
			name:      "clash with a written scenario",
			files:     "  - {name: t/1.in, content: x}\n",
			scenarios: "    scenarios: [{name: \"1\", stdin: y}]\n",
			glob:      "t/*.in",
			want:      `stages[0].scenarios_from.glob: "t/1.in" gives the scenario name "1", which another scenario of the stage has`,
		},
		{
			name:  "two files with one stem",
			files: "  - {name: t/a/1.in, content: x}\n  - {name: t/b/1.in, content: y}\n",
			glob:  "t/*/*.in",
			want:  `stages[0].scenarios_from.glob: "t/b/1.in" gives the scenario name "1", which another scenario of the stage has`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "version: 2\nfiles:\n" + tt.files + "stages:\n  - name: s\n    command: [x]\n" + tt.scenarios +
				"    scenarios_from: {glob: \"" + tt.glob + "\"}\n"
			assert.Equal(t, []string{tt.want}, problemsOf(t, src))
		})
	}
}

func TestScenariosFromArchive(t *testing.T) {
	def, err := definition.Parse([]byte(courseConfig))
	require.NoError(t, err, "the archive's content is not known yet")
	assert.NotNil(t, def.Stages[1].ScenariosFrom)

	def, err = definition.ParseWithArchives([]byte(courseConfig), map[string][]string{
		"tests.tar.gz": {"tests/blackbox/2.in", "tests/blackbox/2.out", "tests/blackbox/10.in", "tests/blackbox/10.out"},
	})
	require.NoError(t, err)
	assert.Len(t, def.Files, 4)
	assert.True(t, def.Files[0].Upload)
	s := def.Stages[1]
	require.Len(t, s.Scenarios, 2)
	assert.Equal(t, "2", s.Scenarios[0].Name)
	assert.Equal(t, definition.ExitStatus{Ignore: true}, s.Scenarios[0].ExitStatus)
	assert.Equal(t, 2.0, def.MaxScore())

	// The worker reads the expanded form back from JSON.
	b, err := json.Marshal(def)
	require.NoError(t, err)
	var back definition.Definition
	require.NoError(t, json.Unmarshal(b, &back))
	require.NoError(t, back.Validate())
	assert.Equal(t, def, &back)
}

// TestScenariosFromArchiveHoldingAnArchive: an archive inside an assignment
// archive is kept as a file, as the archive rules say. It once counted as
// an archive whose content was still unknown, so scenarios_from stayed
// unexpanded, validation accepted that, and the stage ran once with
// nothing to compare, worth no points.
func TestScenariosFromArchiveHoldingAnArchive(t *testing.T) {
	def, err := definition.ParseWithArchives([]byte(courseConfig), map[string][]string{
		"tests.tar.gz": {"data/more.tar.gz", "tests/blackbox/2.in", "tests/blackbox/2.out"},
	})
	require.NoError(t, err)
	f, ok := def.File("data/more.tar.gz")
	require.True(t, ok)
	assert.False(t, f.IsArchive(), "a file unpacked from an archive is not unpacked again")
	s := def.Stages[1]
	assert.Nil(t, s.ScenariosFrom)
	require.Len(t, s.Scenarios, 1)
	assert.Equal(t, "tests/blackbox/2.out", s.Scenarios[0].Expected.File)
	assert.Equal(t, 1.0, def.MaxScore())

	// Read back from JSON, as the worker does, an unexpanded stage is
	// refused rather than graded as if it had no scenarios.
	b, err := json.Marshal(def)
	require.NoError(t, err)
	var back definition.Definition
	require.NoError(t, json.Unmarshal(b, &back))
	require.NoError(t, back.Validate())
	back.Stages[1].ScenariosFrom, back.Stages[1].Scenarios = &definition.ScenarioSource{Glob: "tests/blackbox/*.in"}, nil
	assert.ErrorContains(t, back.Validate(), "not expanded")
}

func TestNaturalCompare(t *testing.T) {
	names := []string{"t10.in", "t2.in", "t1.in", "t02.in", "a.in", "t1b.in"}
	slices.SortFunc(names, definition.NaturalCompare)
	assert.Equal(t, []string{"a.in", "t1.in", "t1b.in", "t2.in", "t02.in", "t10.in"}, names)
}

func TestShortDiff(t *testing.T) {
	tests := []struct {
		name string
		give definition.Compare
		want string
	}{
		{"lines", definition.Compare{IgnoreTrailingSpace: true}, `line 2: expected "2", got "3"`},
		{"tokens", definition.Compare{Tokens: true}, `token 2: expected "2", got "3"`},
		{"pattern", definition.Compare{Pattern: "x"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.give.ShortDiff([]byte("1\n2\n"), []byte("1\n3\n")))
		})
	}
	assert.Equal(t, `line 3: expected <none>, got "x"`, definition.Compare{}.ShortDiff([]byte("1\n2"), []byte("1\n2\nx")))
}

func TestInfrastructureErrorsAreErrors(t *testing.T) {
	def := mustParse(t, `version: 2
stages:
  - name: run
    command: [./a]
    scenarios: [{name: s1, expected: "1"}, {name: s2, expected: "2"}]
rubric:
  components: [{name: tests, from: run, max_score: 10}]
`)
	checker := []grading.Step{
		{Stage: "run", Scenario: "s1", State: grading.StepSuccess},
		{Stage: "run", Scenario: "s2", State: grading.StepError, Message: "checker: exited with status 2"},
	}
	assert.Equal(t, grading.StatusUngraded, definition.Score(def, checker).Status, "a checker fault leaves the delivery ungraded")

	sandbox := slices.Clone(checker)
	sandbox[1] = grading.Step{Stage: "run", Scenario: "s2", State: grading.StepError, Message: "run command: cgroup vanished", Infrastructure: true}
	got := definition.Score(def, sandbox)
	assert.Equal(t, grading.StatusError, got.Status)
	assert.Contains(t, got.Diagnostic, "cgroup vanished")
}
