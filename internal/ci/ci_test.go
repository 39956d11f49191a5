package ci_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/zinc-edu/orchestrator/internal/ci"
)

// recorder stands in for a *testing.T to observe which way SkipUnlessCI goes.
type recorder struct {
	testing.TB
	failed, skipped string
}

func (r *recorder) Helper()                           {}
func (r *recorder) Fatalf(format string, args ...any) { r.failed = format }
func (r *recorder) Skipf(format string, args ...any)  { r.skipped = format }

func TestSkipUnlessCIFailsInCI(t *testing.T) {
	t.Setenv("CI", "true")
	r := &recorder{}
	ci.SkipUnlessCI(r, "chromium is not installed")
	assert.Equal(t, "CI=true: chromium is not installed", r.failed)
	assert.Empty(t, r.skipped)
}

func TestSkipUnlessCISkipsElsewhere(t *testing.T) {
	t.Setenv("CI", "")
	r := &recorder{}
	ci.SkipUnlessCI(r, "chromium is not installed")
	assert.Equal(t, "chromium is not installed", r.skipped)
	assert.Empty(t, r.failed)
}
