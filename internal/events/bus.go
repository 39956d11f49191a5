package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// ErrNotConnected reports that the NATS connection is not currently usable.
var ErrNotConnected = errors.New("nats not connected")

// ErrUnpublishable marks a publish that failed because of the event itself:
// a bad subject or id, a payload that is not JSON, or one larger than the
// server's max_payload or the stream's largest message. Publishing the same
// event again can never succeed, however long one waits for NATS.
var ErrUnpublishable = errors.New("event cannot be published")

// unpublishable wraps err so that it also matches ErrUnpublishable.
func unpublishable(err error) error {
	return fmt.Errorf("%w: %w", ErrUnpublishable, err)
}

// tooLarge reports whether a publish failed for the size of the message:
// the client checks the server's max_payload, the stream its
// max_msg_size.
func tooLarge(err error) bool {
	var apiErr *jetstream.APIError
	return errors.Is(err, nats.ErrMaxPayload) ||
		(errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamMessageExceedsMaximum)
}

// tracerName identifies this package's spans.
const tracerName = "github.com/zinc-edu/orchestrator/internal/events"

// Handler processes one event's JSON payload. Returning nil acknowledges the
// event; an error makes JetStream redeliver it later. ctx carries the
// publisher's trace and is cancelled when the subscription stops.
type Handler func(ctx context.Context, data []byte) error

// Bus publishes and consumes ZINC events on one NATS connection. It is safe
// for concurrent use.
type Bus struct {
	cfg    Config
	log    *slog.Logger
	nc     *nats.Conn
	js     jetstream.JetStream
	tracer trace.Tracer
	prop   propagation.TextMapPropagator
	closed chan struct{} // closed by the connection's closed handler
}

// Option adjusts Connect.
type Option func(*options)

type options struct {
	tp   trace.TracerProvider
	prop propagation.TextMapPropagator
}

// WithTracerProvider sets where publish and process spans go; by default the
// OpenTelemetry global provider.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(o *options) { o.tp = tp }
}

// WithPropagator sets how trace context is written to and read from message
// headers; by default the OpenTelemetry global propagator.
func WithPropagator(p propagation.TextMapPropagator) Option {
	return func(o *options) { o.prop = p }
}

// Connect dials NATS and creates or updates the stream holding every subject
// under cfg.SubjectPrefix (file storage, kept seven days, deduplicated by
// message id for two minutes). The connection reconnects on its own after
// losses; Close releases it.
func Connect(ctx context.Context, cfg Config, log *slog.Logger, opts ...Option) (*Bus, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("connect nats: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("connect nats: %w", err)
	}
	o := options{tp: otel.GetTracerProvider(), prop: otel.GetTextMapPropagator()}
	for _, opt := range opts {
		opt(&o)
	}
	b := &Bus{
		cfg:    cfg,
		log:    log,
		tracer: o.tp.Tracer(tracerName),
		prop:   o.prop,
		closed: make(chan struct{}),
	}
	timeout := connectTimeout
	if d, ok := ctx.Deadline(); ok && time.Until(d) < timeout {
		timeout = time.Until(d)
	}
	nc, err := nats.Connect(cfg.URL,
		nats.Timeout(timeout),
		nats.MaxReconnects(-1),
		nats.DrainTimeout(drainTimeout),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			log.Warn("nats disconnected", slog.Any("err", err))
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			log.Info("nats reconnected", slog.String("url", c.ConnectedUrlRedacted()))
		}),
		nats.ClosedHandler(func(*nats.Conn) { close(b.closed) }),
	)
	if err != nil {
		return nil, fmt.Errorf("connect nats: %w", err)
	}
	b.nc = nc
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("open jetstream: %w", err)
	}
	b.js = js
	_, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:       cfg.Stream,
		Subjects:   []string{cfg.SubjectPrefix + ".>"},
		Storage:    jetstream.FileStorage,
		Retention:  jetstream.LimitsPolicy,
		MaxAge:     streamMaxAge,
		Duplicates: dedupWindow,
	})
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("ensure stream %s: %w", cfg.Stream, err)
	}
	log.InfoContext(ctx, "nats connected",
		slog.String("url", nc.ConnectedUrlRedacted()),
		slog.String("stream", cfg.Stream),
		slog.String("subject_prefix", cfg.SubjectPrefix))
	return b, nil
}

