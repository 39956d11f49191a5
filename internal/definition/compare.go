package definition

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
)

// Compare says how a run's actual output is matched against the expected
// output. The zero value compares line by line after turning CRLF into LF;
// Parse sets IgnoreTrailingSpace unless the definition asks otherwise.
type Compare struct {
	// Exact compares bytes as they are; no other option may be set.
	Exact bool `json:"exact,omitempty"`
	// IgnoreTrailingSpace drops trailing blanks of every line and trailing
	// empty lines: version 1's normalisation.
	IgnoreTrailingSpace bool `json:"ignore_trailing_space,omitempty"`
	// IgnoreAllSpace removes every blank inside lines (diff -w).
	IgnoreAllSpace bool `json:"ignore_all_space,omitempty"`
	// IgnoreBlankLines drops lines that hold only blanks.
	IgnoreBlankLines bool `json:"ignore_blank_lines,omitempty"`
	IgnoreCase       bool `json:"ignore_case,omitempty"`
	// NumericTolerance, when set, compares lines token by token and accepts
	// two numbers whose difference is within the tolerance, absolute or
	// relative to the expected number.
	NumericTolerance *float64 `json:"numeric_tolerance,omitempty"`
	// Regex treats the expected output as an RE2 pattern the whole
	// normalised output must match.
	Regex bool `json:"regex,omitempty"`
	// Pattern is an RE2 pattern searched for in the actual output in
	// multi-line mode; {expected} in it stands for the expected output,
	// trimmed and regex-escaped.
	Pattern string `json:"pattern,omitempty"`
	// Contains is text the actual output must contain; {expected} in it
	// stands for the expected output, trimmed.
	Contains string `json:"contains,omitempty"`
	// Tokens compares the whitespace-separated tokens of both outputs,
	// wherever the line breaks fall; with NumericTolerance, numbers within
	// the tolerance are equal.
	Tokens bool `json:"tokens,omitempty"`
}

// ExpectedPlaceholder is the text in a Pattern or Contains rule that
// stands for the scenario's expected output.
const ExpectedPlaceholder = "{expected}"

// Standalone reports whether the comparison can judge a run without an
// expected output: a pattern or contains rule that does not refer to it.
func (c Compare) Standalone() bool {
	return c.Pattern != "" && !strings.Contains(c.Pattern, ExpectedPlaceholder) ||
		c.Contains != "" && !strings.Contains(c.Contains, ExpectedPlaceholder)
}

// Match reports whether actual satisfies expected. When it does not, the
// reason says where they part without quoting the expected output, which may
// be secret. An error means the expected output is an invalid pattern, or
// leaves a regex or contains rule empty.
func (c Compare) Match(expected, actual []byte) (bool, string, error) {
	if c.Exact {
		if bytes.Equal(expected, actual) {
			return true, "", nil
		}
		return false, "output differs from the expected output", nil
	}
	switch {
	case c.Pattern != "":
		src, err := substitute(c.Pattern, string(expected), regexp.QuoteMeta)
		if err != nil {
			return false, "", fmt.Errorf("regex rule: %w", err)
		}
		re, size, err := c.search(src)
		if err != nil {
			return false, "", fmt.Errorf("compile pattern: %w", err)
		}
		out := normalizeNewlines(actual)
		if reason := tooLongToMatch(size, len(out)); reason != "" {
			return false, reason, nil
		}
		if searchLines(re, out) {
			return true, "", nil
		}
		return false, "output does not match the pattern", nil
	case c.Contains != "":
		want, err := substitute(c.Contains, string(expected), func(s string) string { return s })
		if err != nil {
			return false, "", fmt.Errorf("contains rule: %w", err)
		}
		got := normalizeNewlines(actual)
		if c.IgnoreCase {
			want, got = strings.ToLower(want), strings.ToLower(got)
		}
		if strings.Contains(got, want) {
			return true, "", nil
		}
		return false, "output does not contain the expected text", nil
	case c.Tokens:
		return c.matchTokens(expected, actual), c.tokensReason(expected, actual), nil
	}
	if c.Regex {
		re, size, err := c.pattern(string(expected))
		if err != nil {
			return false, "", fmt.Errorf("compile expected pattern: %w", err)
		}
		out := strings.Join(c.lines(actual, false), "\n")
		if reason := tooLongToMatch(size, len(out)); reason != "" {
			return false, reason, nil
		}
		if re.MatchString(out) {
			return true, "", nil
		}
		return false, "output does not match the expected pattern", nil
	}
	want, got := c.lines(expected, c.IgnoreCase), c.lines(actual, c.IgnoreCase)
	n := min(len(want), len(got))
	for i := range n {
		if !c.lineEqual(want[i], got[i]) {
			return false, fmt.Sprintf("line %d differs from the expected output", i+1), nil
		}
	}
	if len(want) != len(got) {
		return false, fmt.Sprintf("expected %d lines, got %d", len(want), len(got)), nil
	}
	return true, "", nil
}

