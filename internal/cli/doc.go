// Package cli is the course staff's command line, zinc: bulk import of
// deliveries, starting and steering batches, reading results, and checking
// grading configs offline before a class is graded. cmd/zinc only calls
// Execute; the commands talk to the API over HTTP (ZINC_API_URL, ZINC_TOKEN
// or a config file) except `config validate` and `config try`, which run
// locally with the same definition parser and engine as the services.
//
// Exit codes: 0 ok, 1 failure, 2 usage, 3 batch finished with failures.
package cli
