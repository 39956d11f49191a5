//go:build linux

package sandbox

import (
	"bytes"
	"context"
	"log/slog"
	"os/exec"
	"slices"
	"testing"
	"time"
)

// benchCases are the per-command workloads of BENCHMARKS.md: a no-op, a C
// compile and a stdio test.
var benchCases = []struct {
	name  string
	argv  []string
	stdin string
}{
	{"true", []string{"/bin/true"}, ""},
	{"compile", []string{"cc", "-x", "c", "-o", "/tmp/a.out", "-"}, "#include <stdio.h>\nint main(void){puts(\"hi\");return 0;}\n"},
	{"stdio", []string{"/bin/sh", "-c", "read x; echo $((x * 2))"}, "21\n"},
}

// BenchmarkRun measures one command in a container against a bare
// fork/exec of the same command and reports the median and 95th percentile
// of each. Run with
//
//	go test -run '^$' -bench Run -benchtime 50x ./internal/sandbox/
func BenchmarkRun(b *testing.B) {
	for _, tt := range benchCases {
		b.Run("bare/"+tt.name, func(b *testing.B) {
			var took []time.Duration
			for b.Loop() {
				start := time.Now()
				cmd := exec.Command(tt.argv[0], tt.argv[1:]...)
				cmd.Stdin = bytes.NewReader([]byte(tt.stdin))
				cmd.Env = []string{"PATH=/usr/bin:/bin"}
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("%v: %s", err, out)
				}
				took = append(took, time.Since(start))
			}
			reportPercentiles(b, took)
		})
		b.Run("container/"+tt.name, func(b *testing.B) {
			r, err := New(Config{}, slog.New(slog.DiscardHandler))
			if err != nil {
				b.Skip(err)
			}
			b.Cleanup(func() { _ = r.Close() })
			dir := b.TempDir()
			var took []time.Duration
			for b.Loop() {
				start := time.Now()
				res, err := r.Run(context.Background(), Spec{Argv: tt.argv, Dir: dir, Stdin: []byte(tt.stdin), Env: []string{"PATH=/usr/bin:/bin"}})
				if err != nil || res.ExitCode != 0 {
					b.Fatalf("%v %+v %s", err, res, res.Stderr)
				}
				took = append(took, time.Since(start))
			}
			reportPercentiles(b, took)
		})
	}
}

func reportPercentiles(b *testing.B, took []time.Duration) {
	slices.Sort(took)
	at := func(p float64) float64 {
		return float64(took[min(len(took)-1, int(p*float64(len(took))))].Microseconds()) / 1000
	}
	b.ReportMetric(at(0.5), "p50-ms")
	b.ReportMetric(at(0.95), "p95-ms")
}
