package demo_test

import (
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"gopkg.in/yaml.v3"

	"github.com/zinc-edu/orchestrator/internal/ci"
	"github.com/zinc-edu/orchestrator/internal/demo"
	"github.com/zinc-edu/orchestrator/internal/sandbox"
)

// pipeline is the version-1 definition, as the foundation issue describes it.
type pipeline struct {
	Version int     `yaml:"version"`
	Name    string  `yaml:"name"`
	Stages  []stage `yaml:"stages"`
}

type stage struct {
	Name           string   `yaml:"name"`
	Command        []string `yaml:"command"`
	Stdin          *string  `yaml:"stdin"`
	ExpectedStdout *string  `yaml:"expected_stdout"`
	Timeout        string   `yaml:"timeout"`
	Points         float64  `yaml:"points"`
}

func parse(t *testing.T, config string) pipeline {
	t.Helper()
	var p pipeline
	dec := yaml.NewDecoder(strings.NewReader(config))
	dec.KnownFields(true)
	require.NoError(t, dec.Decode(&p))
	return p
}

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestAssignmentShape(t *testing.T) {
	config, deliveries := demo.Assignment()
	p := parse(t, config)
	assert.Equal(t, 1, p.Version)
	assert.NotEmpty(t, p.Name)
	require.NotEmpty(t, p.Stages)
	assert.Equal(t, "compile", p.Stages[0].Name)
	assert.Zero(t, p.Stages[0].Points, "a failed compile must skip the later stages")
	names := map[string]bool{}
	var max float64
	for _, s := range p.Stages {
		assert.False(t, names[s.Name], "duplicate stage %s", s.Name)
		names[s.Name] = true
		assert.NotEmpty(t, s.Command, s.Name)
		_, err := time.ParseDuration(s.Timeout)
		assert.NoError(t, err, s.Name)
		max += s.Points
	}
	assert.Equal(t, 10.0, max)

	require.GreaterOrEqual(t, len(deliveries), 8)
	users := map[string]bool{}
	for i, d := range deliveries {
		assert.False(t, users[d.User], "duplicate user %s", d.User)
		users[d.User] = true
		if i > 0 {
			assert.Less(t, deliveries[i-1].User, d.User, "deliveries are ordered by user")
		}
		assert.NotEmpty(t, d.Files["main.c"], d.User)
		assert.GreaterOrEqual(t, d.WantScore, 0.0)
		assert.LessOrEqual(t, d.WantScore, max)
	}
}

func TestAssignmentReturnsCopies(t *testing.T) {
	_, first := demo.Assignment()
	first[0].Files["main.c"][0] = 'X'
	first[0].WantScore = -1
	_, second := demo.Assignment()
	assert.NotEqual(t, byte('X'), second[0].Files["main.c"][0])
	assert.NotEqual(t, -1.0, second[0].WantScore)
}

// outcome is what the hand-written grader below decided for one stage.
type outcome string

const (
	passed  outcome = "pass"
	failed  outcome = "fail"
	skipped outcome = "skip"
)

// TestDeliveriesGradeToTheirScores follows the version-1 semantics by hand:
// stages run in order in one scratch directory, each in the sandbox; a stage
// passes when it exits 0 within its timeout and its stdout matches after
// normalising CRLF and trailing whitespace; once a stage worth 0 points
// fails, the rest are skipped; the score is the sum of the passed stages'
// points.
func TestDeliveriesGradeToTheirScores(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		ci.SkipUnlessCI(t, "gcc is not installed")
	}
	runner, err := sandbox.New(sandbox.Config{}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(func() { _ = runner.Close() })
	config, deliveries := demo.Assignment()
	p := parse(t, config)

	// Beyond the score, what each stage (compile, small, negative, empty,
	// large) must do, and why.
	wantStages := map[string][]outcome{
		"alice": {passed, passed, passed, passed, passed},
		"bob":   {passed, failed, failed, failed, failed},
		"carol": {failed, skipped, skipped, skipped, skipped},
		"dave":  {passed, failed, failed, failed, failed},
		"erin":  {passed, failed, failed, failed, failed},
		"frank": {passed, passed, passed, passed, failed},
		"grace": {passed, passed, failed, passed, passed},
		"heidi": {passed, passed, passed, passed, passed},
		"ivan":  {passed, failed, failed, failed, failed},
	}
	wantSignal := map[string]string{"dave": "SIGSEGV"}
	wantTimeout := map[string]bool{"erin": true}

	for _, d := range deliveries {
		t.Run(d.User, func(t *testing.T) {
			dir, err := os.MkdirTemp("", "demo-"+d.User+"-")
			require.NoError(t, err)
			t.Cleanup(func() { _ = os.RemoveAll(dir) })
			for name, data := range d.Files {
				require.NoError(t, os.WriteFile(filepath.Join(dir, name), data, 0o644))
			}

			var score float64
			var got []outcome
			gateFailed := false
			for _, s := range p.Stages {
				if gateFailed {
					got = append(got, skipped)
					continue
				}
				res := runStage(t, runner, dir, s)
				ok := res.ExitCode == 0 && !res.TimedOut &&
					(s.ExpectedStdout == nil || normalize(string(res.Stdout)) == normalize(*s.ExpectedStdout))
				if !ok {
					got = append(got, failed)
					gateFailed = s.Points == 0
					if s.Name == "compile" {
						assert.Contains(t, string(res.Stderr), "error:", "the compiler, not the sandbox, failed")
					} else {
						if sig := wantSignal[d.User]; sig != "" {
							assert.Equal(t, sig, res.Signal, s.Name)
						}
						assert.Equal(t, wantTimeout[d.User], res.TimedOut, s.Name)
					}
					continue
				}
				got = append(got, passed)
				score += s.Points
			}
			assert.Equal(t, wantStages[d.User], got)
			assert.Equal(t, d.WantScore, score)
		})
	}
}

func runStage(t *testing.T, runner *sandbox.Runner, dir string, s stage) sandbox.Result {
	t.Helper()
	timeout, err := time.ParseDuration(s.Timeout)
	require.NoError(t, err)
	spec := sandbox.Spec{
		Argv:    s.Command,
		Dir:     dir,
		Env:     []string{"PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C"},
		Timeout: timeout,
	}
	if s.Stdin != nil {
		spec.Stdin = []byte(*s.Stdin)
	}
	res, err := runner.Run(t.Context(), spec)
	require.NoError(t, err)
	return res
}

// normalize makes line ends LF, drops trailing whitespace on every line and
// trailing empty lines.
func normalize(s string) string {
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t\r")
	}
	return strings.TrimRight(strings.Join(lines, "\n"), "\n")
}
