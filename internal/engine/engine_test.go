package engine_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/zinc-edu/orchestrator/internal/definition"
	"github.com/zinc-edu/orchestrator/internal/engine"
	"github.com/zinc-edu/orchestrator/internal/grading"
)

func TestMain(m *testing.M) {
	code := m.Run()
	// The shared runner's cells live until it is closed.
	if err := closeSharedRunner(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	if err := goleak.Find(); code == 0 && err != nil {
		fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
		code = 1
	}
	os.Exit(code)
}

func newEngine(t *testing.T) *engine.Engine {
	t.Helper()
	return engine.New(testSandbox(t), discardLogger())
}

func parseFile(t *testing.T, name string) *definition.Definition {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	def, err := definition.Parse(src)
	require.NoError(t, err)
	return def
}

func parse(t *testing.T, src string) *definition.Definition {
	t.Helper()
	def, err := definition.Parse([]byte(src))
	require.NoError(t, err)
	return def
}

// delivery copies a fixture delivery into a fresh scratch directory.
func delivery(t *testing.T, fixture string) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join("testdata", fixture)
	entries, err := os.ReadDir(src)
	require.NoError(t, err)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644))
	}
	return dir
}

// scratch makes a scratch directory holding files.
func scratch(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o755))
	}
	return dir
}

func run(t *testing.T, def *definition.Definition, in engine.Input) engine.Report {
	t.Helper()
	if in.PrivateDir == "" {
		in.PrivateDir = t.TempDir()
	}
	rep, err := newEngine(t).Run(context.Background(), def, in)
	require.NoError(t, err)
	return rep
}

// stateOf lists "stage/scenario=state" for every step, in order.
func statesOf(rep engine.Report) []string {
	var out []string
	for _, s := range rep.Steps {
		name := s.Stage
		if s.Scenario != "" {
			name += "/" + s.Scenario
		}
		out = append(out, name+"="+string(s.State))
	}
	return out
}

func step(t *testing.T, rep engine.Report, stage, scenario string) grading.Step {
	t.Helper()
	for _, s := range rep.Steps {
		if s.Stage == stage && s.Scenario == scenario {
			return s
		}
	}
	t.Fatalf("no step %s/%s", stage, scenario)
	return grading.Step{}
}

func TestRunHelloVersion1(t *testing.T) {
	v1 := parseFile(t, "hello_v1.yaml")
	v2 := parseFile(t, "hello_v2.yaml")
	tests := []struct {
		fixture    string
		wantScore  float64
		wantStates []string
	}{
		{
			fixture:    "correct",
			wantScore:  10.5,
			wantStates: []string{"compile=success", "greets=success", "exits-cleanly=success", "lint=success", "shouts=success"},
		},
		{
			fixture:    "wrong",
			wantScore:  2,
			wantStates: []string{"compile=success", "greets=failed", "exits-cleanly=success", "lint=success", "shouts=failed"},
		},
		{
			fixture:    "compile_error",
			wantScore:  0,
			wantStates: []string{"compile=failed", "greets=skipped", "exits-cleanly=skipped", "lint=skipped", "shouts=skipped"},
		},
		{
			fixture:    "crash",
			wantScore:  4.5,
			wantStates: []string{"compile=success", "greets=failed", "exits-cleanly=success", "lint=success", "shouts=success"},
		},
		{
			fixture:    "loop",
			wantScore:  2,
			wantStates: []string{"compile=success", "greets=error", "exits-cleanly=success", "lint=success", "shouts=error"},
		},
		{
			fixture:    "partial",
			wantScore:  8,
			wantStates: []string{"compile=success", "greets=success", "exits-cleanly=success", "lint=failed", "shouts=skipped"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			rep := run(t, v1, engine.Input{ScratchDir: delivery(t, filepath.Join("hello", tt.fixture))})
			assert.Equal(t, grading.StatusGraded, rep.Status, rep.Diagnostic)
			assert.Equal(t, tt.wantScore, rep.Score)
			assert.Equal(t, 10.5, rep.MaxScore)
			assert.Equal(t, tt.wantStates, statesOf(rep))

			again := run(t, v2, engine.Input{ScratchDir: delivery(t, filepath.Join("hello", tt.fixture))})
			assert.Equal(t, rep.Status, again.Status, "version 2 status")
			assert.Equal(t, rep.Score, again.Score, "version 2 score")
			assert.Equal(t, tt.wantStates, statesOf(again), "version 2 states")
		})
	}
}

