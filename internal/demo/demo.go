// Package demo holds the demo assignment that `apphost --demo` grades: a
// small C program that sums the integers on its stdin, its version-1
// pipeline definition, and deliveries whose scores are known in advance —
// correct, wrong, broken and partly right — so that a run of the demo shows
// at a glance whether grading works.
package demo

import (
	"embed"
	"io/fs"
	"path"
)

//go:embed assignment
var assignment embed.FS

// Delivery is one demo submission: its author, its files by name, and the
// score the pipeline must give it.
type Delivery struct {
	User      string
	Files     map[string][]byte
	WantScore float64
}

// Assignment returns the demo pipeline definition (YAML, version 1) and the
// demo deliveries, ordered by user. Each call returns fresh copies.
func Assignment() (configYAML string, deliveries []Delivery) {
	// Scores out of 10: compile 0, small 1, negative 2, empty 3, large 4.
	wantScores := []struct {
		user  string
		score float64
	}{
		{"alice", 10}, // correct
		{"bob", 0},    // wrong answer: off by one everywhere
		{"carol", 0},  // compile error: every test stage skipped
		{"dave", 0},   // crash: SIGSEGV in every test stage
		{"erin", 0},   // infinite loop: every test stage times out
		{"frank", 6},  // partial: int overflow fails "large"
		{"grace", 8},  // partial: ignores minus signs, fails "negative"
		{"heidi", 10}, // correct after trailing-whitespace and CRLF normalisation
		{"ivan", 0},   // right output but exit status 1
	}
	// The files are embedded at build time; a read error here would mean a
	// broken build, which the package's tests catch.
	config, _ := assignment.ReadFile("assignment/pipeline.yaml")
	for _, w := range wantScores {
		dir := path.Join("assignment/deliveries", w.user)
		files := map[string][]byte{}
		entries, _ := fs.ReadDir(assignment, dir)
		for _, e := range entries {
			if e.IsDir() {
				continue
			}
			data, _ := assignment.ReadFile(path.Join(dir, e.Name()))
			files[e.Name()] = data
		}
		deliveries = append(deliveries, Delivery{User: w.user, Files: files, WantScore: w.score})
	}
	return string(config), deliveries
}
