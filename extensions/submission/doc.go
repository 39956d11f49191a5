// Package submission is the submission extension's Temporal side: the
// activities that read ZINC's delivery store, run by the submission worker on
// the "submission-default" task queue.
package submission
