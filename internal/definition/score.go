package definition

import (
	"fmt"
	"slices"
	"strings"

	"github.com/zinc-edu/orchestrator/internal/grading"
)

// Scoring is the grade of one delivery. When Status is ungraded, Score is 0
// and means nothing: Diagnostic says why no score could be given, and
// Components lists only the components that could be evaluated.
type Scoring struct {
	Status     grading.ResultStatus
	Score      float64
	MaxScore   float64
	Components []grading.Component
	// Steps are copies of the scored steps with Points and MaxPoints set to
	// what each step earned and was worth across the components.
	Steps      []grading.Step
	Diagnostic string
}

// Score grades the step outcomes of one pipeline run. It is pure: the same
// definition and steps always give the same Scoring.
//
// Credit. A step's credit is in [0, 1]: Points/MaxPoints when MaxPoints is
// positive (how a checker reports partial credit, and what a previous Score
// left behind), else 1 for success and 0 for failed.
//
// Components. With a rubric, each component takes the selected steps of its
// stage. In sum mode it earns the sum of credit × weight, where a step's
// weight is its points_per_scenario entry, else points, else an equal share
// of max_score; in all_or_nothing mode it earns max_score when every selected
// step succeeded with full credit, else 0. The result is clamped to [0,
// max_score]. Without a rubric, every stage with points is a component worth
// those points, split equally among its scenarios.
//
// Errors and skips. A failed step earns 0. A step in error because of a
// timeout or a resource limit earns 0 when the rubric says limit_errors:
// zero, and always without a rubric (version 1 counted such a stage as not
// passed); otherwise, and always for other errors (infrastructure, checker
// failures, missing programs), the component cannot be evaluated. A skipped
// step earns 0 when its stage was skipped because a dependency failed, and
// makes the component unevaluable when a dependency, directly or through
// other skipped stages, could not be evaluated. A missing step also makes the
// component unevaluable. Any unevaluable component makes the whole delivery
// ungraded, or error when a step failed because of the worker
// (Step.Infrastructure): it is never scored 0 for a fault that is not the
// student's.
//
// Total. The components' scores are summed. With normalize_to the sum is
// scaled by normalize_to / (total.max_score, else the sum of the components'
// maxima). The result is clamped to [total.min, total.max], which default to
// 0 and MaxScore. Scores are rounded to four decimals.
func Score(def *Definition, steps []grading.Step) Scoring {
	sc := &scorer{def: def, orig: steps, index: make(map[stepKey]int, len(steps))}
	sc.steps = slices.Clone(steps)
	for i := range sc.steps {
		sc.steps[i].Points, sc.steps[i].MaxPoints = 0, 0
		k := stepKey{steps[i].Stage, steps[i].Scenario}
		if _, dup := sc.index[k]; !dup {
			sc.index[k] = i
		}
	}
	comps, policy := sc.components()
	sc.policy = policy
	sc.taint()

	out := Scoring{Status: grading.StatusGraded, MaxScore: def.MaxScore()}
	var diags []string
	raw := 0.0
	for i := range comps {
		c := &comps[i]
		score, reason := sc.component(c)
		if reason != "" {
			diags = append(diags, fmt.Sprintf("component %q: %s", c.Name, reason))
			continue
		}
		raw += score
		out.Components = append(out.Components, grading.Component{Name: c.Name, Score: score, MaxScore: round(c.MaxScore)})
	}
	out.Steps = sc.steps
	if len(diags) > 0 {
		out.Status = grading.StatusUngraded
		if sc.infrastructure {
			// The worker, not the student or the definition, failed.
			out.Status = grading.StatusError
		}
		out.Diagnostic = strings.Join(diags, "; ")
		return out
	}
	out.Score = sc.total(raw, out.MaxScore)
	return out
}

type stepKey struct{ stage, scenario string }

type scorer struct {
	def    *Definition
	orig   []grading.Step
	steps  []grading.Step
	index  map[stepKey]int
	policy LimitErrors
	// infrastructure is set once an unevaluable step failed because of
	// the worker; the delivery is then in error, not ungraded.
	infrastructure bool
	// tainted holds, per stage, why it cannot be evaluated; stages that
	// can are absent.
	tainted map[string]string
}

// components returns the rubric's components, or those implied by the
// stages' points, with the matching policy for limit errors.
func (sc *scorer) components() ([]Component, LimitErrors) {
	if r := sc.def.Rubric; r != nil {
		return r.Components, r.LimitErrors
	}
	var comps []Component
	for _, s := range sc.def.Stages {
		if s.Points > 0 {
			comps = append(comps, pointsComponent(s))
		}
	}
	return comps, LimitErrorsZero
}

// pointsComponent is the component a stage's points imply: scenarios with
// their own points (from scenarios_from) are worth those, others an equal
// share.
func pointsComponent(s Stage) Component {
	c := Component{Name: s.Name, MaxScore: s.Points, From: s.Name, Mode: ModeSum}
	for _, sc := range s.Scenarios {
		if sc.Points > 0 {
			if c.PointsPerScenario == nil {
				c.PointsPerScenario = map[string]float64{}
			}
			c.PointsPerScenario[sc.Name] = sc.Points
		}
	}
	return c
}