// Stream returns the name of the stream holding the bus's events.
func (b *Bus) Stream() string { return b.cfg.Stream }

// Subject returns the full NATS subject for a subject relative to the prefix.
func (b *Bus) Subject(subject string) string { return b.cfg.SubjectPrefix + "." + subject }

// PublishOption adjusts one Publish.
type PublishOption func(*publishOptions)

type publishOptions struct {
	msgID string
}

// WithMsgID sets the Nats-Msg-Id header: JetStream stores a message with an
// id it has seen in the last two minutes only once, so publishing an event
// again after a retry does not duplicate it. Use the event's own id.
func WithMsgID(id string) PublishOption {
	return func(o *publishOptions) { o.msgID = id }
}

// Publish sends v as JSON on the prefixed subject and waits for JetStream to
// store it. The current trace context travels in the message headers. An
// error matching ErrUnpublishable says retrying cannot help.
func (b *Bus) Publish(ctx context.Context, subject string, v any, opts ...PublishOption) error {
	if err := checkSubject(subject, false); err != nil {
		return fmt.Errorf("publish event: %w", unpublishable(err))
	}
	var o publishOptions
	for _, opt := range opts {
		opt(&o)
	}
	full := b.Subject(subject)
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode event %s: %w", full, unpublishable(err))
	}

	attrs := []attribute.KeyValue{
		semconv.MessagingSystemKey.String("nats"),
		semconv.MessagingDestinationName(full),
		semconv.MessagingOperationTypeSend,
	}
	if o.msgID != "" {
		attrs = append(attrs, semconv.MessagingMessageID(o.msgID))
	}
	ctx, span := b.tracer.Start(ctx, "send "+full,
		trace.WithSpanKind(trace.SpanKindProducer), trace.WithAttributes(attrs...))
	defer span.End()

	msg := nats.NewMsg(full)
	msg.Data = data
	b.prop.Inject(ctx, headerCarrier(msg.Header))
	var pubOpts []jetstream.PublishOpt
	if o.msgID != "" {
		pubOpts = append(pubOpts, jetstream.WithMsgID(o.msgID))
	}
	if _, err := b.js.PublishMsg(ctx, msg, pubOpts...); err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		if tooLarge(err) {
			err = unpublishable(err)
		}
		return fmt.Errorf("publish event %s: %w", full, err)
	}
	return nil
}

// Send publishes data, already encoded, on the prefixed subject with
// Nats-Msg-Id set to id and waits for JetStream to store it: the relay's way
// of publishing what the outbox kept. header holds the trace context of the
// code that wrote the event, so the send span joins that trace.
func (b *Bus) Send(ctx context.Context, id, subject string, data []byte, header map[string]string) error {
	if id == "" {
		return fmt.Errorf("send event on %s: %w", subject, unpublishable(errors.New("empty id")))
	}
	ctx = b.prop.Extract(ctx, propagation.MapCarrier(header))
	return b.Publish(ctx, subject, json.RawMessage(data), WithMsgID(id))
}

