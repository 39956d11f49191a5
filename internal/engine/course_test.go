package engine_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/engine"
	"github.com/zinc-edu/orchestrator/internal/grading"
)

// sumProgram adds two numbers and, like many student programs, returns a
// status that is not 0.
const sumProgram = `#include <stdio.h>
int main(void) { long a, b; if (scanf("%ld %ld", &a, &b) != 2) return 2; printf("sum = %ld\n", a + b); return 43; }
`

// batchChecker accepts an output holding the expected number, and gives
// half credit to a scenario named "half".
const batchChecker = `import json, sys
for line in sys.stdin:
    c = json.loads(line)
    ok = c["expected"].strip() in c["actual"]
    v = {"scenario": c["scenario"], "pass": ok, "message": "exit %d" % c["exit_code"]}
    if c["scenario"] == "half":
        v["score"] = 0.5
    print(json.dumps(v))
`

const courseFiles = `files:
  - {name: tests/1.in, content: "1 2\n"}
  - {name: tests/1.out, content: "3\n"}
  - {name: tests/2.in, content: "2 2\n"}
  - {name: tests/2.out, content: "4\n"}
  - {name: tests/10.in, content: "5 5\n"}
  - {name: tests/10.out, content: "11\n"}
`

func TestRunCourseAssignment(t *testing.T) {
	def := parse(t, "version: 2\n"+courseFiles+`stages:
  - {name: build, kind: compile, command: [gcc, main.c, -o, main], flags: [-lm]}
  - name: tests
    command: [./main]
    timeout: 5
    exit_status: ignore
    compare: {regex: "^sum = {expected}$"}
    scenarios_from: {glob: "tests/*.in", expected: "{dir}/{stem}.out", points: 1}
  - name: strict
    depends_on: [build]
    command: [./main]
    stdin: "1 1\n"
`)
	rep := run(t, def, engine.Input{ScratchDir: scratch(t, map[string]string{"main.c": sumProgram})})

	assert.Equal(t, []string{
		"build=success", "tests/1=success", "tests/2=success", "tests/10=failed", "strict=failed",
	}, statesOf(rep))
	assert.Equal(t, []string{"gcc", "main.c", "-o", "main", "-lm"}, step(t, rep, "build", "").Command, "the compile command is recorded")
	assert.Equal(t, "output does not match the pattern", step(t, rep, "tests", "10").Message)
	assert.Equal(t, "exit status 43", step(t, rep, "strict", "").Message, "must_be_zero stays the default")
	assert.Equal(t, grading.StatusGraded, rep.Status)
	assert.Equal(t, 2.0, rep.Score)
	assert.Equal(t, 3.0, rep.MaxScore)
}

func TestRunBatchChecker(t *testing.T) {
	def := parse(t, `version: 2
files:
  - {name: check.py, content: "`+escapeYAML(batchChecker)+`"}
stages:
  - {name: build, kind: compile, command: [gcc, main.c, -o, main]}
  - name: judge
    kind: checker
    command: [./main]
    exit_status: ignore
    checker: {command: [python3, check.py], files: [check.py], protocol: batch}
    scenarios:
      - {name: right, stdin: "1 2", expected: "3"}
      - {name: wrong, stdin: "1 2", expected: "4"}
      - {name: half, stdin: "2 2", expected: "4"}
      - {name: expected-exit, stdin: "2 2", expected: "4", exit_status: 0}
rubric:
  components: [{name: judge, from: judge, max_score: 3, points: 1}]
`)
	rep := run(t, def, engine.Input{ScratchDir: scratch(t, map[string]string{"main.c": sumProgram})})

	assert.Equal(t, []string{
		"build=success", "judge/right=success", "judge/wrong=failed", "judge/half=success", "judge/expected-exit=failed",
	}, statesOf(rep))
	assert.Equal(t, "exit 43", step(t, rep, "judge", "right").Message, "the checker sees the exit code")
	assert.Equal(t, "exit status 43", step(t, rep, "judge", "expected-exit").Message, "a run failing its exit rule is not sent to the checker")
	assert.Equal(t, 1.5, rep.Score)
}

