package definition

import (
	"math"
	"slices"
	"strings"
	"time"
)

// DefaultTimeout is the wall-clock limit of a command when neither the
// stage nor the definition's defaults name one.
const DefaultTimeout = 10 * time.Second

// MaxTimeout bounds every timeout a definition may ask for, so one delivery
// cannot hold a worker for hours.
const MaxTimeout = time.Hour

// DefaultParallelism is how many scenarios of one stage may run at once
// unless the stage says otherwise.
const DefaultParallelism = 4

// MaxParallelism bounds a stage's parallelism setting.
const MaxParallelism = 16

// MaxPoints bounds every points and score value of a definition (a stage's
// points, scenarios_from's included, a component's max_score and weights,
// the total's bounds), so sums of them stay finite and exact to the four
// decimals scores are rounded to.
const MaxPoints = 1_000_000

// ValgrindErrorExitCode is the exit status a valgrind stage's command uses
// when valgrind reports memory errors, so they are told apart from the
// program's own failures.
const ValgrindErrorExitCode = 99

// Kind is how a stage was written. Every kind is expanded at load time to a
// plain command, so the kind only drives validation and messages.
type Kind string

// Stage kinds.
const (
	KindCommand  Kind = "command"
	KindCompile  Kind = "compile"
	KindDiff     Kind = "diff"
	KindChecker  Kind = "checker"
	KindValgrind Kind = "valgrind"
)

// Visibility says when students may see a step's details.
type Visibility string

// Visibilities. Staff always see everything.
const (
	Visible   Visibility = "visible"
	Hidden    Visibility = "hidden"
	AfterDue  Visibility = "after_due"
	AfterStop Visibility = "after_stop"
)

// Mode is how a rubric component turns its steps into a score.
type Mode string

// Component modes.
const (
	ModeSum          Mode = "sum"
	ModeAllOrNothing Mode = "all_or_nothing"
)

// LimitErrors says how a rubric treats steps that ended in an error because
// they hit their timeout or a resource limit.
type LimitErrors string

// Policies for steps that hit a timeout or limit: zero (the default) fails
// the scenario, ungraded leaves the delivery without a score. Infrastructure
// errors make the delivery ungraded under either policy.
const (
	LimitErrorsUngraded LimitErrors = "ungraded"
	LimitErrorsZero     LimitErrors = "zero"
)

// Definition is a parsed, validated and expanded grading pipeline. Parse
// builds it from YAML; every default is already resolved, so the engine reads
// the fields as they are.
type Definition struct {
	Version  int      `json:"version"`
	Name     string   `json:"name,omitempty"`
	Defaults Defaults `json:"defaults"`
	// Environment, when set, names the image every command runs in;
	// nil means the worker's own toolchain.
	Environment *Environment `json:"environment,omitempty"`
	Files       []File       `json:"files,omitempty"`
	Stages      []Stage      `json:"stages"`
	Rubric      *Rubric      `json:"rubric,omitempty"`
}

// Environment names an uploaded environment image (see POST
// /v1/environments). Digest is not written by authors: it is filled in
// when the config is stored, so the config keeps running the image it
// was stored with.
type Environment struct {
	Image  string `json:"image"`
	Digest string `json:"digest,omitempty"`
}

// Defaults are the settings a stage inherits unless it overrides them.
type Defaults struct {
	Timeout time.Duration `json:"timeout"`
	Limits  Limits        `json:"limits"`
}

// Limits bound one command. A zero field means the sandbox's own default.
type Limits struct {
	CPUSeconds       int   `json:"cpu_seconds,omitempty"`
	MemoryMB         int   `json:"memory_mb,omitempty"`
	MaxProcesses     int   `json:"max_processes,omitempty"`
	MaxFileMB        int   `json:"max_file_mb,omitempty"`
	OpenFiles        int   `json:"open_files,omitempty"`
	OutputLimitBytes int64 `json:"output_limit_bytes,omitempty"`
	Network          bool  `json:"network,omitempty"`
}

// File is an assignment-provided file: a harness, expected output or hidden
// test. Its bytes are Content, or come with the config upload when Upload is
// set.
type File struct {
	Name             string `json:"name"`
	Content          string `json:"content,omitempty"`
	Upload           bool   `json:"upload,omitempty"`
	VisibleToStudent bool   `json:"visible_to_student,omitempty"`
	Executable       bool   `json:"executable,omitempty"`
	// Unpacked marks an uploaded file that came out of an assignment
	// archive: it is kept as it is, even when its name says it is an
	// archive itself.
	Unpacked bool `json:"unpacked,omitempty"`
}