func TestRunStepDetails(t *testing.T) {
	rep := run(t, parseFile(t, "hello_v1.yaml"), engine.Input{ScratchDir: delivery(t, "hello/crash")})

	greets := step(t, rep, "greets", "")
	assert.Equal(t, grading.StepFailed, greets.State)
	assert.Equal(t, "SIGSEGV", greets.Signal)
	assert.Nil(t, greets.ExitCode)
	assert.Equal(t, "terminated by SIGSEGV", greets.Message)
	assert.Equal(t, 0.0, greets.Points)
	assert.Equal(t, 6.0, greets.MaxPoints)

	shouts := step(t, rep, "shouts", "")
	require.NotNil(t, shouts.ExitCode)
	assert.Equal(t, 0, *shouts.ExitCode)
	assert.Equal(t, "HELLO, YOU!\n", shouts.Stdout)
	assert.Equal(t, 2.5, shouts.Points)
	assert.Equal(t, "visible", shouts.Visibility)

	var names []string
	for _, a := range rep.Artifacts {
		names = append(names, a.Stage)
	}
	assert.Equal(t, []string{"compile", "greets", "exits-cleanly", "lint", "shouts"}, names)
}

func TestRunTimeoutAndSkipped(t *testing.T) {
	rep := run(t, parseFile(t, "hello_v1.yaml"), engine.Input{ScratchDir: delivery(t, "hello/loop")})

	greets := step(t, rep, "greets", "")
	assert.Equal(t, grading.StepError, greets.State)
	assert.True(t, greets.TimedOut)
	assert.Equal(t, "timed out after 3s", greets.Message)

	rep = run(t, parseFile(t, "hello_v1.yaml"), engine.Input{ScratchDir: delivery(t, "hello/compile_error")})
	compile := step(t, rep, "compile", "")
	require.NotNil(t, compile.ExitCode)
	assert.Equal(t, 1, *compile.ExitCode)
	assert.Contains(t, compile.Stderr, "error")
	for _, name := range []string{"greets", "exits-cleanly", "lint", "shouts"} {
		s := step(t, rep, name, "")
		assert.Equal(t, grading.StepSkipped, s.State)
		assert.Nil(t, s.ExitCode, "skipped steps carry no exit code")
		assert.Empty(t, s.Stdout+s.Stderr, "skipped steps carry no output")
		assert.Equal(t, `skipped: dependency "compile" did not succeed`, s.Message)
	}
	require.Len(t, rep.Artifacts, 1, "only the compile ran")
}

func TestRunTimeoutMakesRubricUngraded(t *testing.T) {
	def := parse(t, `version: 2
stages:
  - name: spin
    command: [sh, -c, "while :; do :; done"]
    timeout: 200ms
  - name: after
    depends_on: []
    command: ["true"]
rubric:
  components:
    - {name: spin, from: spin, max_score: 5}
    - {name: after, from: after, max_score: 5}
  limit_errors: ungraded
`)
	rep := run(t, def, engine.Input{ScratchDir: t.TempDir()})

	assert.Equal(t, grading.StatusUngraded, rep.Status)
	assert.Equal(t, 0.0, rep.Score)
	assert.Equal(t, `component "spin": stage "spin" ended in an error: timed out after 200ms`, rep.Diagnostic)
	assert.Equal(t, []grading.Component{{Name: "after", Score: 5, MaxScore: 5}}, rep.Components)
	assert.True(t, step(t, rep, "spin", "").TimedOut)
}

