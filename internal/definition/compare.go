package definition

import (
	"bytes"
	"fmt"
	"math"
	"regexp"
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
}

// Match reports whether actual satisfies expected. When it does not, the
// reason says where they part without quoting the expected output, which may
// be secret. An error means the expected output is an invalid pattern.
func (c Compare) Match(expected, actual []byte) (bool, string, error) {
	if c.Exact {
		if bytes.Equal(expected, actual) {
			return true, "", nil
		}
		return false, "output differs from the expected output", nil
	}
	if c.Regex {
		re, err := c.pattern(string(expected))
		if err != nil {
			return false, "", fmt.Errorf("compile expected pattern: %w", err)
		}
		if re.MatchString(strings.Join(c.lines(actual, false), "\n")) {
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

// pattern compiles the expected output as a pattern anchored at both ends.
func (c Compare) pattern(expected string) (*regexp.Regexp, error) {
	if c.IgnoreTrailingSpace {
		// A YAML block scalar ends with a newline the author did not mean
		// as part of the pattern.
		expected = strings.TrimRight(expected, "\r\n")
	}
	// Compiling the pattern alone first gives errors that quote what the
	// author wrote, not the anchored form.
	if _, err := regexp.Compile(expected); err != nil {
		return nil, err
	}
	flags := ""
	if c.IgnoreCase {
		flags = "(?i)"
	}
	return regexp.Compile(flags + `\A(?:` + expected + `)\z`)
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

// closeEnough compares two tokens as finite numbers.
func closeEnough(want, got string, tol float64) bool {
	w, err := strconv.ParseFloat(want, 64)
	if err != nil || math.IsNaN(w) || math.IsInf(w, 0) {
		return false
	}
	g, err := strconv.ParseFloat(got, 64)
	if err != nil || math.IsNaN(g) || math.IsInf(g, 0) {
		return false
	}
	d := math.Abs(w - g)
	return d <= tol || d <= tol*math.Abs(w)
}
