// Package workflows holds ZINC's top-level workflows and their contract:
// task-queue names, registered names, activity payloads and error types.
//
// Workflows here orchestrate activities that live with their extensions
// (RFD 0010, cross-task-queue architecture). This package never imports an
// extension, so the API can start workflows without linking activity
// dependencies; extensions import it for names and payload types.
//
// Everything in a workflow function is deterministic: time, timers,
// coroutines and channels come from the workflow package only.
package workflows
