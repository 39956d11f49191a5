package store_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/store"
	"github.com/zinc-edu/orchestrator/internal/store/storetest"
)

func environment(name, digestByte string) grading.Environment {
	return grading.Environment{
		Name: name, Digest: "sha256:" + strings.Repeat(digestByte, 64), ManifestDigest: "sha256:" + strings.Repeat("f", 64),
		Size: 1234, ObjectKey: "environments/" + name, CreatedBy: "admin",
	}
}

func TestEnvironmentRoundTrip(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		created, err := s.CreateEnvironment(t.Context(), environment("py", "a"))
		require.NoError(t, err)
		assert.False(t, created.CreatedAt.IsZero())

		got, err := s.Environment(t.Context(), "py")
		require.NoError(t, err)
		assert.Equal(t, created, got)

		_, err = s.Environment(t.Context(), "missing")
		assert.ErrorIs(t, err, grading.ErrNotFound)

		used, err := s.EnvironmentDigestInUse(t.Context(), created.Digest)
		require.NoError(t, err)
		assert.True(t, used)
		used, err = s.EnvironmentDigestInUse(t.Context(), environment("other", "b").Digest)
		require.NoError(t, err)
		assert.False(t, used)
	})
}

// A name keeps its first content: the store refuses any second row, and
// the caller tells a repeated upload from a clash by the digest.
func TestEnvironmentNameIsTakenOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		_, err := s.CreateEnvironment(t.Context(), environment("py", "a"))
		require.NoError(t, err)

		_, err = s.CreateEnvironment(t.Context(), environment("py", "b"))
		require.ErrorIs(t, err, grading.ErrConflict)

		got, err := s.Environment(t.Context(), "py")
		require.NoError(t, err)
		assert.Equal(t, "sha256:"+strings.Repeat("a", 64), got.Digest)
	})
}

func TestEnvironmentRefusesInvalidName(t *testing.T) {
	s := storetest.Open(t)
	_, err := s.CreateEnvironment(t.Context(), environment("Py", "a"))
	require.ErrorContains(t, err, `invalid name "Py"`)
}

func TestEnvironmentsListNewestFirstInPages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		for i := range 3 {
			_, err := s.CreateEnvironment(t.Context(), environment(fmt.Sprintf("env-%d", i), "a"))
			require.NoError(t, err)
		}
		first, next, err := s.Environments(t.Context(), "", 2)
		require.NoError(t, err)
		require.NotEmpty(t, next)
		rest, last, err := s.Environments(t.Context(), next, 2)
		require.NoError(t, err)
		assert.Empty(t, last)

		var names []string
		for _, e := range append(first, rest...) {
			names = append(names, e.Name)
		}
		assert.Equal(t, []string{"env-2", "env-1", "env-0"}, names)
	})
}