// unevaluable reports why a step in error cannot be scored, or "".
func (sc *scorer) unevaluable(st grading.Step) string {
	if st.State != grading.StepError {
		return ""
	}
	if (st.TimedOut || st.LimitHit != "") && sc.policy == LimitErrorsZero {
		return ""
	}
	sc.infrastructure = sc.infrastructure || st.Infrastructure
	msg := st.Message
	if msg == "" {
		msg = "error"
	}
	return fmt.Sprintf("%s ended in an error: %s", label(st.Stage, st.Scenario), msg)
}

// taint marks, in dependency order, the stages that cannot be evaluated:
// one of their steps is an unevaluable error, or they were skipped and a
// dependency is tainted.
func (sc *scorer) taint() {
	sc.tainted = map[string]string{}
	for _, i := range sc.def.Order() {
		s := &sc.def.Stages[i]
		skipped := false
		for _, run := range s.Runs() {
			j, ok := sc.index[stepKey{s.Name, run.Name}]
			if !ok {
				continue
			}
			if reason := sc.unevaluable(sc.orig[j]); reason != "" {
				sc.tainted[s.Name] = reason
				break
			}
			skipped = skipped || sc.orig[j].State == grading.StepSkipped
		}
		if _, done := sc.tainted[s.Name]; done || !skipped {
			continue
		}
		for _, dep := range s.DependsOn {
			if reason, ok := sc.tainted[dep]; ok {
				sc.tainted[s.Name] = reason
				break
			}
		}
	}
}

type contribution struct {
	step           int
	earned, weight float64
}

// component scores one component, or says why it cannot.
func (sc *scorer) component(c *Component) (float64, string) {
	s, ok := sc.def.Stage(c.From)
	if !ok {
		return 0, fmt.Sprintf("unknown stage %q", c.From)
	}
	names := c.selected(s)
	var parts []contribution
	earned, allPassed := 0.0, true
	for _, name := range names {
		i, ok := sc.index[stepKey{s.Name, name}]
		if !ok {
			return 0, "no result for " + label(s.Name, name)
		}
		st := sc.orig[i]
		credit := 0.0
		switch st.State {
		case grading.StepSuccess, grading.StepFailed:
			credit = creditOf(st)
		case grading.StepError:
			if reason := sc.unevaluable(st); reason != "" {
				return 0, reason
			}
		case grading.StepSkipped:
			if reason, ok := sc.tainted[s.Name]; ok {
				return 0, fmt.Sprintf("%s was skipped because %s", label(s.Name, name), reason)
			}
		default:
			return 0, fmt.Sprintf("%s has unknown state %q", label(s.Name, name), st.State)
		}
		// A success with partial credit (a batch checker's pass with a
		// score below 1) has not fully passed.
		allPassed = allPassed && st.State == grading.StepSuccess && credit == 1
		w := c.weight(name, len(names))
		earned += credit * w
		parts = append(parts, contribution{step: i, earned: credit * w, weight: w})
	}
	if c.Mode == ModeAllOrNothing {
		if allPassed {
			return round(c.MaxScore), ""
		}
		return 0, ""
	}
	for _, p := range parts {
		sc.steps[p.step].Points = round(sc.steps[p.step].Points + p.earned)
		sc.steps[p.step].MaxPoints = round(sc.steps[p.step].MaxPoints + p.weight)
	}
	return round(clamp(earned, 0, c.MaxScore)), ""
}

// total combines the component scores.
func (sc *scorer) total(raw, nominal float64) float64 {
	score := raw
	hi := nominal
	if r := sc.def.Rubric; r != nil {
		t := r.Total
		if t.NormalizeTo != nil {
			denom := r.componentMax()
			if t.MaxScore != nil {
				denom = *t.MaxScore
			}
			if denom > 0 {
				score = raw / denom * *t.NormalizeTo
			}
		}
		lo := 0.0
		if t.Min != nil {
			lo = *t.Min
		}
		if t.Max != nil {
			hi = *t.Max
		}
		return round(clamp(score, lo, hi))
	}
	return round(clamp(score, 0, hi))
}

// creditOf is the share of a judged step's worth it earned.
func creditOf(st grading.Step) float64 {
	if st.MaxPoints > 0 {
		return clamp(st.Points/st.MaxPoints, 0, 1)
	}
	if st.State == grading.StepSuccess {
		return 1
	}
	return 0
}

func clamp(x, lo, hi float64) float64 {
	return max(lo, min(x, hi))
}

// label names a step in messages.
func label(stage, scenario string) string {
	if scenario == "" {
		return fmt.Sprintf("stage %q", stage)
	}
	return fmt.Sprintf("stage %q scenario %q", stage, scenario)
}