func TestRunSumScenarios(t *testing.T) {
	def := parseFile(t, "sum.yaml")
	checker, err := os.ReadFile(filepath.Join("testdata", "checker.py"))
	require.NoError(t, err)
	tests := []struct {
		fixture    string
		wantScore  float64
		wantStates []string
	}{
		{
			fixture:   "correct",
			wantScore: 100,
			wantStates: []string{
				"build=success", "io/small=success", "io/negative=success", "io/float=success", "io/big=success",
				"judged/a=success", "judged/b=success",
			},
		},
		{
			// io: 0 of 8; judged: half of each of 2 scenarios worth 1.
			fixture:   "off_by_one",
			wantScore: 10,
			wantStates: []string{
				"build=success", "io/small=failed", "io/negative=failed", "io/float=failed", "io/big=failed",
				"judged/a=failed", "judged/b=failed",
			},
		},
		{
			// io: 6 of 8 (the float input crashes int()); judged 2 of 2.
			fixture:   "ints_only",
			wantScore: 80,
			wantStates: []string{
				"build=success", "io/small=success", "io/negative=success", "io/float=failed", "io/big=success",
				"judged/a=success", "judged/b=success",
			},
		},
		{
			fixture:   "syntax_error",
			wantScore: 0,
			wantStates: []string{
				"build=failed", "io/small=skipped", "io/negative=skipped", "io/float=skipped", "io/big=skipped",
				"judged/a=skipped", "judged/b=skipped",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			rep := run(t, def, engine.Input{
				ScratchDir: delivery(t, filepath.Join("sum", tt.fixture)),
				Assets:     map[string][]byte{"checker.py": checker},
			})
			assert.Equal(t, grading.StatusGraded, rep.Status, rep.Diagnostic)
			assert.Equal(t, tt.wantScore, rep.Score)
			assert.Equal(t, 100.0, rep.MaxScore)
			assert.Equal(t, tt.wantStates, statesOf(rep))
		})
	}
}

func TestRunCheckerFeedbackAndCredit(t *testing.T) {
	checker, err := os.ReadFile(filepath.Join("testdata", "checker.py"))
	require.NoError(t, err)
	rep := run(t, parseFile(t, "sum.yaml"), engine.Input{
		ScratchDir: delivery(t, "sum/off_by_one"),
		Assets:     map[string][]byte{"checker.py": checker},
	})

	a := step(t, rep, "judged", "a")
	assert.Equal(t, grading.StepFailed, a.State, "accepted in part: failed with partial credit")
	assert.Equal(t, "close, but not exact", a.Message)
	assert.Equal(t, 0.5, a.Points)
	assert.Equal(t, 1.0, a.MaxPoints)
	assert.Equal(t, []grading.Component{{Name: "io", Score: 0, MaxScore: 8}, {Name: "judged", Score: 1, MaxScore: 2}}, rep.Components)

	assert.Equal(t, "hidden", step(t, rep, "io", "big").Visibility)
	assert.Equal(t, "line 1 differs from the expected output", step(t, rep, "io", "small").Message)
}

func TestRunCheckerErrors(t *testing.T) {
	tests := []struct {
		name        string
		giveChecker string
		wantMessage string
	}{
		{"crashes", "exit 3", "checker exited with status 3: "},
		{"bad points", "echo 'points: lots' > $ZINC_VERDICT; exit 0", `checker: invalid points line "points: lots"`},
		{"missing program", "", `checker: program "./missing" not found`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			command := "[sh, check.sh]"
			if tt.giveChecker == "" {
				command = "[./missing]"
			}
			def := parse(t, `version: 2
files: [{name: check.sh, content: "`+tt.giveChecker+`"}]
stages:
  - name: judged
    kind: checker
    command: [cat]
    checker: {command: `+command+`, files: [check.sh]}
    scenarios: [{name: a, stdin: "x"}]
rubric:
  components: [{name: c, from: judged, max_score: 1}]
`)
			rep := run(t, def, engine.Input{ScratchDir: t.TempDir()})

			assert.Equal(t, grading.StatusUngraded, rep.Status)
			s := step(t, rep, "judged", "a")
			assert.Equal(t, grading.StepError, s.State)
			assert.Equal(t, tt.wantMessage, s.Message)
		})
	}
}

