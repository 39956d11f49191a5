package definition_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/definition"
)

func TestParseEnvironmentInBothVersions(t *testing.T) {
	for _, version := range []string{"1", "2"} {
		t.Run("version "+version, func(t *testing.T) {
			def := mustParse(t, "version: "+version+"\nenvironment: {image: python-3.12}\nstages: [{name: a, command: [python3, main.py]}]\n")

			assert.Equal(t, &definition.Environment{Image: "python-3.12"}, def.Environment)
		})
	}
}

func TestParseWithoutEnvironmentUsesTheToolchain(t *testing.T) {
	def := mustParse(t, "version: 2\nstages: [{name: a, command: [true]}]\n")

	assert.Nil(t, def.Environment)
	b, err := json.Marshal(def)
	require.NoError(t, err)
	assert.NotContains(t, string(b), "environment", "a config without an environment stores none")
}

func TestParseEnvironmentProblems(t *testing.T) {
	tests := []struct {
		name string
		give string
		want []string
	}{
		{name: "not a mapping", give: "environment: python", want: []string{"environment: must be a mapping"}},
		{name: "image missing", give: "environment: {}", want: []string{"environment.image: required"}},
		{name: "image null", give: "environment: {image: null}", want: []string{"environment.image: must be a string, not null"}},
		{
			name: "unknown field", give: "environment: {image: py, digest: sha256:00}",
			want: []string{"environment.digest: unknown field"},
		},
		{
			name: "upper case", give: "environment: {image: Python}",
			want: []string{`environment.image: invalid environment name "Python" (1 to 64 characters from a-z, 0-9, '.', '_', '-', starting with a letter or digit)`},
		},
		{
			name: "leading dot", give: "environment: {image: .py}",
			want: []string{`environment.image: invalid environment name ".py" (1 to 64 characters from a-z, 0-9, '.', '_', '-', starting with a letter or digit)`},
		},
		{
			name: "too long", give: "environment: {image: " + strings.Repeat("a", 65) + "}",
			want: []string{`environment.image: invalid environment name "` + strings.Repeat("a", 65) + `" (1 to 64 characters from a-z, 0-9, '.', '_', '-', starting with a letter or digit)`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, problemsOf(t, "version: 2\n"+tt.give+"\nstages: [{name: a, command: [true]}]\n"))
		})
	}
}

// The stored form carries the digest the store resolved; the worker
// validates it again when it decodes the config.
func TestValidateEnvironmentDigest(t *testing.T) {
	def := mustParse(t, "version: 2\nenvironment: {image: py}\nstages: [{name: a, command: [true]}]\n")

	def.Environment.Digest = "sha256:" + strings.Repeat("ab", 32)
	require.NoError(t, def.Validate())

	def.Environment.Digest = "sha256:XYZ"
	var verr *definition.ValidationError
	require.ErrorAs(t, def.Validate(), &verr)
	assert.Equal(t, []definition.Problem{
		{Path: "environment.digest", Message: `invalid digest "sha256:XYZ" (want sha256:<64 hex digits>)`},
	}, verr.Problems)
}
