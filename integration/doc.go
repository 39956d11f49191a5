// Package integration holds the tests that run a whole batch through a real
// Temporal server, NATS, a database and both extension workers.
package integration