// pattern compiles the expected output as a pattern anchored at both ends,
// and gives its program size.
func (c Compare) pattern(expected string) (*regexp.Regexp, int, error) {
	// The output it is matched against has LF line breaks.
	expected = strings.ReplaceAll(expected, "\r\n", "\n")
	if c.IgnoreTrailingSpace {
		// A YAML block scalar ends with a newline the author did not mean
		// as part of the pattern.
		expected = strings.TrimRight(expected, "\r\n")
	}
	flags := ""
	if c.IgnoreCase {
		flags = "(?i)"
	}
	return compileQuoting(expected, flags+`\A(?:`+expected+`)\z`)
}

// search compiles a Pattern rule whose {expected} has been replaced, and
// gives its program size.
func (c Compare) search(src string) (*regexp.Regexp, int, error) {
	flags := "(?m)"
	if c.IgnoreCase {
		flags = "(?mi)"
	}
	return compileQuoting(src, flags+src)
}

// compileQuoting compiles full, the author's pattern src with the engine's
// flags and anchors around it. When that fails, compiling src alone gives
// an error that quotes what the author wrote; it is only tried then, since
// every run compiles its pattern.
func compileQuoting(src, full string) (*regexp.Regexp, int, error) {
	re, size, err := compilePattern(full)
	if err != nil {
		if _, _, srcErr := compilePattern(src); srcErr != nil {
			return nil, 0, srcErr
		}
	}
	return re, size, err
}

// A regex rule is judged in the worker, outside the sandbox and its limits,
// and RE2's cost grows with the pattern's program times the text it reads:
// both are bounded, so that neither a huge pattern nor a flood of student
// output holds a worker for minutes (a 2,200-instruction pattern against
// 1 MiB of output took 34 s).
const (
	// MaxPatternSize bounds a compiled pattern, in program instructions.
	MaxPatternSize = 1 << 16
	// maxMatchWork bounds program size × output bytes of one match: about a
	// second of CPU at worst. A rule like "^sum = {expected}$" still reads
	// several MiB.
	maxMatchWork = 1 << 27
)

// compilePattern compiles src and gives its program size, refusing a
// program over MaxPatternSize before regexp.Compile, whose one-pass
// analysis of a huge anchored pattern can take minutes.
func compilePattern(src string) (*regexp.Regexp, int, error) {
	parsed, err := syntax.Parse(src, syntax.Perl)
	if err != nil {
		return nil, 0, err
	}
	prog, err := syntax.Compile(parsed.Simplify())
	if err != nil {
		return nil, 0, err
	}
	size := len(prog.Inst)
	if size > MaxPatternSize {
		return nil, 0, fmt.Errorf("the pattern compiles to %d instructions, more than %d", size, MaxPatternSize)
	}
	re, err := regexp.Compile(src)
	return re, size, err
}

// tooLongToMatch is the reason a run fails when its output is too long to be
// matched against a pattern of size instructions within maxMatchWork: the
// student's output is what grew, so the run fails rather than the delivery
// going ungraded.
func tooLongToMatch(size, n int) string {
	if size == 0 || n <= maxMatchWork/size {
		return ""
	}
	return fmt.Sprintf("output of %d bytes is too long to be matched against this pattern", n)
}

// checkRule reports a regex or contains rule that cannot judge runs
// against this expected output: one left empty, or a pattern that no longer
// compiles, once {expected} is replaced.
func (c Compare) checkRule(expected string) error {
	if c.Pattern == "" && c.Contains == "" {
		return nil
	}
	if _, _, err := c.search(strings.ReplaceAll(c.Pattern, ExpectedPlaceholder, "x")); c.Pattern != "" && err != nil {
		// An invalid rule is reported where it is written.
		return nil
	}
	_, _, err := c.Match([]byte(expected), nil)
	return err
}

// substitute replaces {expected} in a contains or regex rule with the
// expected output, trimmed and passed through quote. A rule left empty is an
// error: it would accept any output, so a blank expected output in
// contains: true would credit whatever a program prints.
func substitute(rule, expected string, quote func(string) string) (string, error) {
	// The output the rule judges has LF line breaks, so an expected output
	// written with CRLF must too, or it could never be found.
	expected = strings.TrimSpace(strings.ReplaceAll(expected, "\r\n", "\n"))
	s := strings.ReplaceAll(rule, ExpectedPlaceholder, quote(expected))
	if s == "" {
		return "", errors.New("the expected output is blank, so the rule would accept any output")
	}
	return s, nil
}

// searchLines reports whether re matches somewhere in out, not counting
// an empty match after out's final line break: in multi-line mode ^ matches
// there too, so "^{expected}$" with an empty expected output would accept
// any output that ends its last line.
func searchLines(re *regexp.Regexp, out string) bool {
	// The leftmost match comes first, so when it is that empty match no
	// other match exists.
	loc := re.FindStringIndex(out)
	return loc != nil && !(loc[0] == len(out) && strings.HasSuffix(out, "\n"))
}

