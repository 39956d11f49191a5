// Package pipeline is the pipeline extension's Temporal side: activities
// that pull a delivery from object storage into a fresh scratch directory,
// run the grading pipeline on it in the sandbox, and store the result in
// object storage and the database. The pipeline worker runs them on the
// "pipeline-default" task queue (and on lane queues, when configured).
package pipeline