// Stage is one step of the pipeline, already expanded to a plain command.
// A stage without scenarios runs once; otherwise it runs once per scenario
// and Stdin, StdinFile and Expected are unused.
type Stage struct {
	Name      string            `json:"name"`
	Kind      Kind              `json:"kind"`
	DependsOn []string          `json:"depends_on,omitempty"`
	Command   []string          `json:"command"`
	Stdin     string            `json:"stdin,omitempty"`
	StdinFile string            `json:"stdin_file,omitempty"`
	Env       map[string]string `json:"env,omitempty"`
	Workdir   string            `json:"workdir,omitempty"`
	Timeout   time.Duration     `json:"timeout"`
	Limits    Limits            `json:"limits"`
	// Files are assignment files copied into the scratch directory while
	// this stage runs.
	Files []string `json:"files,omitempty"`
	// Requires names programs that must be installed on the worker; a
	// stage whose program is missing ends in an error, not a failure.
	Requires []string `json:"requires,omitempty"`
	// ExitStatus is the exit status a run must end with; scenarios
	// inherit it unless they set their own.
	ExitStatus ExitStatus `json:"exit_status"`
	Expected   *Expected  `json:"expected,omitempty"`
	Checker    *Checker   `json:"checker,omitempty"`
	Scenarios  []Scenario `json:"scenarios,omitempty"`
	// ScenariosFrom is set while the files its glob runs over are not
	// known yet (they come in an assignment archive); expansion appends
	// its scenarios to Scenarios and clears it.
	ScenariosFrom *ScenarioSource `json:"scenarios_from,omitempty"`
	Parallelism   int             `json:"parallelism"`
	Visibility    Visibility      `json:"visibility"`
	// Points is the version 1 weight of the stage, used when there is no
	// rubric.
	Points float64 `json:"points,omitempty"`
}

// Scenario is one run of a stage's command with its own arguments, input
// and expected output.
type Scenario struct {
	Name       string            `json:"name"`
	Args       []string          `json:"args,omitempty"`
	Stdin      string            `json:"stdin,omitempty"`
	StdinFile  string            `json:"stdin_file,omitempty"`
	Env        map[string]string `json:"env,omitempty"`
	Timeout    time.Duration     `json:"timeout"`
	ExitStatus ExitStatus        `json:"exit_status"`
	Expected   *Expected         `json:"expected,omitempty"`
	Visibility Visibility        `json:"visibility"`
	// Points is what the scenario is worth when the stage has no rubric
	// component; set by scenarios_from, 0 means an equal share.
	Points float64 `json:"points,omitempty"`
}

// ExitStatus says which exit status a run must end with. The zero value
// means 0 (must_be_zero).
type ExitStatus struct {
	// Ignore accepts any exit status: the comparison or the checker alone
	// judges the run.
	Ignore bool `json:"ignore,omitempty"`
	// Code is the status required when Ignore is false.
	Code int `json:"code,omitempty"`
}

// Accepts reports whether a run that exited with code passes this rule.
func (e ExitStatus) Accepts(code int) bool {
	return e.Ignore || code == e.Code
}

// ScenarioSource generates one scenario per assignment file matching Glob,
// in natural order (2 before 10). Expected names the expected-output file
// with the placeholders {dir} (the match's directory) and {stem} (its base
// name without the last extension).
type ScenarioSource struct {
	Glob     string  `json:"glob"`
	Expected string  `json:"expected,omitempty"`
	Points   float64 `json:"points,omitempty"`
	// Compare is the stage's comparison, used by every generated scenario.
	Compare Compare `json:"compare"`
}

// Expected is the output a run must print: Text, or the content of the
// assignment file File when File is set.
type Expected struct {
	Text    string  `json:"text,omitempty"`
	File    string  `json:"file,omitempty"`
	Compare Compare `json:"compare"`
}

// Checker is an assignment program that judges a run's output instead of a
// comparison. It is called as Command followed by three file names: the
// input, the expected output and the actual output.
type Checker struct {
	Command []string `json:"command"`
	// Protocol is ProtocolFiles (one checker process per run) or
	// ProtocolBatch (one per stage, JSON lines on stdin and stdout); empty
	// means ProtocolFiles.
	Protocol string        `json:"protocol,omitempty"`
	Files    []string      `json:"files,omitempty"`
	Timeout  time.Duration `json:"timeout"`
}

// Checker protocols.
const (
	ProtocolFiles = "files"
	ProtocolBatch = "batch"
)

// Rubric turns step outcomes into a score, separately from the stages.
type Rubric struct {
	Components  []Component `json:"components"`
	Total       Total       `json:"total"`
	LimitErrors LimitErrors `json:"limit_errors"`
}

// Component is one line of the rubric, scored from one stage's steps.
// Scenarios nil means every scenario of the stage.
type Component struct {
	Name              string             `json:"name"`
	MaxScore          float64            `json:"max_score"`
	From              string             `json:"from"`
	Scenarios         []string           `json:"scenarios,omitempty"`
	Points            *float64           `json:"points,omitempty"`
	PointsPerScenario map[string]float64 `json:"points_per_scenario,omitempty"`
	Mode              Mode               `json:"mode"`
}