func TestRunKeepsAssignmentFilesAway(t *testing.T) {
	t.Setenv("ZINC_TEST_SECRET", "hunter2")
	checker, err := os.ReadFile(filepath.Join("testdata", "checker.py"))
	require.NoError(t, err)
	dir := delivery(t, "sum/peeks")

	// The default private directory, so the student's glob of
	// /tmp/zinc-checker-* would find a checker directory if one existed.
	rep, err := newEngine(t).Run(context.Background(), parseFile(t, "sum.yaml"), engine.Input{
		ScratchDir: dir,
		Assets:     map[string][]byte{"checker.py": checker},
	})
	require.NoError(t, err)

	for _, s := range rep.Steps {
		assert.NotContains(t, s.Stdout, "LEAK", "%s/%s", s.Stage, s.Scenario)
	}
	for _, a := range rep.Artifacts {
		assert.NotContains(t, string(a.Stdout), "LEAK", "%s/%s", a.Stage, a.Scenario)
	}
	assert.Equal(t, "0\n", step(t, rep, "io", "small").Stdout)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		assert.NotEqual(t, "tests", e.Name(), "no assignment file is left in the scratch directory")
	}
	leftovers, err := filepath.Glob(filepath.Join(os.TempDir(), "zinc-checker-*"))
	require.NoError(t, err)
	assert.Empty(t, leftovers, "checker directories are removed")
}

func TestRunStageFiles(t *testing.T) {
	def := parse(t, `version: 2
files:
  - {name: harness/run.sh, content: "echo harness", executable: true}
  - {name: provided.h, content: "#define N 3", visible_to_student: true}
  - {name: secret.txt, source: upload}
stages:
  - name: with-harness
    command: [sh, -c, "./harness/run.sh; cat provided.h; ls"]
    files: [harness/run.sh]
  - name: student
    command: [sh, -c, "ls; cat provided.h; echo tampered > provided.h"]
  - name: again
    command: [cat, provided.h]
`)
	dir := scratch(t, map[string]string{"main.c": "", "provided.h": "#define N 99"})
	rep := run(t, def, engine.Input{ScratchDir: dir, Assets: map[string][]byte{"secret.txt": []byte("s3cret")}})

	assert.Equal(t, "harness\n#define N 3harness\nmain.c\nprovided.h\n", step(t, rep, "with-harness", "").Stdout)
	assert.Equal(t, "main.c\nprovided.h\n#define N 3", step(t, rep, "student", "").Stdout,
		"the harness is gone, the provided header replaced the student's")
	assert.Equal(t, "#define N 3", step(t, rep, "again", "").Stdout, "visible files are restored before every stage")
}

func TestRunMissingAsset(t *testing.T) {
	def := parse(t, `version: 2
files: [{name: checker.py, source: upload}, {name: hidden.txt, source: upload}]
stages: [{name: a, command: ["true"]}]
`)
	_, err := newEngine(t).Run(context.Background(), def, engine.Input{
		ScratchDir: t.TempDir(),
		Assets:     map[string][]byte{"hidden.txt": nil},
	})

	require.ErrorIs(t, err, engine.ErrMissingAsset)
	assert.Equal(t, "missing assignment file: checker.py", err.Error())
}

func TestRunScrubsEnvironment(t *testing.T) {
	t.Setenv("ZINC_TEST_SECRET", "hunter2")
	def := parse(t, `version: 2
stages:
  - name: env
    command: [env]
    env: {MODE: stage, LEVEL: "1"}
    scenarios:
      - {name: a, env: {MODE: scenario}}
`)
	dir := t.TempDir()
	rep := run(t, def, engine.Input{ScratchDir: dir})

	got := strings.Split(strings.TrimSpace(step(t, rep, "env", "a").Stdout), "\n")
	assert.ElementsMatch(t, []string{
		"HOME=" + dir, "LANG=C.UTF-8", "LEVEL=1", "MODE=scenario", "PATH=/usr/local/bin:/usr/bin:/bin",
	}, got)
}