func normalizeNewlines(b []byte) string {
	return strings.ReplaceAll(string(b), "\r\n", "\n")
}

// matchTokens compares outputs token by token.
func (c Compare) matchTokens(expected, actual []byte) bool {
	want, got := strings.Fields(string(expected)), strings.Fields(string(actual))
	if len(want) != len(got) {
		return false
	}
	for i := range want {
		if !c.tokenEqual(want[i], got[i]) {
			return false
		}
	}
	return true
}

// tokensReason says where token comparison parts, or "" when it matches.
func (c Compare) tokensReason(expected, actual []byte) string {
	want, got := strings.Fields(string(expected)), strings.Fields(string(actual))
	for i := range min(len(want), len(got)) {
		if !c.tokenEqual(want[i], got[i]) {
			return fmt.Sprintf("token %d differs from the expected output", i+1)
		}
	}
	if len(want) != len(got) {
		return fmt.Sprintf("expected %d tokens, got %d", len(want), len(got))
	}
	return ""
}

func (c Compare) tokenEqual(want, got string) bool {
	switch {
	case want == got:
		return true
	case c.IgnoreCase && strings.EqualFold(want, got):
		return true
	case c.NumericTolerance != nil:
		return closeEnough(want, got, *c.NumericTolerance)
	}
	return false
}

// lines normalises output into the lines that are compared.
func (c Compare) lines(b []byte, lower bool) []string {
	s := strings.ReplaceAll(string(b), "\r\n", "\n")
	raw := strings.Split(s, "\n")
	out := make([]string, 0, len(raw))
	for _, l := range raw {
		if c.IgnoreTrailingSpace {
			l = strings.TrimRight(l, " \t\v\f\r")
		}
		if c.IgnoreAllSpace {
			l = strings.Join(strings.Fields(l), "")
		}
		if lower {
			l = strings.ToLower(l)
		}
		if c.IgnoreBlankLines && strings.TrimSpace(l) == "" {
			continue
		}
		out = append(out, l)
	}
	if c.IgnoreTrailingSpace {
		for len(out) > 0 && out[len(out)-1] == "" {
			out = out[:len(out)-1]
		}
	}
	return out
}

func (c Compare) lineEqual(want, got string) bool {
	if c.NumericTolerance == nil || want == got {
		return want == got
	}
	wf, gf := strings.Fields(want), strings.Fields(got)
	if len(wf) != len(gf) {
		return false
	}
	for i := range wf {
		if wf[i] != gf[i] && !closeEnough(wf[i], gf[i], *c.NumericTolerance) {
			return false
		}
	}
	return true
}

// closeEnough compares two tokens as finite decimal numbers.
func closeEnough(want, got string, tol float64) bool {
	w, ok := decimal(want)
	if !ok {
		return false
	}
	g, ok := decimal(got)
	if !ok {
		return false
	}
	d := math.Abs(w - g)
	return d <= tol || d <= tol*math.Abs(w)
}

// decimal parses a finite number written in decimal notation (sign,
// digits, point, exponent). strconv.ParseFloat alone also takes Go's hex
// floats and digit separators, so "0x1p3" or "1_000" would pass for 8 or
// 1000.
func decimal(s string) (float64, bool) {
	if strings.ContainsFunc(s, func(r rune) bool {
		return (r < '0' || r > '9') && !strings.ContainsRune("+-.eE", r)
	}) {
		return 0, false
	}
	x, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, false
	}
	return x, true
}

// maxDiffLine bounds each side of a ShortDiff.
const maxDiffLine = 80

// ShortDiff describes, for staff, the first place where actual parts from
// expected under c: the line (or token) number and both sides, clipped.
// It is "" when they match or the rule is a pattern or contains rule.
func (c Compare) ShortDiff(expected, actual []byte) string {
	var want, got []string
	what := "line"
	switch {
	case c.Pattern != "" || c.Contains != "" || c.Regex:
		return ""
	case c.Tokens:
		want, got, what = strings.Fields(string(expected)), strings.Fields(string(actual)), "token"
	case c.Exact:
		want, got = strings.Split(string(expected), "\n"), strings.Split(string(actual), "\n")
	default:
		want, got = c.lines(expected, c.IgnoreCase), c.lines(actual, c.IgnoreCase)
	}
	for i := range max(len(want), len(got)) {
		w, g := "<none>", "<none>"
		if i < len(want) {
			w = strconv.Quote(clipLine(want[i]))
		}
		if i < len(got) {
			g = strconv.Quote(clipLine(got[i]))
		}
		if i >= len(want) || i >= len(got) || want[i] != got[i] && !c.lineEqual(want[i], got[i]) {
			return fmt.Sprintf("%s %d: expected %s, got %s", what, i+1, w, g)
		}
	}
	return ""
}

func clipLine(s string) string {
	if len(s) <= maxDiffLine {
		return s
	}
	return strings.ToValidUTF8(s[:maxDiffLine], "") + "…"
}
