package devstack_test

import (
	"net"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/zinc-edu/orchestrator/internal/devstack"
)

func TestNATSJetStream(t *testing.T) {
	// IgnoreCurrent: Temporal tests in this binary leave server goroutines behind.
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ctx := testContext(t)

	srv, err := devstack.StartNATS(ctx, devstack.NATSOptions{})
	require.NoError(t, err)
	defer func() { assert.NoError(t, srv.Stop()) }()
	assert.Regexp(t, `^nats://127\.0\.0\.1:\d+$`, srv.URL())

	nc, err := nats.Connect(srv.URL())
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)

	stream, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "GRADES", Subjects: []string{"grades.>"}})
	require.NoError(t, err)
	_, err = js.Publish(ctx, "grades.done", []byte("batch-1"))
	require.NoError(t, err)

	cons, err := stream.CreateConsumer(ctx, jetstream.ConsumerConfig{AckPolicy: jetstream.AckExplicitPolicy})
	require.NoError(t, err)
	msg, err := cons.Next(jetstream.FetchMaxWait(testTimeout))
	require.NoError(t, err)
	assert.Equal(t, "grades.done", msg.Subject())
	assert.Equal(t, "batch-1", string(msg.Data()))
	require.NoError(t, msg.Ack())
}

func TestNATSStoreDirKeepsStreams(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ctx := testContext(t)
	dir := t.TempDir()

	first, err := devstack.StartNATS(ctx, devstack.NATSOptions{StoreDir: dir})
	require.NoError(t, err)
	nc, err := nats.Connect(first.URL())
	require.NoError(t, err)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: "KEPT", Subjects: []string{"kept"}})
	require.NoError(t, err)
	_, err = js.Publish(ctx, "kept", []byte("x"))
	require.NoError(t, err)
	nc.Close()
	require.NoError(t, first.Stop())
	assert.DirExists(t, dir, "a caller's store dir survives Stop")

	second, err := devstack.StartNATS(ctx, devstack.NATSOptions{StoreDir: dir})
	require.NoError(t, err)
	defer func() { assert.NoError(t, second.Stop()) }()
	nc, err = nats.Connect(second.URL())
	require.NoError(t, err)
	defer nc.Close()
	js, err = jetstream.New(nc)
	require.NoError(t, err)
	stream, err := js.Stream(ctx, "KEPT")
	require.NoError(t, err)
	info, err := stream.Info(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(1), info.State.Msgs)
}

func TestStartNATSPortTaken(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer func() { _ = l.Close() }()

	_, err = devstack.StartNATS(testContext(t), devstack.NATSOptions{Port: l.Addr().(*net.TCPAddr).Port})
	assert.ErrorContains(t, err, "wait for nats")
}