// LastSeq returns the stream sequence of the newest stored event, 0 when
// the stream is empty.
func (b *Bus) LastSeq(ctx context.Context) (uint64, error) {
	st, err := b.js.Stream(ctx, b.cfg.Stream)
	if err != nil {
		return 0, fmt.Errorf("look up stream %s: %w", b.cfg.Stream, err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("read stream %s: %w", b.cfg.Stream, err)
	}
	return info.State.LastSeq, nil
}

// DeleteStream removes the bus's stream and every event in it, for tests
// that made their own stream on a shared server.
func (b *Bus) DeleteStream(ctx context.Context) error {
	if err := b.js.DeleteStream(ctx, b.cfg.Stream); err != nil {
		return fmt.Errorf("delete stream %s: %w", b.cfg.Stream, err)
	}
	return nil
}

// Record is one stored event as Follow hands it over.
type Record struct {
	// Seq is the event's stream sequence: increasing, so a follower can
	// resume after the last one it saw.
	Seq     uint64
	Subject string // relative to the prefix
	Data    []byte
}

// From is where Follow starts in the stream: after stream sequence
// AfterSeq, or else at the first event stored at or after Since, or else at
// the first event.
type From struct {
	AfterSeq uint64
	Since    time.Time
}

// Follow hands fn the events stored on the subjects (relative to the prefix)
// from the start from gives, in stream order, then each new one as it
// arrives, until ctx ends (returning nil) or fn returns an error (several
// subjects need NATS 2.10 or later; ">" takes them all on any server). It
// uses an ephemeral ordered consumer: nothing is acknowledged and nothing is
// left behind on the server.
func (b *Bus) Follow(ctx context.Context, subjects []string, from From, fn func(Record) error) error {
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}
	for _, sub := range subjects {
		if err := checkSubject(sub, true); err != nil {
			return fmt.Errorf("follow events: %w", err)
		}
		cfg.FilterSubjects = append(cfg.FilterSubjects, b.Subject(sub))
	}
	switch {
	case from.AfterSeq > 0:
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, from.AfterSeq+1
	case !from.Since.IsZero():
		since := from.Since
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &since
	}
	cons, err := b.js.OrderedConsumer(ctx, b.cfg.Stream, cfg)
	if err != nil {
		return fmt.Errorf("follow events: %w", err)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("follow events: %w", err)
	}
	defer it.Stop()
	prefix := b.cfg.SubjectPrefix + "."
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("follow events: %w", err)
		}
		md, err := msg.Metadata()
		if err != nil {
			return fmt.Errorf("follow events: %w", err)
		}
		rec := Record{Seq: md.Sequence.Stream, Subject: strings.TrimPrefix(msg.Subject(), prefix), Data: msg.Data()}
		if err := fn(rec); err != nil {
			return err
		}
	}
}

// Subscribe attaches handle to the durable consumer named durable, creating
// or updating it to receive the prefixed subject (wildcards allowed). A
// durable consumer remembers its position, so events published while no
// process was subscribed are delivered on the next Subscribe. Events are
// handled one at a time; a handler error naks the event with a delay that
// doubles per delivery (Config.NakDelay, capped at one minute) until
// Config.MaxDeliver deliveries.
//
// ctx bounds only the set-up. stop cancels the handler's context, stops
// delivery and returns once no handler runs; it must not be called from
// inside the handler.
func (b *Bus) Subscribe(ctx context.Context, subject, durable string, handle Handler) (stop func(), err error) {
	if err := checkSubject(subject, true); err != nil {
		return nil, fmt.Errorf("subscribe %s: %w", durable, err)
	}
	full := b.Subject(subject)
	cons, err := b.js.CreateOrUpdateConsumer(ctx, b.cfg.Stream, jetstream.ConsumerConfig{
		Durable:       durable,
		FilterSubject: full,
		AckPolicy:     jetstream.AckExplicitPolicy,
		MaxDeliver:    b.cfg.MaxDeliver,
	})
	if err != nil {
		return nil, fmt.Errorf("create consumer %s: %w", durable, err)
	}

	// The handlers' context outlives ctx, which may be a start-up deadline,
	// and ends with stop.
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	cc, err := cons.Consume(
		func(msg jetstream.Msg) { b.process(hctx, durable, msg, handle) },
		jetstream.PullMaxMessages(pullBatchSize),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			b.log.Warn("event consumer error", slog.String("consumer", durable), slog.Any("err", err))
		}),
	)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("consume %s: %w", durable, err)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			cc.Stop()
			<-cc.Closed()
		})
	}, nil
}

