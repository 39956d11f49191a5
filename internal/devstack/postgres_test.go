package devstack

import (
	"context"
	"crypto/rand"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParsePostgresURL(t *testing.T) {
	dbs, err := ParsePostgresURL("postgres://zinc:secret@db.internal/temporal?sslmode=require")
	require.NoError(t, err)
	assert.Equal(t, "db.internal:5432", dbs.Persistence.ConnectAddr)
	assert.Equal(t, "zinc", dbs.Persistence.User)
	assert.Equal(t, "secret", dbs.Persistence.Password)
	assert.Equal(t, "temporal", dbs.Persistence.DatabaseName)
	assert.Equal(t, "temporal_visibility", dbs.Visibility.DatabaseName)
	assert.Equal(t, map[string]string{"sslmode": "require"}, dbs.Visibility.ConnectAttributes)

	for _, bad := range []string{"mysql://x/db", "postgres://host", "postgres://host/a/b", "::"} {
		_, err := ParsePostgresURL(bad)
		assert.Error(t, err, bad)
	}
}

// TestSetupPostgresIsIdempotent creates both databases with their schemas on
// this machine's PostgreSQL, runs the set-up again, and drops them.
func TestSetupPostgresIsIdempotent(t *testing.T) {
	base := os.Getenv("DATABASE_URL")
	if !strings.HasPrefix(base, "postgres") {
		t.Skip("DATABASE_URL names no PostgreSQL server")
	}
	u, err := url.Parse(base)
	require.NoError(t, err)
	u.Path = "/temporal_" + strings.ToLower(rand.Text()[:10])
	db := u.String()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	t.Cleanup(func() { assert.NoError(t, DropPostgres(context.Background(), db)) })

	require.NoError(t, SetupPostgres(ctx, db))
	require.NoError(t, SetupPostgres(ctx, db), "a second run changes nothing")

	for _, name := range []string{u.Path, u.Path + visibilitySuffix} {
		v := *u
		v.Path = name
		conn, err := pgx.Connect(ctx, v.String())
		require.NoError(t, err)
		var version string
		require.NoError(t, conn.QueryRow(ctx, "SELECT curr_version FROM schema_version").Scan(&version))
		assert.NotEqual(t, "0.0", version, name)
		require.NoError(t, conn.Close(ctx))
	}
}
