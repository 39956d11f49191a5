package cli

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// termSafe makes text that came from a student — a user name, a checker's
// feedback quoting the program's output, a diagnostic, a file name in an
// import — safe to print to a terminal: every control character (C0, DEL
// and C1, which start escape sequences that can retitle the window, move
// the cursor, rewrite earlier lines or set the clipboard), line and column
// break and bidirectional override is shown as its Go escape (\x1b, \n,
// \u202e) instead, and invalid UTF-8 as U+FFFD. The text stays on the one
// line and column it is printed in.
func termSafe(s string) string {
	if utf8.ValidString(s) && !strings.ContainsFunc(s, unsafeRune) {
		return s
	}
	var b strings.Builder
	// Ranging over s yields U+FFFD for each byte that is not UTF-8.
	for _, r := range s {
		if unsafeRune(r) {
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// unsafeRune reports whether r may change what a terminal shows beyond
// itself.
func unsafeRune(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) ||
		r == '\u2028' || r == '\u2029'
}

// termSafeLines is termSafe for a message of several lines (an error that
// joins others): each line is made safe, the line breaks are kept.
func termSafeLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = termSafe(l)
	}
	return strings.Join(lines, "\n")
}
