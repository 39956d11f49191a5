package engine_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/zinc-edu/orchestrator/internal/engine"
	"github.com/zinc-edu/orchestrator/internal/grading"
)

// Attacks of a hostile student on the engine's grading integrity.

// A single-run stage whose results students only see after the due date is
// no more visible at grading time than a hidden one: what its command saw
// (its stdin, the stage's read-only files) must not reach a later visible
// stage, which prints it to the student before the due date.
func TestRedteamAfterDueStageLeavesNothingBehind(t *testing.T) {
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

// A checker that quotes the student's output in its feedback (diff, or
// "your output was ...") writes more than the student did. A student whose
// output is just under the output cap makes the checker's output go past
// it; the engine keeps only the first KiB of feedback anyway, so that must
// not turn a rejected scenario into a checker error and the delivery into
// "ungraded".
func TestRedteamLongOutputThroughQuotingCheckerStillFails(t *testing.T) {
	junk := strings.Repeat("x", 990)
	def := parse(t, `version: 2
files: [{name: check.sh, content: "diff \"$2\" \"$3\""}]
defaults: {output_limit_bytes: 1000}
stages:
  - name: judged
    kind: checker
    command: [sh, -c, "echo `+junk+`"]
    checker: {command: [sh, check.sh], files: [check.sh]}
    scenarios: [{name: a, expected: "42\n"}]
rubric:
  components: [{name: c, from: judged, max_score: 10}]
`)
	rep := run(t, def, engine.Input{ScratchDir: t.TempDir()})
	s := step(t, rep, "judged", "a")
	assert.Equal(t, grading.StatusGraded, rep.Status, rep.Diagnostic)
	assert.Equal(t, grading.StepFailed, s.State, s.Message)
	assert.Equal(t, 0.0, rep.Score)
}

// The same through a batch checker that logs what it reads to stderr: its
// verdicts on stdout are whole, so a clipped stderr judges nothing.
func TestRedteamLongOutputThroughLoggingBatchCheckerStillFails(t *testing.T) {
	junk := strings.Repeat("x", 990)
	def := parse(t, `version: 2
files: [{name: check.sh, content: "cat >&2; echo '{\"scenario\": \"a\", \"pass\": false}'"}]
defaults: {output_limit_bytes: 1000}
stages:
  - name: judged
    kind: checker
    command: [sh, -c, "echo `+junk+`"]
    checker: {command: [sh, check.sh], files: [check.sh], protocol: batch}
    scenarios: [{name: a, expected: "42\n"}]
rubric:
  components: [{name: c, from: judged, max_score: 10}]
`)
	rep := run(t, def, engine.Input{ScratchDir: t.TempDir()})
	s := step(t, rep, "judged", "a")
	assert.Equal(t, grading.StatusGraded, rep.Status, rep.Diagnostic)
	assert.Equal(t, grading.StepFailed, s.State, s.Message)
	assert.Equal(t, 0.0, rep.Score)
}

// A student's build (a Makefile, the program itself) may leave the
// directory a later stage works in without search permission: the sandbox
// cannot enter it, and the step ended in an infrastructure error, making the
// delivery "error" as if the worker had failed. It is the student's
// obstacle: the step fails.
func TestRedteamUnenterableWorkdirFailsTheStep(t *testing.T) {
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
func TestRedteamHiddenHarnessAsCommandRunsForEveryone(t *testing.T) {
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
