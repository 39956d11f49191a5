// Package bench measures batch grading through Temporal against a plain
// in-process worker pool doing the same per-delivery work, on one
// in-process stack (internal/harness), and formats the figures as the
// Markdown section of BENCHMARKS.md. cmd/bench is its command line.
//
// Both sides call pipeline.Grader.Grade for every delivery: store reads,
// blob fetch and unpack, the pipeline, the result blob, the result row and
// the NATS event. Only the orchestration around it differs, so the ratio of
// the two is the cost of durability.
package bench
