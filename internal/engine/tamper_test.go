package engine_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/engine"
	"github.com/zinc-edu/orchestrator/internal/grading"
)

// These tests are the attacks of issue 8, played by a hostile student. Each
// failed on the sandbox that copied assignment files into the student's tree
// and parsed credit from the checker's stdout.

// A stage's hidden files are read-only: the student cannot overwrite the
// expected output or shadow the instructor's harness.
func TestRunHiddenFilesCannotBeOverwritten(t *testing.T) {
	def := parse(t, `version: 2
files:
  - {name: harness/run.sh, content: "echo harness", executable: true}
  - {name: tests/expected.txt, content: "42"}
stages:
  - name: attack
    command: [sh, -c, "echo 'echo pwned' > harness/run.sh; echo 0 > tests/expected.txt; rm -rf harness tests; ./harness/run.sh; cat tests/expected.txt"]
    files: [harness/run.sh, tests/expected.txt]
`)
	dir := t.TempDir()
	rep := run(t, def, engine.Input{ScratchDir: dir})
	assert.Equal(t, "harness\n42", step(t, rep, "attack", "").Stdout)
	assert.NoDirExists(t, filepath.Join(dir, "harness"))
	assert.NoDirExists(t, filepath.Join(dir, "tests"))
}

// Nothing a hidden scenario saw or wrote reaches a later visible stage.
func TestRunHiddenScenariosLeaveNothingBehind(t *testing.T) {
	def := parse(t, `version: 2
files: [{name: secret.txt, content: "SECRET-FILE"}]
stages:
  - name: hidden
    command: [sh, -c, "cat > stolen-stdin; cp secret.txt stolen-file; echo ok"]
    files: [secret.txt]
    scenarios:
      - {name: h, stdin: "SECRET-STDIN", visibility: hidden}
  - name: visible
    command: [sh, -c, "cat stolen-stdin stolen-file secret.txt 2>/dev/null; ls"]
    depends_on: [hidden]
`)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.c"), nil, 0o644))
	rep := run(t, def, engine.Input{ScratchDir: dir})
	assert.Equal(t, "ok\n", step(t, rep, "hidden", "h").Stdout)
	assert.Equal(t, "main.c\n", step(t, rep, "visible", "").Stdout)
}

// Printing "points: 1" earns nothing, even through a checker that quotes
// the student's output; a checker's exit 1 gives no credit at all.
func TestRunStudentCannotInjectCredit(t *testing.T) {
	def := parse(t, `version: 2
files: [{name: check.sh, content: "cat \"$3\"; echo 'points: 1' > $ZINC_VERDICT; exit 1"}]
stages:
  - name: judged
    kind: checker
    command: [sh, -c, "echo 'points: 1'"]
    checker: {command: [sh, check.sh], files: [check.sh]}
    scenarios: [{name: a}]
rubric:
  components: [{name: c, from: judged, max_score: 10}]
`)
	rep := run(t, def, engine.Input{ScratchDir: t.TempDir()})
	s := step(t, rep, "judged", "a")
	assert.Equal(t, grading.StepFailed, s.State)
	assert.Equal(t, 0.0, rep.Score)

	// An accepting checker that quotes the student's "points: 1" and
	// gives no credit in its verdict: the quote earns nothing.
	def = parse(t, `version: 2
files: [{name: check.sh, content: "cat \"$3\"; echo 'points: 0' > $ZINC_VERDICT; exit 0"}]
stages:
  - name: judged
    kind: checker
    command: [sh, -c, "echo 'points: 1'"]
    checker: {command: [sh, check.sh], files: [check.sh]}
    scenarios: [{name: a}]
rubric:
  components: [{name: c, from: judged, max_score: 10}]
`)
	rep = run(t, def, engine.Input{ScratchDir: t.TempDir()})
	assert.Equal(t, 0.0, rep.Score)
}

