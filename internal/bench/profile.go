package bench

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/google/pprof/profile"
)

// Components a CPU sample is charged to, in the order they are tried: a
// stack goes to the first whose rule matches any of its frames, so grading
// work that reaches SQLite counts as grading, and server work as server.
const (
	CompGradeStore    = "grading: store"
	CompGradeBucket   = "grading: bucket + archive"
	CompGradeOther    = "grading: other"
	CompServerPersist = "server: persistence"
	CompServerHistory = "server: history"
	CompServerOther   = "server: matching, frontend, other"
	CompSDK           = "SDK workers"
	CompTransport     = "gRPC + protobuf"
	CompGC            = "GC"
	CompOther         = "other"
)

// Frames that mark grading work and server work.
const (
	grader               = "extensions/pipeline.(*Grader)"
	temporalServerPrefix = "go.temporal.io/server/"
)

// Components lists every component in table order.
func Components() []string {
	return []string{
		CompGradeStore, CompGradeBucket, CompGradeOther,
		CompServerPersist, CompServerHistory, CompServerOther,
		CompSDK, CompTransport, CompGC, CompOther,
	}
}

// Breakdown is a CPU profile's time by component.
type Breakdown struct {
	Total time.Duration
	By    map[string]time.Duration
}

// Share is a component's fraction of the profile's total.
func (b Breakdown) Share(component string) float64 {
	return Ratio(float64(b.By[component]), float64(b.Total))
}

// classify names the component a stack (function names, any order) is
// charged to.
func classify(stack []string) string {
	some := func(pred func(string) bool) bool {
		for _, f := range stack {
			if pred(f) {
				return true
			}
		}
		return false
	}
	has := func(s string) bool { return some(func(f string) bool { return strings.Contains(f, s) }) }
	prefix := func(p string) bool { return some(func(f string) bool { return strings.HasPrefix(f, p) }) }
	switch {
	case prefix("runtime.gcBgMarkWorker"), prefix("runtime.bgsweep"), prefix("runtime.bgscavenge"):
		return CompGC
	case has(grader) && has("/internal/store."):
		return CompGradeStore
	case has(grader) && (prefix("gocloud.dev/") || has("/internal/archive.")):
		return CompGradeBucket
	case has(grader):
		return CompGradeOther
	case prefix(temporalServerPrefix) && (prefix(temporalServerPrefix+"common/persistence") || prefix("modernc.org/sqlite")):
		return CompServerPersist
	case prefix(temporalServerPrefix + "service/history"):
		return CompServerHistory
	case prefix(temporalServerPrefix):
		return CompServerOther
	case prefix("go.temporal.io/sdk"):
		return CompSDK
	case prefix("google.golang.org/grpc"), prefix("golang.org/x/net/http2"), prefix("google.golang.org/protobuf"):
		return CompTransport
	default:
		return CompOther
	}
}

// errMalformed marks a file that is no CPU profile.
var errMalformed = errors.New("malformed profile")

// BreakdownOf reads a CPU profile written by runtime/pprof and charges
// every sample's CPU time to a component.
func BreakdownOf(path string) (Breakdown, error) {
	f, err := os.Open(path)
	if err != nil {
		return Breakdown{}, fmt.Errorf("open profile: %w", err)
	}
	defer func() { _ = f.Close() }()
	p, err := profile.Parse(f)
	if err != nil {
		return Breakdown{}, fmt.Errorf("decode profile %s: %w: %w", path, errMalformed, err)
	}
	b, err := breakdown(p)
	if err != nil {
		return Breakdown{}, fmt.Errorf("decode profile %s: %w", path, err)
	}
	return b, nil
}

// breakdown sums the "cpu" value of every sample by component.
func breakdown(p *profile.Profile) (Breakdown, error) {
	cpu := -1
	for i, t := range p.SampleType {
		if t.Type == "cpu" {
			cpu = i
		}
	}
	if cpu < 0 {
		return Breakdown{}, fmt.Errorf("%w: no cpu sample type", errMalformed)
	}
	b := Breakdown{By: map[string]time.Duration{}}
	var stack []string
	for _, s := range p.Sample {
		if cpu >= len(s.Value) {
			return Breakdown{}, fmt.Errorf("%w: sample without cpu value", errMalformed)
		}
		stack = stack[:0]
		for _, loc := range s.Location {
			for _, line := range loc.Line {
				if line.Function != nil {
					stack = append(stack, line.Function.Name)
				}
			}
		}
		d := time.Duration(s.Value[cpu])
		b.Total += d
		b.By[classify(stack)] += d
	}
	return b, nil
}
