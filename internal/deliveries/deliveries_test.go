package deliveries

import (
	"context"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
	"gocloud.dev/blob/memblob"

	"github.com/zinc-edu/orchestrator/internal/archive"
	"github.com/zinc-edu/orchestrator/internal/grading"
	"github.com/zinc-edu/orchestrator/internal/store/storetest"
)

func TestSaveStoresObjectAndRow(t *testing.T) {
	ctx := context.Background()
	s := storetest.Open(t)
	bucket := memblob.OpenBucket(nil)
	col, err := s.CreateCollection(ctx, grading.Collection{Name: "lab"})
	require.NoError(t, err)

	d, stats, err := Save(ctx, bucket, s, col.ID, "ann", []archive.File{{Name: "main.c", Data: []byte("int main(){}")}}, archive.Limits{})
	require.NoError(t, err)
	require.Equal(t, 1, stats.Files)
	stored, err := s.Delivery(ctx, d.ID)
	require.NoError(t, err)
	require.Equal(t, "ann", stored.User)
	attrs, err := bucket.Attributes(ctx, stored.ObjectKey)
	require.NoError(t, err)
	require.Equal(t, stored.Size, attrs.Size)
	require.Len(t, stored.Checksum, 64)
}

func TestSaveLeavesNothingBehind(t *testing.T) {
	ctx := context.Background()
	s := storetest.Open(t)
	bucket := memblob.OpenBucket(nil)

	_, _, err := Save(ctx, bucket, s, "any", "ann", []archive.File{{Name: "../x.c", Data: []byte("x")}}, archive.Limits{})
	require.ErrorIs(t, err, archive.ErrUnsafePath)

	// An unknown collection fails the row: the uploaded object goes too.
	_, _, err = Save(ctx, bucket, s, "missing", "ann", []archive.File{{Name: "a.c", Data: []byte("x")}}, archive.Limits{})
	require.ErrorIs(t, err, grading.ErrNotFound)
	it := bucket.List(nil)
	_, err = it.Next(ctx)
	require.ErrorIs(t, err, io.EOF, "no object may remain")
}
