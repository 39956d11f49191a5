package devstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"

	"github.com/nats-io/nats-server/v2/server"
)

// NATSOptions configures StartNATS. The zero value gives a server on a free
// port of 127.0.0.1 with JetStream stored in a temporary directory.
type NATSOptions struct {
	// IP is the address the server binds; default 127.0.0.1.
	IP string
	// Port is the client port; 0 lets the server pick a free one as it binds.
	Port int
	// StoreDir holds JetStream data and survives Stop; "" uses a temporary
	// directory that Stop removes.
	StoreDir string
	// Logger receives the server's notices, warnings and errors; nil discards them.
	Logger *slog.Logger
}

// NATS is a running embedded NATS server with JetStream enabled.
type NATS struct {
	server  *server.Server
	url     string
	tempDir string
	// fatal receives the server's first fatal log line, such as a failed bind,
	// so start-up fails at once instead of waiting out ctx.
	fatal chan string

	stopOnce sync.Once
	stopErr  error
}

// StartNATS starts a NATS server with JetStream and returns once it accepts
// client connections and JetStream is enabled, or an error when start-up
// fails or ctx ends first.
func StartNATS(ctx context.Context, o NATSOptions) (*NATS, error) {
	if o.IP == "" {
		o.IP = defaultIP
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	n := &NATS{}
	storeDir := o.StoreDir
	if storeDir == "" {
		dir, err := os.MkdirTemp("", "devstack-nats-")
		if err != nil {
			return nil, fmt.Errorf("create jetstream dir: %w", err)
		}
		n.tempDir, storeDir = dir, dir
	}
	port := o.Port
	if port == 0 {
		port = server.RANDOM_PORT
	}
	s, err := server.NewServer(&server.Options{
		ServerName: "devstack",
		Host:       o.IP,
		Port:       port,
		JetStream:  true,
		StoreDir:   storeDir,
		// The host process owns signal handling.
		NoSigs: true,
	})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("build nats server: %w", err), n.removeTemp())
	}
	n.fatal = make(chan string, 1)
	s.SetLoggerV2(natsLogger{l: o.Logger, fatal: n.fatal}, false, false, false)
	n.server = s
	s.Start()
	if err := poll(ctx, n.ready); err != nil {
		return nil, errors.Join(fmt.Errorf("wait for nats: %w", err), n.Stop())
	}
	addr, ok := s.Addr().(*net.TCPAddr)
	if !ok {
		return nil, errors.Join(errors.New("read nats address: not a TCP listener"), n.Stop())
	}
	n.url = "nats://" + hostPort(addr.IP.String(), addr.Port)
	return n, nil
}

// URL returns the client URL, "nats://IP:PORT".
func (n *NATS) URL() string { return n.url }

// Stop shuts the server down, waits for it, and removes a temporary store.
// It is safe to call more than once.
func (n *NATS) Stop() error {
	n.stopOnce.Do(func() {
		n.server.Shutdown()
		n.server.WaitForShutdown()
		n.stopErr = n.removeTemp()
	})
	return n.stopErr
}

// ready is a probe: the client listener is up and JetStream is enabled.
func (n *NATS) ready(context.Context) error {
	select {
	case msg := <-n.fatal:
		return permanent(errors.New(msg))
	default:
	}
	if !n.server.ReadyForConnections(pollInterval) {
		return errors.New("nats not accepting connections")
	}
	if !n.server.JetStreamEnabled() {
		return errors.New("jetstream not enabled")
	}
	return nil
}

func (n *NATS) removeTemp() error {
	if n.tempDir == "" {
		return nil
	}
	if err := os.RemoveAll(n.tempDir); err != nil {
		return fmt.Errorf("remove jetstream dir: %w", err)
	}
	return nil
}

// natsLogger adapts an slog.Logger to the NATS server's logger. Fatal records
// are logged as errors and reported on fatal; they never exit the process.
type natsLogger struct {
	l     *slog.Logger
	fatal chan<- string
}

var _ server.Logger = natsLogger{}

func (n natsLogger) Noticef(format string, v ...any) { n.l.Info(fmt.Sprintf(format, v...)) }
func (n natsLogger) Warnf(format string, v ...any)   { n.l.Warn(fmt.Sprintf(format, v...)) }
func (n natsLogger) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	n.l.Error(msg)
	select {
	case n.fatal <- msg:
	default: // the first fatal record is the one that explains the failure
	}
}

func (n natsLogger) Errorf(format string, v ...any) { n.l.Error(fmt.Sprintf(format, v...)) }
func (n natsLogger) Debugf(format string, v ...any) { n.l.Debug(fmt.Sprintf(format, v...)) }
func (n natsLogger) Tracef(format string, v ...any) { n.l.Debug(fmt.Sprintf(format, v...)) }
