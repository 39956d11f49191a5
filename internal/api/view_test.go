package api

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/zinc-edu/orchestrator/internal/grading"
)

func TestVisibleToStudent(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	before, after := now.Add(-time.Minute), now.Add(time.Minute)
	tests := []struct {
		name           string
		giveVisibility string
		giveDue        *time.Time
		giveStop       *time.Time
		want           bool
	}{
		{"unset", "", nil, nil, true},
		{"visible", "visible", nil, nil, true},
		{"hidden", "hidden", &before, &before, false},
		{"after due, passed", "after_due", &before, nil, true},
		{"after due, exactly now", "after_due", &now, nil, true},
		{"after due, not yet", "after_due", &after, nil, false},
		{"after due, no due date", "after_due", nil, &before, false},
		{"after stop, passed", "after_stop", &after, &before, true},
		{"after stop, not yet", "after_stop", &before, &after, false},
		{"after stop, no stop date", "after_stop", &before, nil, false},
		{"unknown", "later", &before, &before, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := grading.Collection{DueAt: tt.giveDue, StopAt: tt.giveStop}
			assert.Equal(t, tt.want, visibleToStudent(tt.giveVisibility, c, now))
		})
	}
}

func TestForStudentLeavesTheResultAlone(t *testing.T) {
	r := grading.Result{ObjectKey: "grading/d/r/result.json", Steps: visibilitySteps()}
	got, withheld := forStudent(r, grading.Collection{}, time.Now())
	assert.Equal(t, []bool{false, false, true, true, true}, withheld)
	assert.Empty(t, got.ObjectKey)
	assert.Empty(t, got.Steps[2].Stdout)
	assert.Equal(t, visibilitySteps(), r.Steps, "the input keeps its output")
	assert.Equal(t, "grading/d/r/result.json", r.ObjectKey)
}