// Total combines the components. Nil fields are unset.
type Total struct {
	MaxScore    *float64 `json:"max_score,omitempty"`
	NormalizeTo *float64 `json:"normalize_to,omitempty"`
	Min         *float64 `json:"min,omitempty"`
	Max         *float64 `json:"max,omitempty"`
}

// Stage returns the stage with the given name.
func (d *Definition) Stage(name string) (*Stage, bool) {
	for i := range d.Stages {
		if d.Stages[i].Name == name {
			return &d.Stages[i], true
		}
	}
	return nil, false
}

// IsArchive reports whether an uploaded file is an assignment archive,
// unpacked into the assignment files when the config is taken in.
func (f File) IsArchive() bool {
	return f.Upload && !f.Unpacked && (strings.HasSuffix(f.Name, ".tar.gz") || strings.HasSuffix(f.Name, ".tgz") || strings.HasSuffix(f.Name, ".zip"))
}

// File returns the assignment file with the given name.
func (d *Definition) File(name string) (*File, bool) {
	for i := range d.Files {
		if d.Files[i].Name == name {
			return &d.Files[i], true
		}
	}
	return nil, false
}

// Order returns the indexes of the stages in an order that runs every stage
// after its dependencies; among ready stages, the one declared first goes
// first. Stages caught in a cycle, which Validate refuses, come last in
// declaration order.
func (d *Definition) Order() []int {
	index := make(map[string]int, len(d.Stages))
	for i, s := range d.Stages {
		if _, dup := index[s.Name]; !dup {
			index[s.Name] = i
		}
	}
	done := make([]bool, len(d.Stages))
	order := make([]int, 0, len(d.Stages))
	for len(order) < len(d.Stages) {
		progressed := false
		for i, s := range d.Stages {
			if done[i] || !depsDone(s.DependsOn, index, done) {
				continue
			}
			done[i] = true
			order = append(order, i)
			progressed = true
			// Restart so an earlier stage unblocked by this one goes next.
			break
		}
		if !progressed {
			for i := range d.Stages {
				if !done[i] {
					done[i] = true
					order = append(order, i)
				}
			}
		}
	}
	return order
}

func depsDone(deps []string, index map[string]int, done []bool) bool {
	for _, dep := range deps {
		if j, ok := index[dep]; ok && !done[j] {
			return false
		}
	}
	return true
}

// Runs returns what the stage executes: its scenarios, or a single unnamed
// scenario built from the stage's own input and expected output.
func (s *Stage) Runs() []Scenario {
	if len(s.Scenarios) > 0 {
		return s.Scenarios
	}
	return []Scenario{{
		Stdin:      s.Stdin,
		StdinFile:  s.StdinFile,
		Timeout:    s.Timeout,
		ExitStatus: s.ExitStatus,
		Expected:   s.Expected,
		Visibility: s.Visibility,
	}}
}

// MaxScore is the score a perfect delivery gets: the rubric's normalisation
// target, else its total max_score, else the sum of its components' maxima;
// without a rubric, the sum of the stages' points.
func (d *Definition) MaxScore() float64 {
	if d.Rubric == nil {
		sum := 0.0
		for _, s := range d.Stages {
			sum += s.Points
		}
		return round(sum)
	}
	t := d.Rubric.Total
	switch {
	case t.NormalizeTo != nil:
		return round(*t.NormalizeTo)
	case t.MaxScore != nil:
		return round(*t.MaxScore)
	}
	return round(d.Rubric.componentMax())
}

func (r *Rubric) componentMax() float64 {
	sum := 0.0
	for _, c := range r.Components {
		sum += c.MaxScore
	}
	return sum
}

// selected returns the names of the scenarios of s the component scores,
// in the stage's order; a stage without scenarios yields one unnamed entry.
func (c *Component) selected(s *Stage) []string {
	if len(s.Scenarios) == 0 {
		return []string{""}
	}
	var names []string
	for _, sc := range s.Scenarios {
		if c.Scenarios == nil || slices.Contains(c.Scenarios, sc.Name) {
			names = append(names, sc.Name)
		}
	}
	return names
}

// weight is what one selected scenario is worth in a sum-mode component:
// its points_per_scenario entry, else points, else an equal share of
// max_score when neither is given.
func (c *Component) weight(scenario string, n int) float64 {
	if w, ok := c.PointsPerScenario[scenario]; ok {
		return w
	}
	if c.Points != nil {
		return *c.Points
	}
	if len(c.PointsPerScenario) > 0 || n == 0 {
		return 0
	}
	return c.MaxScore / float64(n)
}

// round keeps four decimals so sums of fractions such as 0.1 + 0.2 print as
// the number a teacher expects.
func round(x float64) float64 {
	return math.Round(x*1e4) / 1e4
}
