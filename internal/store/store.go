package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/XSAM/otelsql"
	"github.com/exaring/otelpgx"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/zinc-edu/orchestrator/internal/grading"
)

// dialect names the SQL dialect (the database) behind a Store.
type dialect string

const (
	dialectSQLite   dialect = "sqlite"
	dialectPostgres dialect = "postgres"
)

// sqliteBusyTimeout is how long a SQLite connection waits for another
// connection or process to release the write lock before reporting
// "database is locked". Writes are short, so reaching it means something is
// stuck rather than busy.
const sqliteBusyTimeout = 10 * time.Second

// sqlitePragma is a SQLite setting a connection gets unless its URL sets
// the same pragma itself.
type sqlitePragma struct{ name, value string }

// sqliteDefaults are the pragmas every SQLite connection gets by default.
// WAL lets readers proceed while one process writes; foreign keys are off in
// SQLite unless asked for; synchronous=NORMAL is durable enough under WAL.
func sqliteDefaults() []sqlitePragma {
	return []sqlitePragma{
		{"busy_timeout", fmt.Sprintf("busy_timeout(%d)", sqliteBusyTimeout.Milliseconds())},
		{"journal_mode", "journal_mode(WAL)"},
		{"foreign_keys", "foreign_keys(1)"},
		{"synchronous", "synchronous(NORMAL)"},
	}
}

// Connection pool sizes per engine.
const (
	postgresConns = 32
	sqliteConns   = 8
)

// Store reads and writes ZINC's grading data. It is safe for concurrent use.
type Store struct {
	db      *sql.DB
	dialect dialect
	log     *slog.Logger
	// onAnnounce is called after each commit that wrote an outbox event.
	onAnnounce atomic.Pointer[func()]
}

// OnAnnounce makes the store call fn after each commit that wrote an
// outbox event, so that a relay in this process publishes it at once
// instead of at its next poll. fn must not block.
func (s *Store) OnAnnounce(fn func()) { s.onAnnounce.Store(&fn) }

// announced tells the OnAnnounce callback that an event was committed.
func (s *Store) announced() {
	if fn := s.onAnnounce.Load(); fn != nil {
		(*fn)()
	}
}

// Option adjusts how [Open] connects.
type Option func(*options)

type options struct {
	tp trace.TracerProvider
	mp metric.MeterProvider
}

// WithTracerProvider makes every database call a client span (otelpgx on
// PostgreSQL, otelsql on SQLite) under the caller's span. Calls made outside
// any span record none, so background polling does not start traces of its
// own. Without this option the store records no spans.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(o *options) { o.tp = tp }
}

// WithMeterProvider sets where the database instrumentation reports its
// metrics (query durations and, on SQLite, pool statistics). Without this
// option it reports none.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(o *options) { o.mp = mp }
}

// Open connects to the database named by rawURL and checks that it answers.
//
// postgres:// and postgresql:// URLs use pgx; runtime parameters such as
// search_path may be given as query parameters. sqlite:///abs/file.db and
// sqlite:relative.db (percent-encoded paths) and SQLite file: URIs use
// modernc.org/sqlite with WAL, a busy timeout, foreign keys on and
// write-locking transactions, unless the URL's own _pragma and _txlock
// parameters say otherwise. Open does not apply migrations: call
// [Store.Migrate]. A nil log discards the store's lifecycle lines.
func Open(ctx context.Context, rawURL string, log *slog.Logger, opts ...Option) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	o := options{tp: tracenoop.NewTracerProvider(), mp: metricnoop.NewMeterProvider()}
	for _, opt := range opts {
		opt(&o)
	}
	var (
		db  *sql.DB
		eng dialect
		err error
	)
	switch {
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		eng = dialectPostgres
		db, err = openPostgres(rawURL, o)
	case strings.HasPrefix(rawURL, "sqlite:"), strings.HasPrefix(rawURL, "file:"):
		eng = dialectSQLite
		db, err = openSQLite(rawURL, o)
	default:
		// The URL may carry a password, so only its scheme goes into the error.
		scheme, _, _ := strings.Cut(rawURL, ":")
		//lint:ignore ST1005 the message ends with the last accepted scheme, "file:".
		return nil, fmt.Errorf("open store: unsupported database URL scheme %q: want postgres://, sqlite: or file:", scheme)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s store: %w", eng, err)
	}
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open %s store: %w", eng, err)
	}
	log.InfoContext(ctx, "store opened", "engine", string(eng))
	return &Store{db: db, dialect: eng, log: log}, nil
}

