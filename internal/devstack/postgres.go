package devstack

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/log"
	postgresplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/postgresql"
	"go.temporal.io/server/tools/common/schema"
	sqltool "go.temporal.io/server/tools/sql"
)

const (
	// visibilitySuffix names the visibility database after the main one, as
	// Temporal's own deployments do ("temporal" and "temporal_visibility").
	visibilitySuffix = "_visibility"
	// Schema directories inside go.temporal.io/server/schema.
	persistenceSchema = "postgresql/v12/temporal"
	visibilitySchema  = "postgresql/v12/visibility"
	// maintenanceDB is where CREATE and DROP DATABASE run.
	maintenanceDB = "postgres"
	// duplicateDatabase is PostgreSQL's SQLSTATE for CREATE DATABASE of an
	// existing name, which a concurrent creator may cause.
	duplicateDatabase = "42P04"
)

// PostgresDatabases are the two databases a Temporal cluster on PostgreSQL
// uses, derived from one URL: its database for persistence and the same name
// with "_visibility" for visibility.
type PostgresDatabases struct {
	Persistence *config.SQL
	Visibility  *config.SQL
}

// ParsePostgresURL turns postgres://user:password@host:port/name?params into
// the server's SQL configuration for both databases; the query parameters
// (sslmode and the like) become connection attributes.
func ParsePostgresURL(raw string) (PostgresDatabases, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return PostgresDatabases{}, fmt.Errorf("parse temporal database url: %w", err)
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return PostgresDatabases{}, fmt.Errorf("parse temporal database url: scheme %q, want postgres", u.Scheme)
	}
	name := strings.TrimPrefix(u.Path, "/")
	if name == "" || strings.Contains(name, "/") {
		return PostgresDatabases{}, fmt.Errorf("parse temporal database url: want one database name in the path, got %q", u.Path)
	}
	host := u.Host
	if u.Port() == "" {
		host += ":5432"
	}
	attrs := map[string]string{}
	for k, v := range u.Query() {
		attrs[k] = v[len(v)-1]
	}
	password, _ := u.User.Password()
	sql := func(db string, conns int) *config.SQL {
		return &config.SQL{
			PluginName:        postgresplugin.PluginNamePGX,
			ConnectAddr:       host,
			ConnectProtocol:   "tcp",
			User:              u.User.Username(),
			Password:          password,
			DatabaseName:      db,
			ConnectAttributes: attrs,
			// Four processes share the server's connection limit (100 by default).
			MaxConns:     conns,
			MaxIdleConns: conns,
		}
	}
	return PostgresDatabases{Persistence: sql(name, 10), Visibility: sql(name+visibilitySuffix, 4)}, nil
}

// SetupPostgres creates both databases of rawURL when missing and brings
// their schemas to the versions this server needs, with Temporal's own schema
// tool and the schema files embedded in the server module. Running it again
// on a set-up database changes nothing.
func SetupPostgres(ctx context.Context, rawURL string) error {
	dbs, err := ParsePostgresURL(rawURL)
	if err != nil {
		return err
	}
	for _, s := range []struct {
		cfg    *config.SQL
		schema string
	}{{dbs.Persistence, persistenceSchema}, {dbs.Visibility, visibilitySchema}} {
		if err := createDatabase(ctx, rawURL, s.cfg.DatabaseName); err != nil {
			return err
		}
		if err := setupSchema(s.cfg, s.schema); err != nil {
			return err
		}
	}
	return nil
}

// DropPostgres drops both databases of rawURL, closing their connections;
// missing ones are fine.
func DropPostgres(ctx context.Context, rawURL string) error {
	dbs, err := ParsePostgresURL(rawURL)
	if err != nil {
		return err
	}
	conn, err := maintenanceConn(ctx, rawURL)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	for _, name := range []string{dbs.Persistence.DatabaseName, dbs.Visibility.DatabaseName} {
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("drop database %s: %w", name, err)
		}
	}
	return nil
}

func maintenanceConn(ctx context.Context, rawURL string) (*pgx.Conn, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("parse temporal database url: %w", err)
	}
	u.Path = "/" + maintenanceDB
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		return nil, fmt.Errorf("connect to %s database: %w", maintenanceDB, err)
	}
	return conn, nil
}

func createDatabase(ctx context.Context, rawURL, name string) error {
	conn, err := maintenanceConn(ctx, rawURL)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return fmt.Errorf("look up database %s: %w", name, err)
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	var pgErr *pgconn.PgError
	if err != nil && !(errors.As(err, &pgErr) && pgErr.Code == duplicateDatabase) {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

// setupSchema is what temporal-sql-tool's "setup-schema -v 0.0" followed by
// "update-schema -d <versioned dir>" do: version tables, then every versioned
// change newer than the recorded version.
func setupSchema(cfg *config.SQL, schemaName string) error {
	logger := log.NewNoopLogger()
	conn, err := sqltool.NewConnection(cfg, logger)
	if err != nil {
		return fmt.Errorf("connect to database %s: %w", cfg.DatabaseName, err)
	}
	defer conn.Close()
	if err := schema.NewSetupSchemaTask(conn, &schema.SetupConfig{InitialVersion: "0.0"}, logger).Run(); err != nil {
		return fmt.Errorf("set up schema versioning in %s: %w", cfg.DatabaseName, err)
	}
	update := &schema.UpdateConfig{DBName: cfg.DatabaseName, SchemaName: schemaName}
	if err := schema.NewUpdateSchemaTask(conn, update, logger).Run(); err != nil {
		return fmt.Errorf("update schema of %s: %w", cfg.DatabaseName, err)
	}
	return nil
}
