//go:build linux

package sandbox

import (
	"fmt"
	"os"
)

// pipes are the command's stdin, stdout and stderr.
type pipes struct {
	stdinR, stdinW   *os.File
	stdoutR, stdoutW *os.File
	stderrR, stderrW *os.File
}

func newPipes() (*pipes, error) {
	p := &pipes{}
	for _, pair := range []struct{ r, w **os.File }{
		{&p.stdinR, &p.stdinW}, {&p.stdoutR, &p.stdoutW}, {&p.stderrR, &p.stderrW},
	} {
		r, w, err := os.Pipe()
		if err != nil {
			p.closeChild()
			p.closeParent()
			return nil, fmt.Errorf("create pipe: %w", err)
		}
		*pair.r, *pair.w = r, w
	}
	return p, nil
}

// closeChild closes the ends the command inherited.
func (p *pipes) closeChild() {
	for _, f := range []*os.File{p.stdinR, p.stdoutW, p.stderrW} {
		if f != nil {
			_ = f.Close()
		}
	}
}

// closeParent closes the runner's ends; closing twice is harmless.
func (p *pipes) closeParent() {
	for _, f := range []*os.File{p.stdinW, p.stdoutR, p.stderrR} {
		if f != nil {
			_ = f.Close()
		}
	}
}