// TestRunExitStatusIgnoreJudgesRunsEndedBySignals: under exit_status:
// ignore only the comparison or the checker judges a run, as the course's
// own harness does, so a program that prints the right answer and then
// crashes (a double free at exit) passes; the batch checker gets its run
// with exit_code null. Timeouts and limits still fail the run.
func TestRunExitStatusIgnoreJudgesRunsEndedBySignals(t *testing.T) {
	def := parse(t, `version: 2
stages:
  - name: compared
    command: [sh, -c, "read a b; echo $((a + b)); kill -SEGV $$"]
    exit_status: ignore
    scenarios:
      - {name: right, stdin: "1 2", expected: "3"}
      - {name: wrong, stdin: "1 2", expected: "4"}
      - {name: strict, stdin: "1 2", expected: "3", exit_status: must_be_zero}
  - name: judged
    kind: checker
    depends_on: []
    command: [sh, -c, "read a b; echo $((a + b)); kill -ABRT $$"]
    exit_status: ignore
    checker: {command: [python3, -c, "import json, sys\nfor l in sys.stdin:\n c = json.loads(l)\n print(json.dumps({'scenario': c['scenario'], 'pass': c['exit_code'] is None and c['actual'] == '3\\n', 'message': repr(c['exit_code'])}))"], protocol: batch}
    scenarios:
      - {name: right, stdin: "1 2"}
  - name: looping
    command: [sh, -c, "while :; do :; done"]
    depends_on: []
    exit_status: ignore
    timeout: 1s
    expected: ""
    compare: {exact: true}
`)
	rep := run(t, def, engine.Input{ScratchDir: t.TempDir()})

	assert.Equal(t, []string{
		"compared/right=success", "compared/wrong=failed", "compared/strict=failed", "judged/right=success", "looping=error",
	}, statesOf(rep))
	assert.Equal(t, "SIGSEGV", step(t, rep, "compared", "right").Signal)
	assert.Equal(t, "terminated by SIGSEGV", step(t, rep, "compared", "strict").Message)
	assert.Equal(t, "None", step(t, rep, "judged", "right").Message, "the checker sees exit_code null")
}

// TestRunBatchCheckerRejectionEarnsNothing: a verdict that fails a
// scenario earns no credit, whatever score it also carries.
func TestRunBatchCheckerRejectionEarnsNothing(t *testing.T) {
	def := parse(t, `version: 2
stages:
  - name: judge
    kind: checker
    command: [cat]
    checker: {command: [sh, -c, "read line; echo '{\"scenario\": \"a\", \"pass\": false, \"score\": 1}'"], protocol: batch}
    scenarios: [{name: a, stdin: x}]
rubric:
  components: [{name: judge, from: judge, max_score: 2}]
`)
	rep := run(t, def, engine.Input{ScratchDir: t.TempDir()})

	assert.Equal(t, []string{"judge/a=failed"}, statesOf(rep))
	assert.Equal(t, grading.StatusGraded, rep.Status)
	assert.Zero(t, rep.Score)
}

// TestRunBatchCheckerPassWithoutCreditAllOrNothing: a verdict that passes
// a scenario with score 0 earns nothing, in an all_or_nothing component too
// (the files protocol fails such a step outright).
func TestRunBatchCheckerPassWithoutCreditAllOrNothing(t *testing.T) {
	def := parse(t, `version: 2
stages:
  - name: judge
    kind: checker
    command: [cat]
    checker: {command: [sh, -c, "read line; echo '{\"scenario\": \"a\", \"pass\": true, \"score\": 0}'"], protocol: batch}
    scenarios: [{name: a, stdin: x}]
rubric:
  components: [{name: judge, from: judge, max_score: 2, mode: all_or_nothing}]
`)
	rep := run(t, def, engine.Input{ScratchDir: t.TempDir()})

	assert.Equal(t, grading.StatusGraded, rep.Status)
	assert.Zero(t, rep.Score)
}

