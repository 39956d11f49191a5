// Package faults is the fault suite: each test runs the real multi-process
// stack (api, submission-worker and pipeline-worker binaries, or the
// apphost) against an embedded Temporal server and NATS, grades a real
// batch whose every score is known in advance, injects one kind of fault
// mid-batch (SIGKILL of a process, the database or NATS unreachable behind
// a proxy the test controls, a poison delivery) and checks that nothing was
// lost or duplicated. `go test ./faults/...` runs the small form;
// ZINC_FAULTS_FULL=1 the full size published in RELIABILITY.md.
package faults
