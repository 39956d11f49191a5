package definition_test

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/definition"
)

func TestCompareMatch(t *testing.T) {
	tol := 0.01
	zero := 0.0
	v1 := definition.Compare{IgnoreTrailingSpace: true}
	tests := []struct {
		name         string
		giveCompare  definition.Compare
		giveExpected string
		giveActual   string
		wantOK       bool
		wantReason   string
	}{
		{"v1 equal", v1, "Hello\n", "Hello\n", true, ""},
		{"v1 crlf and trailing blanks", v1, "a\nb\n", "a  \r\nb\t\r\n\r\n\n", true, ""},
		{"v1 missing final newline", v1, "a\n", "a", true, ""},
		{"v1 leading space matters", v1, "a\n", " a\n", false, "line 1 differs from the expected output"},
		{"v1 inner space matters", v1, "a b\n", "a  b\n", false, "line 1 differs from the expected output"},
		{"v1 extra line", v1, "a\n", "a\nb\n", false, "expected 1 lines, got 2"},
		{"v1 blank line inside matters", v1, "a\nb\n", "a\n\nb\n", false, "line 2 differs from the expected output"},
		{"trailing space kept", definition.Compare{}, "a\n", "a \n", false, "line 1 differs from the expected output"},
		{"final newline kept", definition.Compare{}, "a\n", "a", false, "expected 2 lines, got 1"},
		{"crlf always normalised", definition.Compare{}, "a\n", "a\r\n", true, ""},
		{"exact equal", definition.Compare{Exact: true}, "a\n", "a\n", true, ""},
		{"exact crlf differs", definition.Compare{Exact: true}, "a\n", "a\r\n", false, "output differs from the expected output"},
		{"all space", definition.Compare{IgnoreTrailingSpace: true, IgnoreAllSpace: true}, "1 2 3\n", " 1  2\t3 \n", true, ""},
		{"all space keeps lines", definition.Compare{IgnoreAllSpace: true}, "1 2\n", "1\n2\n", false, "line 1 differs from the expected output"},
		{"blank lines", definition.Compare{IgnoreTrailingSpace: true, IgnoreBlankLines: true}, "a\nb\n", "\n a\n   \n\nb\n", false, "line 1 differs from the expected output"},
		{"blank lines dropped", definition.Compare{IgnoreTrailingSpace: true, IgnoreBlankLines: true}, "a\nb\n", "\na\n   \n\nb\n", true, ""},
		{"case", definition.Compare{IgnoreTrailingSpace: true, IgnoreCase: true}, "Hello World\n", "hELLO wORLD\n", true, ""},
		{"case matters by default", v1, "Hello\n", "hello\n", false, "line 1 differs from the expected output"},
		{"tolerance within", definition.Compare{IgnoreTrailingSpace: true, NumericTolerance: &tol}, "x = 3.14159\n", "x  =  3.142\n", true, ""},
		{"tolerance relative", definition.Compare{IgnoreTrailingSpace: true, NumericTolerance: &tol}, "1000\n", "1009\n", true, ""},
		{"tolerance exceeded", definition.Compare{IgnoreTrailingSpace: true, NumericTolerance: &tol}, "0.5\n", "0.52\n", false, "line 1 differs from the expected output"},
		{"tolerance words still exact", definition.Compare{IgnoreTrailingSpace: true, NumericTolerance: &tol}, "pi 3.14\n", "Pi 3.14\n", false, "line 1 differs from the expected output"},
		{"tolerance token count", definition.Compare{IgnoreTrailingSpace: true, NumericTolerance: &tol}, "1 2\n", "1 2 3\n", false, "line 1 differs from the expected output"},
		{"tolerance nan never equal", definition.Compare{IgnoreTrailingSpace: true, NumericTolerance: &tol}, "1\n", "NaN\n", false, "line 1 differs from the expected output"},
		{"zero tolerance compares values", definition.Compare{IgnoreTrailingSpace: true, NumericTolerance: &zero}, "1.0 2\n", "1.00 2e0\n", true, ""},
		{"regex whole output", definition.Compare{IgnoreTrailingSpace: true, Regex: true}, "took \\d+ms\n", "took 42ms\n\n", true, ""},
		{"regex anchored", definition.Compare{IgnoreTrailingSpace: true, Regex: true}, "\\d+", "x42", false, "output does not match the expected pattern"},
		{"regex multi line", definition.Compare{IgnoreTrailingSpace: true, Regex: true}, "a\\nb+", "a\r\nbbb\n", true, ""},
		{"regex ignore case", definition.Compare{IgnoreTrailingSpace: true, Regex: true, IgnoreCase: true}, "[A-Z]+", "abc", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, reason, err := tt.giveCompare.Match([]byte(tt.giveExpected), []byte(tt.giveActual))
			require.NoError(t, err)
			assert.Equal(t, tt.wantOK, ok)
			assert.Equal(t, tt.wantReason, reason)
		})
	}
}

