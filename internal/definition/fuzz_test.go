package definition_test

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/zinc-edu/orchestrator/internal/definition"
	"github.com/zinc-edu/orchestrator/internal/grading"
)

// FuzzParse checks that Parse never panics, that every refusal is a
// ValidationError with problems, and that whatever it accepts validates
// again, also after a JSON round trip, and can be ordered and scored.
// Seeds: testdata/*.yaml and testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		src, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		def, err := definition.Parse(src)
		if err != nil {
			var verr *definition.ValidationError
			if !errors.As(err, &verr) || len(verr.Problems) == 0 {
				t.Fatalf("Parse error is not a ValidationError with problems: %v", err)
			}
			for _, p := range verr.Problems {
				if p.Message == "" {
					t.Fatalf("problem without message at %q", p.Path)
				}
			}
			return
		}
		if err := def.Validate(); err != nil {
			t.Fatalf("parsed definition does not validate: %v", err)
		}
		b, err := json.Marshal(def)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		var back definition.Definition
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("unmarshal: %v", err)
		}
		if err := back.Validate(); err != nil {
			t.Fatalf("definition does not validate after a JSON round trip: %v", err)
		}
		order := def.Order()
		if len(order) != len(def.Stages) || len(slices.Compact(slices.Sorted(slices.Values(order)))) != len(def.Stages) {
			t.Fatalf("order %v is not a permutation of %d stages", order, len(def.Stages))
		}
		if m := def.MaxScore(); math.IsNaN(m) || math.IsInf(m, 0) || m < 0 {
			t.Fatalf("max score %v", m)
		}
		var steps []grading.Step
		for _, s := range def.Stages {
			for _, run := range s.Runs() {
				steps = append(steps, grading.Step{Stage: s.Name, Scenario: run.Name, State: grading.StepSuccess})
			}
		}
		sc := definition.Score(def, steps)
		if sc.Status != grading.StatusGraded || math.IsNaN(sc.Score) || sc.Score < 0 {
			t.Fatalf("all-success scoring %+v", sc)
		}
	})
}
