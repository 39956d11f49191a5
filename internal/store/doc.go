// Package store keeps ZINC's grading data — collections, deliveries, grading
// configs, results and batches — in SQLite or PostgreSQL through one
// database/sql implementation.
//
// SQLite (modernc.org/sqlite, pure Go) is the default for local and embedded
// use; several processes may share one file, so connections run in WAL mode
// with a busy timeout and take the write lock when a transaction begins.
// PostgreSQL (pgx) is for production. Both engines use one set of embedded,
// portable migrations applied by [Store.Migrate], and the same SQL: positional
// $N placeholders, which both drivers accept.
//
// Identifiers are UUIDv7 strings chosen by the application, so a higher id is
// a newer row; timestamps are unix microseconds, so values read back are UTC
// and truncated to the microsecond. Missing rows are reported as
// [grading.ErrNotFound] and duplicate ids as [grading.ErrConflict], both
// wrapped: check them with errors.Is.
package store