// TestCompareNumericToleranceDecimalOnly: numbers are compared as a person
// writes them; Go's hex floats and digit separators are other text.
func TestCompareNumericToleranceDecimalOnly(t *testing.T) {
	zero := 0.0
	lines := definition.Compare{IgnoreTrailingSpace: true, NumericTolerance: &zero}
	tokens := definition.Compare{Tokens: true, NumericTolerance: &zero}
	tests := []struct {
		giveExpected, giveActual string
		wantOK                   bool
	}{
		{"8\n", "0x1p3\n", false},
		{"8\n", "0X1P+3\n", false},
		{"0.5\n", "0x.8p0\n", false},
		{"1000\n", "1_000\n", false},
		{"1e3\n", "1_0e2\n", false},
		{"8\n", "8e0\n", true},
		{"8\n", "+8.0\n", true},
		{"0\n", "-0\n", true},
		{"0.5\n", ".5\n", true},
		{"1e308\n", "1e999\n", false},
	}
	for _, tt := range tests {
		for name, c := range map[string]definition.Compare{"lines": lines, "tokens": tokens} {
			ok, _, err := c.Match([]byte(tt.giveExpected), []byte(tt.giveActual))
			require.NoError(t, err)
			assert.Equal(t, tt.wantOK, ok, "%s: %q against %q", name, tt.giveActual, tt.giveExpected)
		}
	}
}

// TestCompareMatchBlankRule: whatever a program prints contains the empty
// string, so a rule a blank expected output leaves empty is an error of the
// definition, never a pass.
func TestCompareMatchBlankRule(t *testing.T) {
	for _, c := range []definition.Compare{
		{Contains: "{expected}"},
		{Contains: "{expected}", IgnoreCase: true},
		{Pattern: "{expected}"},
	} {
		for _, expected := range []string{"", " \r\n\t"} {
			ok, _, err := c.Match([]byte(expected), []byte("anything\n"))
			assert.False(t, ok, "%+v with expected %q", c, expected)
			assert.ErrorContains(t, err, "the expected output is blank, so the rule would accept any output")
		}
	}
	ok, _, err := definition.Compare{Contains: "Result: {expected}"}.Match(nil, []byte("Result: \n"))
	require.NoError(t, err, "text around {expected} still judges")
	assert.True(t, ok)
}

// TestCompareMatchPatternFinalLineBreak: the end of an output that ends
// its last line starts no further, empty line, so ^$ (what ^{expected}$
// becomes for an expected empty output) does not match there.
func TestCompareMatchPatternFinalLineBreak(t *testing.T) {
	tests := []struct {
		givePattern, giveExpected, giveActual string
		wantOK                                bool
	}{
		{"^{expected}$", "", "wrong\n", false},
		{"^{expected}$", "", "wrong\r\n", false},
		{"^{expected}$", "\n", "a\nb\n", false},
		{`^\s*$`, "", "wrong\n", false},
		{"^{expected}$", "", "", true},
		{"^{expected}$", "", "\n", true},
		{"^{expected}$", "", "a\n\nb\n", true},
		{"^{expected}$", "3", "1\n3\n", true},
		{`^3\n`, "", "3\n", true},
		{`3\n\z`, "", "3\n", true},
		{"$", "", "abc\n", true},
	}
	for _, tt := range tests {
		ok, _, err := definition.Compare{Pattern: tt.givePattern}.Match([]byte(tt.giveExpected), []byte(tt.giveActual))
		require.NoError(t, err)
		assert.Equal(t, tt.wantOK, ok, "%q with expected %q against %q", tt.givePattern, tt.giveExpected, tt.giveActual)
	}
}

