//go:build linux

package sandbox

import (
	"context"
	"log/slog"
	"os/exec"
	"strings"
	"testing"
)

// BenchmarkRun measures the per-command cost of a container against a
// bare fork/exec of the same command. Run with
// go test -run '^$' -bench Run -benchtime 50x ./internal/sandbox/
func BenchmarkRun(b *testing.B) {
	for _, tt := range []struct {
		name string
		argv []string
	}{
		{"true", []string{"/bin/true"}},
		{"stdio", []string{"/bin/sh", "-c", "read x; echo $x"}},
	} {
		b.Run("bare/"+tt.name, func(b *testing.B) {
			for b.Loop() {
				cmd := exec.Command(tt.argv[0], tt.argv[1:]...)
				cmd.Stdin = strings.NewReader("42\n")
				if err := cmd.Run(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("container/"+tt.name, func(b *testing.B) {
			r := benchRunner(b)
			dir := b.TempDir()
			for b.Loop() {
				if _, err := r.Run(context.Background(), Spec{Argv: tt.argv, Dir: dir, Stdin: []byte("42\n")}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func benchRunner(b *testing.B) *Runner {
	r, err := New(Config{}, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Skip(err)
	}
	b.Cleanup(func() { _ = r.Close() })
	return r
}
