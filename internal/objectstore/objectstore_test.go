package objectstore_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"gocloud.dev/blob"

	"github.com/zinc-edu/orchestrator/internal/objectstore"
	"github.com/zinc-edu/orchestrator/internal/servicedefaults"
)

func open(t *testing.T, url string) *blob.Bucket {
	t.Helper()
	b, err := objectstore.Open(context.Background(), url)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.Close()) })
	return b
}

func TestOpenFileCreatesDirectoryAndStoresObjects(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "blobs", "nested")
	b := open(t, "file://"+dir)
	ctx := context.Background()
	key := objectstore.DeliveryKey("d1")

	require.NoError(t, b.WriteAll(ctx, key, []byte("archive bytes"), nil))

	got, err := b.ReadAll(ctx, key)
	require.NoError(t, err)
	assert.Equal(t, "archive bytes", string(got))
	onDisk, err := os.ReadFile(filepath.Join(dir, "deliveries", "d1", "files.tar.gz"))
	require.NoError(t, err)
	assert.Equal(t, "archive bytes", string(onDisk), "keys map to paths under the directory")
	require.NoError(t, objectstore.Ready(ctx, b))
}

func TestOpenFileKeepsGivenQuery(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "blobs")
	b := open(t, "file://"+dir+"?metadata=skip")

	require.NoError(t, b.WriteAll(context.Background(), "k", []byte("v"), nil))

	_, err := os.Stat(filepath.Join(dir, "k.attrs"))
	assert.ErrorIs(t, err, os.ErrNotExist, "metadata=skip still applies")
}

func TestOpenMemListsRunObjects(t *testing.T) {
	b := open(t, "mem://")
	ctx := context.Background()
	require.NoError(t, b.WriteAll(ctx, objectstore.ResultKey("d1", "r1"), []byte("{}"), nil))
	require.NoError(t, b.WriteAll(ctx, objectstore.StepKey("d1", "r1", "build", "", "stdout"), []byte("ok"), nil))
	require.NoError(t, b.WriteAll(ctx, objectstore.ResultKey("d1", "r2"), []byte("{}"), nil))

	var keys []string
	it := b.List(&blob.ListOptions{Prefix: objectstore.RunPrefix("d1", "r1")})
	for {
		obj, err := it.Next(ctx)
		if err != nil {
			break
		}
		keys = append(keys, obj.Key)
	}

	assert.ElementsMatch(t, []string{"grading/d1/r1/result.json", "grading/d1/r1/build/_/stdout.txt"}, keys)
}

func TestOpenRejects(t *testing.T) {
	tests := []struct {
		name    string
		giveURL string
		wantIs  error
	}{
		{name: "empty", giveURL: "", wantIs: objectstore.ErrNoURL},
		{name: "unknown scheme", giveURL: "ftp://host/dir"},
		{name: "unparsable", giveURL: "file://%zz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := objectstore.Open(context.Background(), tt.giveURL)

			require.Error(t, err)
			if tt.wantIs != nil {
				assert.ErrorIs(t, err, tt.wantIs)
			}
		})
	}
}

func TestReadyFailsOnClosedBucket(t *testing.T) {
	b, err := objectstore.Open(context.Background(), "mem://")
	require.NoError(t, err)
	require.NoError(t, objectstore.Ready(context.Background(), b))
	require.NoError(t, b.Close())

	err = objectstore.Ready(context.Background(), b)

	require.Error(t, err)
}

func TestKeys(t *testing.T) {
	tests := []struct {
		name string
		give string
		want string
	}{
		{name: "delivery", give: objectstore.DeliveryKey("d1"), want: "deliveries/d1/files.tar.gz"},
		{name: "run prefix", give: objectstore.RunPrefix("d1", "r1"), want: "grading/d1/r1/"},
		{name: "step", give: objectstore.StepKey("d1", "r1", "tests", "case-1", "stdout"), want: "grading/d1/r1/tests/case-1/stdout.txt"},
		{name: "step without scenario", give: objectstore.StepKey("d1", "r1", "build", "", "stderr"), want: "grading/d1/r1/build/_/stderr.txt"},
		{name: "result", give: objectstore.ResultKey("d1", "r1"), want: "grading/d1/r1/result.json"},
		{name: "config asset", give: objectstore.ConfigAssetKey("c1", "expected.txt"), want: "configs/c1/assets/expected.txt"},
		{name: "config asset path", give: objectstore.ConfigAssetKey("c1", "tests/in 1.txt"), want: "configs/c1/assets/tests/in%201.txt"},
		{name: "slash stays in its segment", give: objectstore.StepKey("d/x", "r1", "a/b", "", "stdout"), want: "grading/d%2Fx/r1/a%2Fb/_/stdout.txt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.give)
		})
	}
}

func TestModuleLifecycle(t *testing.T) {
	t.Setenv("ZINC_HEALTH_ADDR", "127.0.0.1:0")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("LOG_LEVEL", "warn")
	dir := filepath.Join(t.TempDir(), "blobs")
	var (
		b *blob.Bucket
		h *servicedefaults.Health
	)
	app := fxtest.New(t,
		servicedefaults.Module,
		objectstore.Module,
		fx.Supply(servicedefaults.BuildInfo{Name: "objectstore-test"}, objectstore.Config{URL: "file://" + dir}),
		fx.NopLogger,
		fx.Populate(&b, &h),
	)
	app.RequireStart()

	assert.Empty(t, h.Check(context.Background()), "blob readiness passes")
	require.NoError(t, b.WriteAll(context.Background(), "k", []byte("v"), nil))

	app.RequireStop()

	require.Error(t, objectstore.Ready(context.Background(), b), "the bucket is closed on stop")
}
