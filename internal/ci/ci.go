// Package ci lets tests tell a developer's machine from CI. A CI host
// provides everything the suite needs (OCI runtimes, full isolation,
// Chromium, compilers), so there a test that would skip for want of one of
// them fails instead: a skipped isolation test must never pass as green.
package ci

import (
	"os"
	"testing"
)

// Enabled reports whether the tests run in CI (CI=true).
func Enabled() bool { return os.Getenv("CI") == "true" }

// SkipUnlessCI skips t with the formatted reason, or fails it under CI=true.
func SkipUnlessCI(t testing.TB, format string, args ...any) {
	t.Helper()
	if Enabled() {
		t.Fatalf("CI=true: "+format, args...)
		return
	}
	t.Skipf(format, args...)
}
