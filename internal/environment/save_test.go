package environment_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gocloud.dev/blob"
	"gocloud.dev/blob/memblob"

	"github.com/zinc-edu/orchestrator/internal/environment"
	"github.com/zinc-edu/orchestrator/internal/environment/envtest"
	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/objectstore"
	"github.com/zinc-edu/orchestrator/internal/store"
	"github.com/zinc-edu/orchestrator/internal/store/storetest"
)

// The production store implements what Save needs.
var _ environment.Rows = (*store.Store)(nil)

func newBucket(t *testing.T) *blob.Bucket {
	t.Helper()
	b := memblob.OpenBucket(nil)
	t.Cleanup(func() { assert.NoError(t, b.Close()) })
	return b
}

func keys(t *testing.T, b *blob.Bucket) []string {
	t.Helper()
	var out []string
	it := b.List(nil)
	for {
		obj, err := it.Next(context.Background())
		if err != nil {
			return out
		}
		out = append(out, obj.Key)
	}
}

func TestSaveStoresTheImageOnceAndItsRow(t *testing.T) {
	bucket, s := newBucket(t), storetest.Open(t)
	l := envtest.NewLayout(t, shellLayer(t))
	b := l.Tar(t)

	env, created, err := environment.Save(t.Context(), bucket, s, "tiny", "admin", writeTar(t, b), environment.Limits{})

	require.NoError(t, err)
	assert.True(t, created)
	assert.Equal(t, "tiny", env.Name)
	assert.Equal(t, envtest.Digest(b), env.Digest)
	assert.Equal(t, l.ManifestDigest, env.ManifestDigest)
	assert.Equal(t, int64(len(b)), env.Size)
	assert.Equal(t, "admin", env.CreatedBy)
	stored, err := bucket.ReadAll(t.Context(), env.ObjectKey)
	require.NoError(t, err)
	assert.Equal(t, b, stored)
	assert.Equal(t, objectstore.EnvironmentKey(env.Digest), env.ObjectKey)

	row, err := s.Environment(t.Context(), "tiny")
	require.NoError(t, err)
	assert.Equal(t, env, row)
}

// Uploading the same bytes under the same name again changes nothing and
// says so; other bytes under a taken name are a conflict.
func TestSaveIsIdempotentAndRefusesOtherContent(t *testing.T) {
	bucket, s := newBucket(t), storetest.Open(t)
	b := envtest.NewLayout(t, shellLayer(t)).Tar(t)
	first, _, err := environment.Save(t.Context(), bucket, s, "tiny", "admin", writeTar(t, b), environment.Limits{})
	require.NoError(t, err)

	again, created, err := environment.Save(t.Context(), bucket, s, "tiny", "someone else", writeTar(t, b), environment.Limits{})
	require.NoError(t, err)
	assert.False(t, created)
	assert.Equal(t, first, again)

	other := envtest.NewLayout(t, shellLayer(t, envtest.File{Name: "extra", Data: []byte("x")})).Tar(t)
	_, _, err = environment.Save(t.Context(), bucket, s, "tiny", "admin", writeTar(t, other), environment.Limits{})
	require.ErrorIs(t, err, grading.ErrConflict)
	var conflict *environment.ConflictError
	require.ErrorAs(t, err, &conflict)
	assert.Equal(t, first, conflict.Existing)
	assert.Equal(t, []string{first.ObjectKey}, keys(t, bucket), "the refused image is not stored")
}

// Two names with the same content share one object.
func TestSaveSharesTheObjectOfEqualImages(t *testing.T) {
	bucket, s := newBucket(t), storetest.Open(t)
	b := envtest.NewLayout(t, shellLayer(t)).Tar(t)

	a, _, err := environment.Save(t.Context(), bucket, s, "a", "admin", writeTar(t, b), environment.Limits{})
	require.NoError(t, err)
	c, created, err := environment.Save(t.Context(), bucket, s, "c", "admin", writeTar(t, b), environment.Limits{})
	require.NoError(t, err)

	assert.True(t, created)
	assert.Equal(t, a.ObjectKey, c.ObjectKey)
	assert.Len(t, keys(t, bucket), 1)
}

