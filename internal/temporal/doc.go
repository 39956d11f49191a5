// Package temporal is ZINC's shared Temporal layer (RFD 0010): configuration
// with task-queue naming, one client per process carrying logging, tracing and
// metrics, fx helpers that gather activities and workflows into value groups,
// and workers whose lifecycle follows the fx application.
//
// It is foundation code: it knows nothing of grading, workflows or
// extensions. Processes compose it in cmd/*.
package temporal