func TestRunCompareModes(t *testing.T) {
	def := parse(t, `version: 2
stages:
  - name: cmp
    kind: diff
    command: [cat]
    scenarios:
      - {name: trailing, stdin: "a  \r\nb\n\n", expected: "a\nb"}
      - {name: exact-fails, stdin: "a\n", expected: "a", compare: {exact: true}}
      - {name: exact, stdin: "a\n", expected: "a\n", compare: {exact: true}}
      - {name: spaces, stdin: "1  2 3\n", expected: "1 2 3\n", compare: {ignore_all_space: true}}
      - {name: blank, stdin: "a\n\n\nb\n", expected: "a\nb\n", compare: {ignore_blank_lines: true}}
      - {name: case, stdin: "YES\n", expected: "yes\n", compare: {ignore_case: true}}
      - {name: numeric, stdin: "3.1416\n", expected: "3.14159\n", compare: {numeric_tolerance: 0.001}}
      - {name: numeric-fails, stdin: "3.2\n", expected: "3.14159\n", compare: {numeric_tolerance: 0.001}}
      - {name: regex, stdin: "took 12 ms\n", expected: "took \\d+ ms", compare: {regex: true}}
`)
	rep := run(t, def, engine.Input{ScratchDir: t.TempDir()})

	assert.Equal(t, []string{
		"cmp/trailing=success", "cmp/exact-fails=failed", "cmp/exact=success", "cmp/spaces=success",
		"cmp/blank=success", "cmp/case=success", "cmp/numeric=success", "cmp/numeric-fails=failed", "cmp/regex=success",
	}, statesOf(rep))
	assert.Equal(t, "output differs from the expected output", step(t, rep, "cmp", "exact-fails").Message)
}

func TestRunValgrind(t *testing.T) {
	def := parse(t, `version: 2
stages:
  - {name: build, kind: compile, language: c, sources: [leak.c], output: leak}
  - {name: build-clean, kind: compile, language: c, sources: [clean.c], output: clean, depends_on: []}
  - {name: leaks, kind: valgrind, command: [./leak], depends_on: [build]}
  - {name: clean, kind: valgrind, command: [./clean], depends_on: [build-clean]}
  - name: no-valgrind
    kind: valgrind
    command: [./clean]
    depends_on: [build-clean]
    env: {PATH: /nonexistent}
`)
	dir := scratch(t, map[string]string{
		"leak.c": "#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n" +
			"__attribute__((noinline)) static void leak(void) { char *p = malloc(64); strcpy(p, \"leak\"); puts(p); }\n" +
			"int main(void) { leak(); return 0; }\n",
		"clean.c": "#include <stdlib.h>\nint main(void) { void *p = malloc(64); free(p); return 0; }\n",
	})
	rep := run(t, def, engine.Input{ScratchDir: dir})

	leaks := step(t, rep, "leaks", "")
	assert.Equal(t, grading.StepFailed, leaks.State)
	assert.Equal(t, "valgrind reported memory errors", leaks.Message)
	assert.Contains(t, leaks.Stderr, "definitely lost")
	assert.Equal(t, grading.StepSuccess, step(t, rep, "clean", "").State)
	missing := step(t, rep, "no-valgrind", "")
	assert.Equal(t, grading.StepError, missing.State)
	assert.Equal(t, "valgrind is not installed on this worker", missing.Message)
}

