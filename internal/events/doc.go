// Package events carries ZINC's asynchronous events over NATS JetStream.
//
// A Bus owns one NATS connection and makes sure the stream that stores every
// subject under the configured prefix exists. Publish sends a JSON event,
// optionally deduplicated by a message id; Subscribe feeds a durable consumer
// to a handler, acknowledging on success and asking for a delayed
// redelivery on failure. OpenTelemetry trace context travels in message
// headers, so a consumer's work joins the publisher's trace.
//
// The subjects ZINC uses are constants here; their payload types belong to
// the packages that publish them.
package events