// openPostgres returns a pool of pgx connections for a postgres URL.
func openPostgres(rawURL string, o options) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(rawURL)
	if err != nil {
		return nil, fmt.Errorf("parse postgres URL: %w", err)
	}
	// otelpgx starts a span only under a recording one and keeps the
	// statement text (never its arguments) as db.query.text.
	cfg.Tracer = otelpgx.NewTracer(otelpgx.WithTracerProvider(o.tp), otelpgx.WithMeterProvider(o.mp))
	db := stdlib.OpenDB(*cfg)
	// Keep as many idle connections as may be open: with the default two
	// idle, a hundred concurrent graders dial and close connections all
	// the time (98 → 834 results/s in BENCHMARKS.md).
	db.SetMaxOpenConns(postgresConns)
	db.SetMaxIdleConns(postgresConns)
	return db, nil
}

// openSQLite returns a pool of SQLite connections for a sqlite: URL or a
// file: URI.
func openSQLite(rawURL string, o options) (*sql.DB, error) {
	dsn, err := sqliteDSN(rawURL)
	if err != nil {
		return nil, err
	}
	connector, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse sqlite DSN: %w", err)
	}
	db := otelsql.OpenDB(connector,
		otelsql.WithTracerProvider(o.tp),
		otelsql.WithMeterProvider(o.mp),
		otelsql.WithAttributes(semconv.DBSystemNameSQLite),
		otelsql.WithSpanOptions(otelsql.SpanOptions{
			// Like otelpgx: only calls made under a span, one span per
			// statement, no spans for connection housekeeping.
			SpanFilter: func(ctx context.Context, _ otelsql.Method, _ string, _ []driver.NamedValue) bool {
				return trace.SpanFromContext(ctx).IsRecording()
			},
			OmitConnResetSession: true,
			OmitConnectorConnect: true,
			OmitRows:             true,
			DisableErrSkip:       true,
		}))
	// SQLite writes one at a time anyway; a small pool of kept connections
	// avoids reopening the file and re-running its pragmas per query.
	db.SetMaxOpenConns(sqliteConns)
	db.SetMaxIdleConns(sqliteConns)
	return db, nil
}

// sqliteDSN turns a sqlite: URL or a file: URI into a modernc file: URI
// carrying the default pragmas the URL does not set itself.
func sqliteDSN(rawURL string) (string, error) {
	base, rawQuery, _ := strings.Cut(rawURL, "?")
	if path, ok := strings.CutPrefix(base, "sqlite:"); ok {
		// sqlite:///abs/file.db keeps its leading slash; sqlite://rel.db and
		// sqlite:rel.db are both relative.
		path = strings.TrimPrefix(path, "//")
		if path == "" {
			return "", errors.New("sqlite URL has no file path")
		}
		// A URL path is percent-encoded: sqlite:///a%3Fb.db names "a?b.db".
		file, err := url.PathUnescape(path)
		if err != nil {
			return "", fmt.Errorf("parse sqlite URL path: %w", err)
		}
		// EscapedPath escapes '?', '#' and '%', which SQLite's URI parser
		// would otherwise read as the start of a query or an escape.
		base = "file:" + (&url.URL{Path: file}).EscapedPath()
	}
	query, err := url.ParseQuery(rawQuery)
	if err != nil {
		return "", fmt.Errorf("parse sqlite URL query: %w", err)
	}
	for _, p := range sqliteDefaults() {
		if !hasPragma(query["_pragma"], p.name) {
			query.Add("_pragma", p.value)
		}
	}
	// Writes take the lock at BEGIN: a transaction that reads first and
	// upgrades later fails with SQLITE_BUSY without waiting on busy_timeout.
	if query.Get("_txlock") == "" {
		query.Set("_txlock", "immediate")
	}
	return base + "?" + query.Encode(), nil
}

