package api

import (
	"time"

	"github.com/zinc-edu/orchestrator/internal/definition"
	"github.com/zinc-edu/orchestrator/internal/grading"
)

// visibleToStudent reports whether a student may see the details of a step
// with visibility v at now. An empty visibility (results of definitions
// that predate visibility) is visible. after_due and after_stop need the
// collection to have that date and the date to have passed: a date that is
// not set never arrives. Anything unknown stays hidden.
func visibleToStudent(v string, c grading.Collection, now time.Time) bool {
	switch definition.Visibility(v) {
	case "", definition.Visible:
		return true
	case definition.AfterDue:
		return reached(c.DueAt, now)
	case definition.AfterStop:
		return reached(c.StopAt, now)
	}
	return false
}

// withheldDiagnostic replaces, for a student, a diagnostic that quotes a
// step whose details are not visible yet.
const withheldDiagnostic = "a step whose details are not visible yet ended in an error"

func reached(t *time.Time, now time.Time) bool {
	return t != nil && !now.Before(*t)
}

// forStudent returns a copy of r as a student may see it at now: every
// step keeps its name, state, points and the limit it hit, but the steps
// that are not visible yet lose their output and message — which may quote
// expected answers — and their exit status and duration, which the
// student's program chooses and could fill with the hidden input a byte at
// a time; they are reported in withheld. The diagnostic repeats the message of every
// step that ended in an error, so it gives way to withheldDiagnostic when
// one of them is withheld. r itself is not modified.
func forStudent(r grading.Result, c grading.Collection, now time.Time) (_ grading.Result, withheld []bool) {
	steps := make([]grading.Step, len(r.Steps))
	withheld = make([]bool, len(r.Steps))
	for i, st := range r.Steps {
		if !visibleToStudent(st.Visibility, c, now) {
			if st.State == grading.StepError && r.Diagnostic != "" {
				r.Diagnostic = withheldDiagnostic
			}
			st.Stdout, st.Stderr, st.Message, st.Truncated = "", "", "", false
			st.ExitCode, st.Signal, st.DurationMS = nil, "", 0
			st.Command = nil
			withheld[i] = true
		}
		steps[i] = st
	}
	r.Steps = steps
	// Where the full output lives is staff business.
	r.ObjectKey = ""
	return r, withheld
}