// Symbolic links and fifos planted where the engine puts files fail the
// step; they never make the delivery ungraded.
func TestRunPlantedObstaclesFailTheStep(t *testing.T) {
	def := parse(t, `version: 2
files:
  - {name: include/provided.h, content: "#define N 3", visible_to_student: true}
  - {name: tests/expected.txt, content: "42"}
stages:
  - name: judged
    command: [cat, tests/expected.txt]
    files: [tests/expected.txt]
rubric:
  components: [{name: c, from: judged, max_score: 1}]
`)
	tests := []struct {
		name  string
		plant func(dir string) error
	}{
		{"symlink over a visible file's directory", func(dir string) error { return os.Symlink("/etc", filepath.Join(dir, "include")) }},
		{"symlink at a hidden file", func(dir string) error {
			if err := os.Mkdir(filepath.Join(dir, "tests"), 0o755); err != nil {
				return err
			}
			return os.Symlink("/etc/passwd", filepath.Join(dir, "tests/expected.txt"))
		}},
		{"fifo at a hidden file", func(dir string) error {
			if err := os.Mkdir(filepath.Join(dir, "tests"), 0o755); err != nil {
				return err
			}
			return syscall.Mkfifo(filepath.Join(dir, "tests/expected.txt"), 0o644)
		}},
		{"file where a hidden file's directory goes", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "tests"), nil, 0o644)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, tt.plant(dir))
			rep := run(t, def, engine.Input{ScratchDir: dir})
			assert.Equal(t, grading.StatusGraded, rep.Status, rep.Diagnostic)
			assert.Equal(t, grading.StepFailed, step(t, rep, "judged", "").State, step(t, rep, "judged", "").Message)
		})
	}
}

// A single-run stage whose results students only see after the due date is
// no more visible at grading time than a hidden one: what its command saw
// (its stdin, the stage's read-only files) must not reach a later visible
// stage, which prints it to the student before the due date.
func TestAfterDueStageLeavesNothingBehind(t *testing.T) {
	for _, vis := range []string{"after_due", "after_stop", "hidden"} {
		t.Run(vis, func(t *testing.T) {
			def := parse(t, `version: 2
files: [{name: secret.txt, content: "SECRET-FILE"}]
stages:
  - name: secret
    command: [sh, -c, "cat > stolen-stdin; cp secret.txt stolen-file; echo ok"]
    files: [secret.txt]
    stdin: "SECRET-STDIN"
    visibility: `+vis+`
  - name: visible
    command: [sh, -c, "cat stolen-stdin stolen-file 2>/dev/null; echo done"]
    depends_on: [secret]
`)
			rep := run(t, def, engine.Input{ScratchDir: t.TempDir()})
			assert.Equal(t, "ok\n", step(t, rep, "secret", "").Stdout)
			out := step(t, rep, "visible", "").Stdout
			assert.NotContains(t, out, "SECRET", "a stage withheld from students leaked into a visible one")
			assert.Equal(t, "done\n", out)
		})
	}
}

// A checker that quotes the student's output (diff, "your output was ...",
// or a batch checker logging what it reads to stderr) writes more than the
// student did. A student whose output is just under the output cap makes
// the checker's output go past it; the engine keeps only the first KiB of
// feedback anyway, and a batch checker's verdicts on stdout are whole, so
// that must not turn a rejected scenario into a checker error and the
// delivery into "ungraded".
func TestLongOutputThroughAQuotingCheckerStillFails(t *testing.T) {
	for protocol, script := range map[string]string{
		"files": `diff \"$2\" \"$3\"`,
		"batch": `cat >&2; echo '{\"scenario\": \"a\", \"pass\": false}'`,
	} {
		t.Run(protocol, func(t *testing.T) {
			def := parse(t, `version: 2
files: [{name: check.sh, content: "`+script+`"}]
defaults: {output_limit_bytes: 1000}
stages:
  - name: judged
    kind: checker
    command: [sh, -c, "echo `+strings.Repeat("x", 990)+`"]
    checker: {command: [sh, check.sh], files: [check.sh], protocol: `+protocol+`}
    scenarios: [{name: a, expected: "42\n"}]
rubric:
  components: [{name: c, from: judged, max_score: 10}]
`)
			rep := run(t, def, engine.Input{ScratchDir: t.TempDir()})
			s := step(t, rep, "judged", "a")
			assert.Equal(t, grading.StatusGraded, rep.Status, rep.Diagnostic)
			assert.Equal(t, grading.StepFailed, s.State, s.Message)
			assert.Equal(t, 0.0, rep.Score)
		})
	}
}

// A batch checker's verdicts commonly quote what each run printed ("got
// 4, expected 3"). Its stdout then holds every run's output, so a student
// printing just under the output cap in each scenario pushed it past the
// cap of one run: the checker's verdicts were clipped, every run of the
// stage ended in a checker error and the delivery in "ungraded". Its
// stdout is capped per run it judges, as its timeout is.
func TestQuotingBatchCheckerOverManyRunsStillFails(t *testing.T) {
	const runs = 8
	var scenarios strings.Builder
	for i := range runs {
		fmt.Fprintf(&scenarios, "      - {name: s%d, stdin: x, expected: \"42\\n\"}\n", i)
	}
	def := parse(t, `version: 2
defaults: {output_limit_bytes: 1000}
stages:
  - name: judged
    kind: checker
    command: [sh, -c, "echo `+strings.Repeat("x", 900)+`"]
    checker:
      command: [python3, -c, "import json, sys\nfor l in sys.stdin:\n c = json.loads(l)\n print(json.dumps({'scenario': c['scenario'], 'pass': c['actual'] == c['expected'], 'message': 'got ' + c['actual']}))"]
      protocol: batch
    scenarios:
`+scenarios.String()+`rubric:
  components: [{name: c, from: judged, max_score: 10}]
`)
	rep := run(t, def, engine.Input{ScratchDir: t.TempDir()})
	assert.Equal(t, grading.StatusGraded, rep.Status, rep.Diagnostic)
	for i := range runs {
		s := step(t, rep, "judged", fmt.Sprintf("s%d", i))
		assert.Equal(t, grading.StepFailed, s.State, s.Message)
	}
	assert.Equal(t, 0.0, rep.Score)
}

