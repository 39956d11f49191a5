package bench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/zinc-edu/orchestrator/extensions/pipeline"
	"github.com/zinc-edu/orchestrator/internal/definition"
	"github.com/zinc-edu/orchestrator/internal/demo"
	"github.com/zinc-edu/orchestrator/internal/engine"
	"github.com/zinc-edu/orchestrator/internal/harness"
)

// noopName is the pipeline name the workloadEngine grades without running anything.
const noopName = "bench-noop"

// noopConfig is a valid one-stage definition; the workloadEngine never executes
// its command.
const noopConfig = `version: 1
name: ` + noopName + `
stages:
  - name: noop
    command: ["true"]
    points: 1
`

// errNoSandbox reports a realistic pipeline on a workloadEngine built without one.
var errNoSandbox = errors.New("no sandbox: the realistic pipeline cannot run")

// workloadEngine grades the no-op pipeline at once and hands every other pipeline
// to the real engine, so one stack serves both workloads.
type workloadEngine struct {
	noop harness.NoopEngine
	real pipeline.Engine // nil when no realistic phase was asked for
}

var _ pipeline.Engine = (*workloadEngine)(nil)

// Run implements pipeline.Engine.
func (r *workloadEngine) Run(ctx context.Context, def *definition.Definition, in engine.Input) (engine.Report, error) {
	if def.Name == noopName {
		return r.noop.Run(ctx, def, in)
	}
	if r.real == nil {
		return engine.Report{}, errNoSandbox
	}
	return r.real.Run(ctx, def, in)
}

// noopDelivery is a tiny delivery: the grader still fetches, unpacks and
// cleans it up.
func noopDelivery(i int) harness.Delivery {
	return harness.Delivery{
		User:  fmt.Sprintf("student-%05d", i),
		Files: map[string][]byte{"main.c": []byte("int main(void) { return 0; }\n")},
	}
}

// realisticConfig compiles main.c and runs the ten cases, one stage each,
// as a course's stdio assignment would. The cases' timeout is generous so a
// loaded machine slows a batch down without changing its scores.
func realisticConfig() string {
	// The cases feed the demo "sum" program; together they are worth 10.
	cases := []struct{ name, stdin, want string }{
		{"small", `1 2 3\n`, `6\n`},
		{"negative", `-5 10\n-20\n`, `-15\n`},
		{"empty", ``, `0\n`},
		{"large", `2000000000 2000000000 2000000000\n`, `6000000000\n`},
		{"single", `42\n`, `42\n`},
		{"zeros", `0 0 0\n`, `0\n`},
		{"cancel", `100 -100 7\n`, `7\n`},
		{"lines", `1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n`, `55\n`},
		{"spaces", `  12   30 \n`, `42\n`},
		{"all-negative", `-1 -2 -3\n`, `-6\n`},
	}
	var b strings.Builder
	b.WriteString(`version: 1
name: bench-sum
stages:
  - name: compile
    command: [gcc, -std=c11, -O2, -Wall, -o, sum, main.c]
    timeout: 30s
    points: 0
`)
	for _, c := range cases {
		fmt.Fprintf(&b, `  - name: %s
    command: [./sum]
    stdin: "%s"
    expected_stdout: "%s"
    timeout: 10s
    points: 1
`, c.name, c.stdin, c.want)
	}
	return b.String()
}

// realisticDelivery is the i-th delivery of the realistic batch: the demo
// deliveries in turn. The one looping forever is left out: its ten
// timeouts would make the wall time measure timers, not grading.
func realisticDelivery(i int) harness.Delivery {
	_, demos := demo.Assignment()
	demos = slices.DeleteFunc(demos, func(d demo.Delivery) bool { return d.User == "erin" })
	d := demos[i%len(demos)]
	return harness.Delivery{User: fmt.Sprintf("%s-%04d", d.User, i), Files: d.Files}
}