func TestSaveStoresNothingForABadImageOrName(t *testing.T) {
	bucket, s := newBucket(t), storetest.Open(t)
	good := envtest.NewLayout(t, shellLayer(t)).Tar(t)
	noShell := envtest.NewLayout(t, envtest.Layer(t, envtest.File{Name: "etc/"})).Tar(t)

	_, _, err := environment.Save(t.Context(), bucket, s, "tiny", "admin", writeTar(t, noShell), environment.Limits{})
	require.ErrorIs(t, err, environment.ErrInvalid)
	_, _, err = environment.Save(t.Context(), bucket, s, "Not/A/Name", "admin", writeTar(t, good), environment.Limits{})
	require.ErrorIs(t, err, environment.ErrInvalid)
	assert.ErrorContains(t, err, `name: invalid environment name "Not/A/Name"`)

	assert.Empty(t, keys(t, bucket))
	items, _, err := s.Environments(t.Context(), "", 10)
	require.NoError(t, err)
	assert.Empty(t, items)
}

// rivalRows lets another upload of the name commit between Save's look-up
// and its insert.
type rivalRows struct {
	*store.Store
	rival grading.Environment
}

func (r rivalRows) CreateEnvironment(ctx context.Context, env grading.Environment) (grading.Environment, error) {
	if _, err := r.Store.CreateEnvironment(ctx, r.rival); err != nil {
		return grading.Environment{}, err
	}
	return r.Store.CreateEnvironment(ctx, env)
}

// Losing the race for a name to other content is a conflict that leaves
// nothing of the loser in the bucket.
func TestSaveLosingTheNameToOtherContentStoresNothing(t *testing.T) {
	bucket, s := newBucket(t), storetest.Open(t)
	b := envtest.NewLayout(t, shellLayer(t)).Tar(t)
	rival := grading.Environment{Name: "tiny", Digest: "sha256:" + strings.Repeat("a", 64), ManifestDigest: "sha256:" + strings.Repeat("b", 64),
		Size: 1, ObjectKey: "elsewhere", CreatedBy: "rival"}

	_, _, err := environment.Save(t.Context(), bucket, rivalRows{Store: s, rival: rival}, "tiny", "admin", writeTar(t, b), environment.Limits{})

	var conflict *environment.ConflictError
	require.ErrorAs(t, err, &conflict)
	assert.Equal(t, rival.Digest, conflict.Existing.Digest)
	assert.Empty(t, keys(t, bucket), "the loser's object is removed")
}

// failingRows lets an upload of the same bytes under another name commit
// while this one is being saved, then fails this one's insert.
type failingRows struct {
	*store.Store
	meanwhile func()
}

func (r failingRows) CreateEnvironment(context.Context, grading.Environment) (grading.Environment, error) {
	r.meanwhile()
	return grading.Environment{}, errors.New("database unavailable")
}

// A save that fails after writing the shared object does not take it from
// an environment of the same bytes saved meanwhile.
func TestSaveFailingKeepsTheObjectAnEqualImageSavedMeanwhile(t *testing.T) {
	bucket, s := newBucket(t), storetest.Open(t)
	b := envtest.NewLayout(t, shellLayer(t)).Tar(t)
	var other grading.Environment
	meanwhile := func() {
		var err error
		other, _, err = environment.Save(t.Context(), bucket, s, "other", "admin", writeTar(t, b), environment.Limits{})
		require.NoError(t, err)
	}

	_, _, err := environment.Save(t.Context(), bucket, failingRows{Store: s, meanwhile: meanwhile}, "first", "admin", writeTar(t, b), environment.Limits{})
	require.ErrorContains(t, err, "database unavailable")

	assert.Equal(t, []string{other.ObjectKey}, keys(t, bucket))
}

// deletingRows removes the shared object just before the row is inserted,
// as a failing save of the same bytes may.
type deletingRows struct {
	*store.Store
	bucket *blob.Bucket
}

func (r deletingRows) CreateEnvironment(ctx context.Context, env grading.Environment) (grading.Environment, error) {
	if err := r.bucket.Delete(ctx, env.ObjectKey); err != nil {
		return grading.Environment{}, err
	}
	return r.Store.CreateEnvironment(ctx, env)
}

// A saved environment's object exists even when another save removed it
// between this save's upload and its row.
func TestSaveRestoresAnObjectRemovedMeanwhile(t *testing.T) {
	bucket, s := newBucket(t), storetest.Open(t)
	b := envtest.NewLayout(t, shellLayer(t)).Tar(t)

	env, created, err := environment.Save(t.Context(), bucket, deletingRows{Store: s, bucket: bucket}, "tiny", "admin", writeTar(t, b), environment.Limits{})
	require.NoError(t, err)
	assert.True(t, created)
	assert.Equal(t, []string{env.ObjectKey}, keys(t, bucket))
}