func TestRunMissingPrograms(t *testing.T) {
	def := parse(t, `version: 2
stages:
  - {name: student, command: [./a.out], depends_on: []}
  - {name: tool, command: [no-such-tool-zinc], depends_on: []}
  - {name: escape, command: [./link], depends_on: []}
`)
	dir := t.TempDir()
	require.NoError(t, os.Symlink("/bin/true", filepath.Join(dir, "link")))
	rep := run(t, def, engine.Input{ScratchDir: dir})

	assert.Equal(t, []string{"student=failed", "tool=error", "escape=failed"}, statesOf(rep))
	assert.Equal(t, `program "./a.out" not found`, step(t, rep, "student", "").Message)
	assert.Equal(t, `program "no-such-tool-zinc" is not installed on this worker`, step(t, rep, "tool", "").Message)
}

func TestRunWorkdir(t *testing.T) {
	def := parse(t, `version: 2
stages:
  - {name: here, command: [pwd], workdir: build/out}
  - {name: escape, command: [pwd], workdir: out, depends_on: []}
`)
	dir := t.TempDir()
	require.NoError(t, os.Symlink(t.TempDir(), filepath.Join(dir, "out")))
	rep := run(t, def, engine.Input{ScratchDir: dir})

	assert.Equal(t, filepath.Join(dir, "build", "out")+"\n", step(t, rep, "here", "").Stdout)
	escape := step(t, rep, "escape", "")
	assert.Equal(t, grading.StepFailed, escape.State, "a planted symbolic link fails the step, never errs")
	assert.Contains(t, escape.Message, "the submission is in the way: ")
}

func TestRunOutputsAreClipped(t *testing.T) {
	def := parse(t, `version: 2
stages:
  - {name: big, command: [sh, -c, "head -c 10000 /dev/zero | tr '\\0' x"]}
  - {name: binary, command: [printf, "\\377\\376ok"], depends_on: []}
`)
	var progress [][2]int
	rep := run(t, def, engine.Input{ScratchDir: t.TempDir(), Progress: func(done, total int) {
		progress = append(progress, [2]int{done, total})
	}})

	big := step(t, rep, "big", "")
	assert.Len(t, big.Stdout, engine.MaxStepOutput)
	assert.True(t, big.Truncated)
	assert.Len(t, rep.Artifacts[0].Stdout, 10000, "the artifact keeps everything")
	assert.Equal(t, "\uFFFDok", step(t, rep, "binary", "").Stdout)
	assert.Equal(t, [][2]int{{1, 2}, {2, 2}}, progress)
}

func TestRunInvalidDefinition(t *testing.T) {
	def := parse(t, "version: 2\nstages: [{name: a, command: [\"true\"]}]")
	def.Stages[0].Command = nil

	_, err := newEngine(t).Run(context.Background(), def, engine.Input{ScratchDir: t.TempDir()})

	var verr *definition.ValidationError
	require.ErrorAs(t, err, &verr)
	assert.Equal(t, "validate definition: stages[0].command: must not be empty", err.Error())
}

func TestRunScratchMissing(t *testing.T) {
	def := parse(t, "version: 2\nstages: [{name: a, command: [\"true\"]}]")

	_, err := newEngine(t).Run(context.Background(), def, engine.Input{ScratchDir: filepath.Join(t.TempDir(), "gone")})

	require.ErrorContains(t, err, "open scratch directory: ")
}

// A config whose archive was never unpacked still holds scenarios_from:
// the engine refuses it rather than run the stage once with nothing to
// judge.
func TestRunRefusesUnexpandedScenariosFrom(t *testing.T) {
	def := parse(t, `version: 2
files:
  - {name: tests.tar.gz, source: upload}
stages:
  - name: tests
    command: [./main]
    scenarios_from: {glob: "tests/*.in", expected: "{dir}/{stem}.out", points: 1}
`)
	require.NotNil(t, def.Stages[0].ScenariosFrom)
	_, err := newEngine(t).Run(t.Context(), def, engine.Input{
		ScratchDir: t.TempDir(), PrivateDir: t.TempDir(), Assets: map[string][]byte{"tests.tar.gz": []byte("not unpacked")},
	})
	require.ErrorContains(t, err, "stage tests: scenarios_from is not expanded")
}
