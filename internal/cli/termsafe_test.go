package cli_test

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/cli"
)

// attack is what a student's program prints to take over the terminal of
// whoever reads it: a window title, a screen clear and a forged line, an
// OSC 52 clipboard write, an 8-bit CSI and a right-to-left override.
const attack = "\x1b]0;owned\x07\x1b[2J\rscore: 10/10\n\x1b]52;c;cm0gLXJmIH4=\x07\u009b31m\u202eevil"

// requireNoTerminalControl fails when out holds a byte or rune that a
// terminal would act on rather than show.
func requireNoTerminalControl(t *testing.T, out string) {
	t.Helper()
	for _, bad := range []string{"\x1b", "\x07", "\r", "\u009b", "\u202e", "\nscore: 10/10"} {
		require.NotContains(t, out, bad, "output %q", out)
	}
}

// TestResultsAndStatusDoNotPassTerminalEscapes: a diagnostic and a failure
// reason quote step messages, and a checker's feedback quotes the
// student's output; "batch results" and "batch status" printed them raw to
// the instructor's terminal.
func TestResultsAndStatusDoNotPassTerminalEscapes(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		quoted := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\x1b", `\u001b`, "\x07", `\u0007`, "\r", `\r`, "\n", `\n`).Replace(attack)
		switch r.URL.Path {
		case "/v1/batches/b1/results":
			_, _ = w.Write([]byte(`[{"delivery_id":"d1","user":"alice","status":"ungraded","score":null,"max_score":5,"diagnostic":"component \"c\": judge ended in an error: ` + quoted + `","stages":[]}]`))
		case "/v1/batches/b1":
			_, _ = w.Write([]byte(`{"id":"b1","status":"completed","progress":{"total":1,"done":1,"failed":1},"summary":{"total":1,"counts":{"graded":0,"ungraded":1,"error":0},"failures":[{"delivery_id":"d1","user":"alice","status":"ungraded","reason":"` + quoted + `"}]}}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer ts.Close()

	code, out, stderr := run(t, ts.URL, "batch", "results", "b1")
	require.Equal(t, cli.ExitOK, code, stderr)
	requireNoTerminalControl(t, out)
	assert.Contains(t, out, `\x1b]0;owned\a\x1b[2J\rscore: 10/10\n`, "shown, escaped")

	code, out, stderr = run(t, ts.URL, "batch", "status", "b1")
	require.Equal(t, cli.ExitFailures, code, stderr)
	requireNoTerminalControl(t, out)
	assert.Contains(t, out, `failed: alice \x1b]0;owned`)
}

// TestConfigTryDoesNotPassTerminalEscapes: "config try" runs a student's
// delivery on the instructor's machine and prints each step's message,
// here a checker's feedback that quotes what the program printed.
func TestConfigTryDoesNotPassTerminalEscapes(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"pipeline.yaml": `version: 2
name: quote
stages:
  - name: judge
    kind: checker
    command: [cat, out.txt]
    checker: {command: [sh, -c, 'printf "expected 3, got: "; cat actual; exit 1']}
    scenarios:
      - {name: one, stdin: "1 2\n", expected: "3\n"}
`,
		"mallory/out.txt": attack,
	})
	code, out, stderr := run(t, "", "config", "try", filepath.Join(dir, "pipeline.yaml"), "--delivery", filepath.Join(dir, "mallory"))
	require.Equal(t, cli.ExitOK, code, "%s %s", out, stderr)
	assert.Contains(t, out, `judge/one: failed`)
	assert.Contains(t, out, `expected 3, got: \x1b]0;owned`)
	requireNoTerminalControl(t, out)
}
