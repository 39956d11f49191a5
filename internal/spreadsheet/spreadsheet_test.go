package spreadsheet_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/zinc-edu/orchestrator/internal/spreadsheet"
)

func TestText(t *testing.T) {
	tests := []struct{ give, want string }{
		{"", ""},
		{"ada", "ada"},
		{"ada=1", "ada=1"},
		{`=HYPERLINK("x")`, `'=HYPERLINK("x")`},
		{"+1", "'+1"},
		{"-1", "'-1"},
		{"@SUM(1)", "'@SUM(1)"},
		{"\t=1", "'\t=1"},
		{"\r=1", "'\r=1"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, spreadsheet.Text(tt.give), "%q", tt.give)
	}
}