// hasPragma reports whether one of the _pragma values sets name.
func hasPragma(values []string, name string) bool {
	for _, v := range values {
		v = strings.ToLower(strings.TrimSpace(v))
		if strings.HasPrefix(v, name+"(") || strings.HasPrefix(v, name+"=") || strings.HasPrefix(v, name+" ") {
			return true
		}
	}
	return false
}

// Close closes the store's connections. It waits for queries in progress.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return nil
}

// Ping checks that the database answers, for readiness probes.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping store: %w", err)
	}
	return nil
}

// NewID returns a new row identifier: a UUIDv7 string, so identifiers made
// later sort higher. Callers that choose an id before creating a row, for
// example to name its object in blob storage, should take it from here.
func NewID() (string, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("generate id: %w", err)
	}
	return id.String(), nil
}

// ensureID returns id, or a new one when id is empty.
func ensureID(id string) (string, error) {
	if id != "" {
		return id, nil
	}
	return NewID()
}

// now is the store's clock, at the precision the columns keep, so a value
// the store returns equals the value read back later.
func now() time.Time {
	return time.Now().UTC().Truncate(time.Microsecond)
}

// normTime brings t to the precision and zone the store reads back.
func normTime(t time.Time) time.Time {
	return t.UTC().Truncate(time.Microsecond)
}

// normTimePtr is normTime for optional times.
func normTimePtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	n := normTime(*t)
	return &n
}

// micros encodes t for a BIGINT column.
func micros(t time.Time) int64 { return t.UnixMicro() }

// fromMicros decodes a BIGINT column into a UTC time.
func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

// nullMicros encodes an optional time; nil becomes NULL.
func nullMicros(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: micros(*t), Valid: true}
}

// fromNullMicros decodes an optional time; NULL becomes nil.
func fromNullMicros(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}

// nullString maps "" to NULL, for optional references.
func nullString(s string) sql.NullString {
	return sql.NullString{String: s, Valid: s != ""}
}

// constraint classifies a driver error by the integrity rule it broke.
type constraint int

const (
	constraintNone constraint = iota
	constraintForeignKey
	constraintUnique
)

// violated reports which integrity constraint err broke, if any. Both
// drivers expose a code: SQLite's extended result codes (modernc enables
// them) and PostgreSQL's SQLSTATE.
func violated(err error) constraint {
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok {
		switch pgErr.Code {
		case "23503":
			return constraintForeignKey
		case "23505":
			return constraintUnique
		}
		return constraintNone
	}
	if liteErr, ok := errors.AsType[*sqlite.Error](err); ok {
		switch liteErr.Code() {
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return constraintForeignKey
		case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
			return constraintUnique
		}
	}
	return constraintNone
}

// ref names a row another row points to, for reporting which one is missing.
type ref struct {
	table string // a constant table name, never user input
	what  string
	id    string
}

// missing returns a grading.ErrNotFound error naming the first ref that does
// not exist. It runs after a foreign-key violation, which does not say which
// reference failed on SQLite.
func (s *Store) missing(ctx context.Context, refs ...ref) error {
	for _, r := range refs {
		if r.id == "" {
			continue
		}
		ok, err := s.exists(ctx, r.table, r.id)
		if err != nil {
			return fmt.Errorf("look up %s %s: %w", r.what, r.id, err)
		}
		if !ok {
			return fmt.Errorf("%s %s: %w", r.what, r.id, grading.ErrNotFound)
		}
	}
	// Every reference exists now: one was deleted and re-created meanwhile,
	// which the store never does, so report the references together.
	return fmt.Errorf("referenced row: %w", grading.ErrNotFound)
}

// exists reports whether table has a row with id; table is a constant.
func (s *Store) exists(ctx context.Context, table, id string) (bool, error) {
	var one int
	err := s.db.QueryRowContext(ctx, "SELECT 1 FROM "+table+" WHERE id = $1", id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, nil
}