// TestCompareMatchCRLFExpected: the output is judged with LF line breaks,
// so an expected output saved with CRLF (an editor on Windows) matches the
// same text printed either way, as line comparison already does.
func TestCompareMatchCRLFExpected(t *testing.T) {
	for _, c := range []definition.Compare{
		{Contains: "{expected}"},
		{Pattern: "^{expected}$"},
		{Regex: true, IgnoreTrailingSpace: true},
	} {
		for _, actual := range []string{"1\n2\n", "1\r\n2\r\n"} {
			ok, reason, err := c.Match([]byte("1\r\n2\r\n"), []byte(actual))
			require.NoError(t, err)
			assert.True(t, ok, "%+v against %q: %s", c, actual, reason)
		}
		ok, _, err := c.Match([]byte("1\r\n2\r\n"), []byte("1\n3\n"))
		require.NoError(t, err)
		assert.False(t, ok, "%+v", c)
	}
}

func TestCompareMatchInvalidPattern(t *testing.T) {
	_, _, err := definition.Compare{Regex: true}.Match([]byte("(x"), []byte("x"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "compile expected pattern: error parsing regexp: missing closing )")
}

// TestCompareMatchBoundsTheWorkOfAPattern: a pattern is matched in the
// worker, outside the sandbox, so a student's flood of output against a
// long pattern fails the run instead of holding the worker for minutes,
// while a short rule still reads an output as long as the output limit.
func TestCompareMatchBoundsTheWorkOfAPattern(t *testing.T) {
	var expected strings.Builder
	for i := range 200 {
		fmt.Fprintf(&expected, "line %d of the answer\n", i)
	}
	// The expected output's first lines over and over keep many of the
	// pattern's threads alive: 34 s for one match before the bound.
	flood := []byte(strings.Repeat("line 0 of the answer\nline 1 of the answer\n", 1<<20/42))

	for _, c := range []definition.Compare{
		{Pattern: "^{expected}$"},
		{Regex: true, IgnoreTrailingSpace: true},
	} {
		ok, reason, err := c.Match([]byte(regexp.QuoteMeta(expected.String())), flood)
		require.NoError(t, err, "%+v", c)
		assert.False(t, ok, "%+v", c)
		assert.Contains(t, reason, "is too long to be matched against this pattern", "%+v", c)
	}

	long := append(bytes.Repeat([]byte("noise\n"), 1<<20/6), "sum = 42\n"...)
	ok, reason, err := definition.Compare{Pattern: "^sum = {expected}$"}.Match([]byte("42\n"), long)
	require.NoError(t, err)
	assert.True(t, ok, reason)
}

// TestCompareRefusesHugePatterns: a pattern's program is bounded before
// regexp.Compile, whose analysis of a 2 MB anchored pattern took minutes.
func TestCompareRefusesHugePatterns(t *testing.T) {
	huge := strings.Repeat("a+", definition.MaxPatternSize)
	_, _, err := definition.Compare{Regex: true}.Match([]byte(huge), []byte("a"))
	assert.ErrorContains(t, err, "instructions, more than 65536")

	_, err = definition.Parse([]byte("version: 2\nstages:\n  - name: a\n    command: [x]\n    expected_stdout: \"" + huge + "\"\n    compare: {regex: true}\n"))
	assert.ErrorContains(t, err, "instructions, more than 65536")
}