func TestRunBatchCheckerMissingVerdict(t *testing.T) {
	def := parse(t, `version: 2
stages:
  - name: judge
    kind: checker
    command: [cat]
    checker: {command: [sh, -c, "read line; echo '{\"scenario\": \"a\", \"pass\": true}'"], protocol: batch}
    scenarios: [{name: a, stdin: x}, {name: b, stdin: y}]
rubric:
  components: [{name: judge, from: judge, max_score: 2}]
`)
	rep := run(t, def, engine.Input{ScratchDir: t.TempDir()})

	assert.Equal(t, []string{"judge/a=success", "judge/b=error"}, statesOf(rep))
	assert.Equal(t, "checker: no verdict for this scenario", step(t, rep, "judge", "b").Message)
	assert.Equal(t, grading.StatusUngraded, rep.Status, "a checker fault is not the student's")
}

// TestRunBatchCheckerVerdictForUnsentScenario: a verdict for a scenario
// the checker was not sent, unknown or one that failed its exit status
// rule, is an error of the checker, not a line to skip.
func TestRunBatchCheckerVerdictForUnsentScenario(t *testing.T) {
	for name, extra := range map[string]string{"unknown": "zzz", "not sent": "b"} {
		t.Run(name, func(t *testing.T) {
			def := parse(t, `version: 2
stages:
  - name: judge
    kind: checker
    command: [sh, -c, "cat; exit $0"]
    checker: {command: [sh, -c, "cat >/dev/null; echo '{\"scenario\": \"a\", \"pass\": true}'; echo '{\"scenario\": \"`+extra+`\", \"pass\": true}'"], protocol: batch}
    scenarios: [{name: a, stdin: x, args: ["0"]}, {name: b, stdin: y, args: ["1"]}]
rubric:
  components: [{name: judge, from: judge, max_score: 2}]
`)
			rep := run(t, def, engine.Input{ScratchDir: t.TempDir()})

			assert.Equal(t, []string{"judge/a=error", "judge/b=failed"}, statesOf(rep))
			assert.Equal(t, `checker: output line 2 is a verdict for scenario "`+extra+`", which was not sent to the checker`, step(t, rep, "judge", "a").Message)
			assert.Equal(t, grading.StatusUngraded, rep.Status)
		})
	}
}

// TestRunBatchCheckerStageWithoutScenarios: the one run of a stage
// without scenarios reaches the checker as scenario "", and the verdict
// that names it so judges it.
func TestRunBatchCheckerStageWithoutScenarios(t *testing.T) {
	def := parse(t, `version: 2
stages:
  - name: judge
    kind: checker
    command: [echo, "1"]
    expected: "1"
    checker: {command: [python3, -c, "`+escapeYAML(batchChecker)+`"], protocol: batch}
rubric:
  components: [{name: judge, from: judge, max_score: 1}]
`)
	rep := run(t, def, engine.Input{ScratchDir: t.TempDir()})

	assert.Equal(t, []string{"judge=success"}, statesOf(rep))
	assert.Equal(t, "exit 0", step(t, rep, "judge", "").Message)
	assert.Equal(t, grading.StatusGraded, rep.Status)
	assert.Equal(t, 1.0, rep.Score)
}

func TestRunTimeoutFailsScenarioByDefault(t *testing.T) {
	def := parse(t, `version: 2
stages:
  - name: run
    command: [sh, -c]
    timeout: 1.5
    scenarios:
      - {name: fast, args: ["echo ok"], expected: "ok"}
      - {name: spin, args: ["while :; do :; done"], expected: "ok"}
rubric:
  components: [{name: run, from: run, max_score: 2}]
`)
	rep := run(t, def, engine.Input{ScratchDir: t.TempDir()})

	require.True(t, step(t, rep, "run", "spin").TimedOut, "%+v", rep.Steps)
	assert.Equal(t, grading.StatusGraded, rep.Status)
	assert.Equal(t, 1.0, rep.Score, "%+v", rep.Steps)
}

// escapeYAML makes s a double-quoted YAML string's content.
func escapeYAML(s string) string {
	r := ""
	for _, c := range s {
		switch c {
		case '\n':
			r += `\n`
		case '"':
			r += `\"`
		case '\\':
			r += `\\`
		default:
			r += string(c)
		}
	}
	return r
}
