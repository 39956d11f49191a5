// Package spreadsheet keeps the text cells of the CSV files ZINC writes
// from being run by the spreadsheets they are opened in.
package spreadsheet

import "strings"

// Text defuses a free-text cell (CSV injection): one starting with =, +,
// -, @, a tab or a carriage return gets a leading apostrophe, as OWASP
// advises, so that a spreadsheet shows it as text. User names come from
// rosters and diagnostics may quote a checker's output.
func Text(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
