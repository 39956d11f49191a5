package sandbox

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestLimitHitNeedsEvidence(t *testing.T) {
	limit := 2 * time.Second
	for _, tt := range []struct {
		name  string
		facts hitFacts
		want  string
	}{
		{"SIGXCPU after the CPU time", hitFacts{signal: "SIGXCPU", cpuUsed: limit, cpuLimit: limit}, LimitCPU},
		{"SIGXCPU within tick slack", hitFacts{signal: "SIGXCPU", cpuUsed: limit * 6 / 10, cpuLimit: limit}, LimitCPU},
		{"SIGXCPU raised early", hitFacts{signal: "SIGXCPU", cpuUsed: limit / 10, cpuLimit: limit}, ""},
		{"exit 152 early", hitFacts{exitCode: 152, cpuUsed: limit / 10, cpuLimit: limit}, ""},
		{"hard limit SIGKILL", hitFacts{signal: "SIGKILL", cpuUsed: limit + time.Second, cpuLimit: limit}, LimitCPU},
		{"our own SIGKILL", hitFacts{signal: "SIGKILL", killedByUs: true, cpuUsed: limit, cpuLimit: limit}, ""},
		{"SIGXFSZ without a file at the cap", hitFacts{signal: "SIGXFSZ", cpuLimit: limit}, ""},
		{"exit 153 without a file at the cap", hitFacts{exitCode: 153, cpuLimit: limit}, ""},
		{"file at the cap", hitFacts{fileAtCap: true, cpuLimit: limit}, LimitFileSize},
		{"memory first", hitFacts{oomKills: 1, signal: "SIGKILL", cpuUsed: limit, cpuLimit: limit}, LimitMemory},
		{"flood first", hitFacts{flooded: true, oomKills: 1, cpuLimit: limit}, LimitOutput},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, limitHit(tt.facts))
		})
	}
}