// process runs handle on one message inside a consumer span joined to the
// publisher's trace, then acks or naks.
func (b *Bus) process(ctx context.Context, durable string, msg jetstream.Msg, handle Handler) {
	ctx = b.prop.Extract(ctx, headerCarrier(msg.Headers()))
	ctx, span := b.tracer.Start(ctx, "process "+msg.Subject(),
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			semconv.MessagingSystemKey.String("nats"),
			semconv.MessagingDestinationName(msg.Subject()),
			semconv.MessagingOperationTypeProcess,
		))
	defer span.End()

	err := handle(ctx, msg.Data())
	if err == nil {
		if err := msg.Ack(); err != nil {
			b.log.WarnContext(ctx, "ack event", slog.String("consumer", durable), slog.Any("err", err))
		}
		return
	}
	span.RecordError(err)
	span.SetStatus(codes.Error, err.Error())

	delivered := uint64(1)
	if md, mdErr := msg.Metadata(); mdErr == nil {
		delivered = md.NumDelivered
	}
	attrs := []any{
		slog.String("consumer", durable), slog.String("subject", msg.Subject()),
		slog.Uint64("deliveries", delivered), slog.Any("err", err),
	}
	if delivered >= uint64(b.cfg.MaxDeliver) {
		// Term tells the server at once that this event is given up, rather
		// than letting a last nak run out.
		b.log.ErrorContext(ctx, "event abandoned", attrs...)
		if err := msg.Term(); err != nil {
			b.log.WarnContext(ctx, "terminate event", slog.String("consumer", durable), slog.Any("err", err))
		}
		return
	}
	b.log.WarnContext(ctx, "event handler failed", attrs...)
	if err := msg.NakWithDelay(b.nakDelay(delivered)); err != nil {
		b.log.WarnContext(ctx, "nak event", slog.String("consumer", durable), slog.Any("err", err))
	}
}

// nakDelay is NakDelay doubled for each delivery after the first, capped.
func (b *Bus) nakDelay(delivered uint64) time.Duration {
	d := b.cfg.NakDelay
	for i := uint64(1); i < delivered && d < maxNakDelay; i++ {
		d *= 2
	}
	return min(d, maxNakDelay)
}

// Ready reports whether the connection is up and the server answers, for a
// readiness check.
func (b *Bus) Ready(ctx context.Context) error {
	if s := b.nc.Status(); s != nats.CONNECTED {
		return fmt.Errorf("%w: %s", ErrNotConnected, s)
	}
	if _, ok := ctx.Deadline(); !ok {
		// FlushWithContext refuses a context without a deadline.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, readinessBudget)
		defer cancel()
	}
	if err := b.nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("flush nats: %w", err)
	}
	return nil
}

// Close drains the connection — subscriptions finish the events they hold,
// pending publishes are sent — and returns once it is closed, bounded by a
// ten second drain timeout. Closing twice is harmless.
func (b *Bus) Close() error {
	if err := b.nc.Drain(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		return fmt.Errorf("drain nats: %w", err)
	}
	<-b.closed
	b.log.Info("nats closed", slog.String("stream", b.cfg.Stream))
	return nil
}

// headerCarrier adapts NATS headers to OpenTelemetry propagation without
// canonicalising keys, so the W3C "traceparent" stays lower case on the wire.
type headerCarrier nats.Header

var _ propagation.TextMapCarrier = headerCarrier(nil)

// Get returns the first value of key.
func (c headerCarrier) Get(key string) string { return nats.Header(c).Get(key) }

// Set replaces the values of key.
func (c headerCarrier) Set(key, value string) { nats.Header(c).Set(key, value) }

// Keys lists the header names present.
func (c headerCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}
