// Package devstack runs the servers ZINC needs for local development and
// integration tests inside the calling process: a Temporal server on SQLite
// with its Web UI, and a NATS server with JetStream.
//
// Every Start function returns only once its server is ready for the work the
// callers do next (a workflow can start, a stream can be created), so callers
// never guess with sleeps. The package is imported by cmd/apphost and by tests
// only: service binaries must not link the Temporal server.
package devstack
