//go:build linux

package sandbox

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
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

// BenchmarkRun measures one command in the sandbox against a bare
// fork/exec of the same command and reports the median and 95th percentile
// of each, and the whole machine's CPU time per command (the kernel's and
// every process's: the runtime, bwrap, the command). Run with
//
//	go test -run '^$' -bench Run -benchtime 50x ./internal/sandbox/
//
// and ZINC_SANDBOX_CELLS=off for a container per command.
func BenchmarkRun(b *testing.B) {
	for _, tt := range benchCases {
		b.Run("bare/"+tt.name, func(b *testing.B) {
			var took []time.Duration
			defer reportMachineCPU(b, machineCPU())
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
			r, err := New(Config{Cells: os.Getenv("ZINC_SANDBOX_CELLS")}, slog.New(slog.DiscardHandler))
			if err != nil {
				b.Skip(err)
			}
			b.Cleanup(func() { _ = r.Close() })
			dir := b.TempDir()
			var took []time.Duration
			defer reportMachineCPU(b, machineCPU())
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

// machineCPU is the busy time of all CPUs so far, from /proc/stat (user,
// nice, system, irq, softirq and steal, in USER_HZ ticks of 10 ms).
func machineCPU() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	var ticks int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		if i < len(f) {
			n, _ := strconv.ParseInt(f[i], 10, 64)
			ticks += n
		}
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

// reportMachineCPU reports the machine's CPU time per command since
// before; work the kernel defers (namespace and mount clean-up) is
// counted when it runs within the benchmark.
func reportMachineCPU(b *testing.B, before time.Duration) {
	if b.N > 0 {
		b.ReportMetric(float64((machineCPU()-before).Microseconds())/1000/float64(b.N), "cpu-ms/op")
	}
}
