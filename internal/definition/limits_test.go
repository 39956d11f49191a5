package definition_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/definition"
)

// stagesConfig is a version 2 definition of n one-line stages, each with
// scenarios scenarios, and files assignment files.
func stagesConfig(n, scenarios, files int) []byte {
	var b strings.Builder
	b.WriteString("version: 2\n")
	if files > 0 {
		b.WriteString("files:\n")
		for i := range files {
			fmt.Fprintf(&b, "  - {name: f%d, content: x}\n", i)
		}
	}
	b.WriteString("stages:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - name: s%d\n    command: [true]\n", i)
		if scenarios > 0 {
			b.WriteString("    scenarios:\n")
			for j := range scenarios {
				fmt.Fprintf(&b, "      - {name: c%d}\n", j)
			}
		}
	}
	return []byte(b.String())
}

func requireProblems(t *testing.T, err error, want ...definition.Problem) {
	t.Helper()
	var verr *definition.ValidationError
	require.True(t, errors.As(err, &verr), "want a *ValidationError, got %v", err)
	assert.Equal(t, want, verr.Problems)
}

func TestParseRefusesOversizedDefinitions(t *testing.T) {
	tests := []struct {
		name string
		give []byte
		want definition.Problem
	}{
		{"20000 stages", stagesConfig(20_000, 0, 0), definition.Problem{Path: "stages", Message: "20000 stages, more than 1000"}},
		{"too many stages", stagesConfig(definition.MaxStages+1, 0, 0), definition.Problem{Path: "stages", Message: "1001 stages, more than 1000"}},
		{"too many files", stagesConfig(1, 0, definition.MaxFiles+1), definition.Problem{Path: "files", Message: "5001 files, more than 5000"}},
		{"too many scenarios", stagesConfig(11, 1000, 0), definition.Problem{Path: "stages", Message: "11000 scenarios in all, more than 10000"}},
		{"too many bytes", append([]byte("version: 2\n# "), strings.Repeat("x", definition.MaxSourceBytes)...), definition.Problem{Message: fmt.Sprintf("the definition is %d bytes, more than %d", definition.MaxSourceBytes+13, definition.MaxSourceBytes)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := definition.Parse(tt.give)
			requireProblems(t, err, tt.want)
		})
	}
}

func TestParseAcceptsDefinitionsAtTheBounds(t *testing.T) {
	def, err := definition.Parse(stagesConfig(definition.MaxStages, 0, 0))
	require.NoError(t, err)
	assert.Len(t, def.Stages, definition.MaxStages)

	def, err = definition.Parse(stagesConfig(10, 1000, 0))
	require.NoError(t, err)
	assert.Len(t, def.Stages[9].Scenarios, 1000)
}

// TestValidateRefusesOversizedModels covers definitions that grow past the
// bounds after parsing, such as ones decoded from JSON.
func TestValidateRefusesOversizedModels(t *testing.T) {
	def := &definition.Definition{Version: 2, Defaults: definition.Defaults{Timeout: definition.DefaultTimeout}}
	for i := range definition.MaxStages + 1 {
		def.Stages = append(def.Stages, definition.Stage{Name: fmt.Sprintf("s%d", i), Kind: definition.KindCommand, Command: []string{"true"}})
	}
	requireProblems(t, def.Validate(), definition.Problem{Path: "stages", Message: "1001 stages, more than 1000"})
}

// TestParseRefusesHugePoints: points and scores that are finite one by one
// but whose sum, or its rounding to four decimals, is not would give a max
// score of +Inf, which no result can hold.
func TestParseRefusesHugePoints(t *testing.T) {
	tests := []struct {
		name string
		give string
		want []definition.Problem
	}{
		{"stage points", `version: 1
name: x
stages:
  - {name: a, command: [x], points: 1e308}
  - {name: b, command: [x], points: 1e305}
`, []definition.Problem{
			{Path: "stages[0].points", Message: "must be at most 1000000"},
			{Path: "stages[1].points", Message: "must be at most 1000000"},
		}},
		{"rubric", `version: 2
stages:
  - name: a
    command: [x]
    scenarios: [{name: s}]
rubric:
  components:
    - {name: c, from: a, max_score: 1e308, points: 2e6, points_per_scenario: {s: 1e300}}
  total: {max_score: 1e307, normalize_to: 1e308, min: 1e7, max: 1e308}
`, []definition.Problem{
			{Path: "rubric.components[0].max_score", Message: "must be at most 1000000"},
			{Path: "rubric.components[0].points", Message: "must be at most 1000000"},
			{Path: "rubric.components[0].points_per_scenario.s", Message: "must be at most 1000000"},
			{Path: "rubric.total.max", Message: "must be at most 1000000"},
			{Path: "rubric.total.max_score", Message: "must be at most 1000000"},
			{Path: "rubric.total.min", Message: "must be at most 1000000"},
			{Path: "rubric.total.normalize_to", Message: "must be at most 1000000"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := definition.Parse([]byte(tt.give))
			requireProblems(t, err, tt.want...)
		})
	}

	def, err := definition.Parse([]byte(fmt.Sprintf("version: 1\nname: x\nstages:\n  - {name: a, command: [x], points: %d}\n", definition.MaxPoints)))
	require.NoError(t, err)
	assert.Equal(t, float64(definition.MaxPoints), def.MaxScore())
}

// BenchmarkParse20000Stages measures how long refusing a 20,000-stage
// definition takes (BENCHMARKS.md).
func BenchmarkParse20000Stages(b *testing.B) {
	src := stagesConfig(20_000, 0, 0)
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		if _, err := definition.Parse(src); err == nil {
			b.Fatal("accepted")
		}
	}
}

// BenchmarkParse1000Stages measures parsing the largest definition
// accepted.
func BenchmarkParse1000Stages(b *testing.B) {
	src := stagesConfig(definition.MaxStages, 0, 0)
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		if _, err := definition.Parse(src); err != nil {
			b.Fatal(err)
		}
	}
}
