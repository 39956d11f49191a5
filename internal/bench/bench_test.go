package bench

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/definition"
	"github.com/zinc-edu/orchestrator/internal/engine"
	"github.com/zinc-edu/orchestrator/internal/grading"
)

func validConfig() Config {
	return Config{Ns: []int{2000, 10000}, Chunks: []int{1, 50}, Concurrency: 100, RealisticN: 40}
}

func TestConfigValidate(t *testing.T) {
	require.NoError(t, validConfig().Validate())

	tests := []struct {
		name string
		give func(*Config)
		want string
	}{
		{"nothing to measure", func(c *Config) { c.Ns, c.RealisticN = nil, 0 }, "nothing to measure"},
		{"no chunk", func(c *Config) { c.Chunks = nil }, "no chunk size"},
		{"chunk too big", func(c *Config) { c.Chunks = []int{501} }, "chunk 501: want 1..500"},
		{"concurrency zero", func(c *Config) { c.Concurrency = 0 }, "concurrency 0: want 1..500"},
		{"negative realistic", func(c *Config) { c.RealisticN = -1 }, "realistic n -1"},
		{"negative rounds", func(c *Config) { c.RealisticRounds = -1 }, "realistic rounds -1"},
		{"zero n", func(c *Config) { c.Ns = []int{0} }, "n 0: want at least 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.give(&c)
			err := c.Validate()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestQuickShrinksSizesOnly(t *testing.T) {
	q := validConfig().Quick()
	assert.Equal(t, []int{200}, q.Ns)
	assert.Equal(t, 4, q.RealisticN)
	assert.Equal(t, []int{1, 50}, q.Chunks)
	assert.Equal(t, 100, q.Concurrency)
	require.NoError(t, q.Validate())
}

type fakeEngine struct{ called bool }

func (f *fakeEngine) Run(context.Context, *definition.Definition, engine.Input) (engine.Report, error) {
	f.called = true
	return engine.Report{Result: grading.Result{Status: grading.StatusGraded, Score: 7, MaxScore: 10}}, nil
}

func TestWorkloadEngineGradesNoopWithoutTheEngine(t *testing.T) {
	def, err := definition.Parse([]byte(noopConfig))
	require.NoError(t, err)
	real := &fakeEngine{}
	rep, err := (&workloadEngine{real: real}).Run(context.Background(), def, engine.Input{})
	require.NoError(t, err)
	assert.False(t, real.called)
	assert.Equal(t, grading.StatusGraded, rep.Status)
	assert.Equal(t, 1.0, rep.Score)
}

func TestWorkloadEngineHandsOtherPipelinesToTheEngine(t *testing.T) {
	def, err := definition.Parse([]byte(realisticConfig()))
	require.NoError(t, err)
	real := &fakeEngine{}
	rep, err := (&workloadEngine{real: real}).Run(context.Background(), def, engine.Input{})
	require.NoError(t, err)
	assert.True(t, real.called)
	assert.Equal(t, 7.0, rep.Score)

	_, err = (&workloadEngine{}).Run(context.Background(), def, engine.Input{})
	assert.ErrorIs(t, err, errNoSandbox)
}

func TestRealisticConfigCompilesThenRunsTenCases(t *testing.T) {
	def, err := definition.Parse([]byte(realisticConfig()))
	require.NoError(t, err)
	require.Len(t, def.Stages, 11)
	assert.Equal(t, "compile", def.Stages[0].Name)
	assert.Equal(t, 10.0, def.MaxScore())
	assert.Equal(t, "2000000000 2000000000 2000000000\n", def.Stages[4].Stdin)
}

func TestRealisticDeliveriesSkipTheEndlessLoop(t *testing.T) {
	users := map[string]bool{}
	for i := range 16 {
		d := realisticDelivery(i)
		assert.NotContains(t, d.User, "erin")
		assert.Contains(t, d.Files, "main.c")
		users[d.User] = true
	}
	assert.Len(t, users, 16, "users are unique")
}