// A student's build (a Makefile, the program itself) may leave the
// directory a later stage works in without search permission: the sandbox
// cannot enter it, and the step ended in an infrastructure error, making the
// delivery "error" as if the worker had failed. It is the student's
// obstacle: the step fails.
func TestUnenterableWorkdirFailsTheStep(t *testing.T) {
	def := parse(t, `version: 2
stages:
  - {name: build, command: [sh, -c, "mkdir -p src && chmod 0 src"]}
  - {name: tests, command: [pwd], workdir: src}
rubric:
  components: [{name: c, from: tests, max_score: 1}]
`)
	rep := run(t, def, engine.Input{ScratchDir: t.TempDir()})
	s := step(t, rep, "tests", "")
	assert.Equal(t, grading.StatusGraded, rep.Status, rep.Diagnostic)
	assert.Equal(t, grading.StepFailed, s.State, s.Message)
	assert.False(t, s.Infrastructure)
}

// A stage whose command is one of its hidden files (an instructor's
// harness) found it missing: hidden files exist only as mounts inside the
// container, so every honest delivery failed with "program not found",
// while one that planted any file at that path passed the check and ran the
// real harness.
func TestHiddenHarnessAsCommandRunsForEveryone(t *testing.T) {
	def := parse(t, `version: 2
files: [{name: harness/run.sh, content: "echo harness", executable: true}]
stages:
  - {name: judged, command: [./harness/run.sh], files: [harness/run.sh], expected_stdout: "harness\n"}
`)
	for name, files := range map[string]map[string]string{
		"honest":  {"main.c": ""},
		"planted": {"harness/run.sh": "echo pwned"},
	} {
		t.Run(name, func(t *testing.T) {
			rep := run(t, def, engine.Input{ScratchDir: scratch(t, files)})
			s := step(t, rep, "judged", "")
			assert.Equal(t, grading.StepSuccess, s.State, s.Message)
			assert.Equal(t, "harness\n", s.Stdout)
		})
	}
}

// A batch checker judges every run of its stage in one process, hidden runs
// and visible ones together. When it fails, the first line of its stderr
// went into the message of every run it judged, the visible ones included,
// and students see a visible run's message. A checker that quotes a run's
// output when it cannot parse it (testlib's "wrong output format ... found")
// then showed the student, on a visible scenario, what their program
// printed on a hidden one: its hidden input.
func TestBatchCheckerFailureKeepsHiddenRunsAway(t *testing.T) {
	def := parse(t, `version: 2
files:
  - name: check.sh
    content: |
      sed -n 's/.*"actual":"\([^"]*\)".*/\1/p' | while read -r a; do
        case "$a" in *[!0-9]*) echo "wrong output format: expected an integer, found $a" >&2; exit 2;; esac
      done
stages:
  - name: judge
    kind: checker
    command: [cat]
    checker: {command: [sh, check.sh], files: [check.sh], protocol: batch}
    scenarios:
      - {name: public, stdin: "1", expected: "1"}
      - {name: later, stdin: "2", expected: "2", visibility: after_due}
      - {name: secret, stdin: "SECRET-INPUT", expected: "42", visibility: hidden}
`)
	rep := run(t, def, engine.Input{ScratchDir: t.TempDir()})
	for _, sc := range []string{"public", "later"} {
		s := step(t, rep, "judge", sc)
		assert.Equal(t, grading.StepError, s.State, "the checker failed on the whole stage")
		assert.NotContains(t, s.Message, "SECRET", "a run more visible than the hidden one quotes it")
		assert.NotEmpty(t, s.Message, "the student still learns that the checker failed")
	}
	hidden := step(t, rep, "judge", "secret")
	assert.Equal(t, grading.StepError, hidden.State)
	assert.Contains(t, hidden.Message, "found SECRET-INPUT", "staff keep the checker's words on the hidden run")
}
