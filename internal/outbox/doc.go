// Package outbox delivers ZINC's events exactly once through NATS outages
// and crashes: the code that stores a row also writes the event announcing
// it to the store's outbox table, in the same transaction (Encoder builds
// that outbox entry), and a Relay publishes pending entries to JetStream
// with Nats-Msg-Id set to the event id, marks them sent, and retries with
// backoff while NATS is away.
//
// A crash between the commit and the publish leaves the entry pending, and
// the next relay (in any process sharing the database) sends it. A crash
// between the publish and the mark sends it again, and the stream drops the
// copy because it has seen the message id within its dedup window. Several
// relays may run at once for the same reason. Events with the same order
// key (a batch's) are published in write order: once one of them fails, the
// later ones wait for the next round.
package outbox
