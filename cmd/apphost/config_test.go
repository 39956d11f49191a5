package main

import (
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseFlagsDefaults(t *testing.T) {
	c, err := parseFlags(nil, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:8080", c.apiAddr)
	assert.Equal(t, "127.0.0.1:7233", c.temporalAddr)
	assert.Equal(t, "127.0.0.1:8233", c.uiAddr)
	assert.Equal(t, ".zinc", c.dataDir)
	assert.Empty(t, c.binDir)
	assert.False(t, c.demo)
	assert.False(t, c.exit)
	assert.Equal(t, 10*time.Second, c.stopTimeout)
	assert.Empty(t, c.set)
}

func TestParseFlagsRecordsSetFlags(t *testing.T) {
	c, err := parseFlags([]string{"--api-addr", "127.0.0.1:9000", "--demo", "--exit", "--data-dir", "/tmp/z"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:9000", c.apiAddr)
	assert.True(t, c.demo)
	assert.True(t, c.exit)
	assert.Equal(t, "/tmp/z", c.dataDir)
	assert.Equal(t, map[string]bool{"api-addr": true, "demo": true, "exit": true, "data-dir": true}, c.set)
}

func TestParseFlagsNATSURL(t *testing.T) {
	c, err := parseFlags([]string{"--nats-url", "nats://10.0.0.7:4222"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "nats://10.0.0.7:4222", c.natsURL)
}

func TestParseFlagsErrors(t *testing.T) {
	tests := []struct {
		name    string
		give    []string
		wantErr string
	}{
		{name: "unknown flag", give: []string{"--nope"}, wantErr: "flag provided but not defined"},
		{name: "bad duration", give: []string{"--stop-timeout", "soon"}, wantErr: "invalid value"},
		{name: "stray argument", give: []string{"demo"}, wantErr: "unexpected arguments"},
		{name: "nats url scheme", give: []string{"--nats-url", "http://127.0.0.1:4222"}, wantErr: "want nats:// or tls://"},
		{name: "nats url port", give: []string{"--nats-url", "nats://127.0.0.1"}, wantErr: "want nats://HOST:PORT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseFlags(tt.give, io.Discard)
			assert.ErrorContains(t, err, tt.wantErr)
		})
	}
}

// listen takes a port for the test's lifetime.
func listen(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

func TestResolveDefaultFallsBackWhenTaken(t *testing.T) {
	taken := listen(t)
	addr := "127.0.0.1:" + strconv.Itoa(taken)

	got, err := config{set: map[string]bool{}}.resolve("api-addr", addr, false)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1", got.host)
	assert.NotEqual(t, taken, got.port)
}

func TestResolveExplicitTakenPortFails(t *testing.T) {
	port := listen(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	_, err := config{set: map[string]bool{"api-addr": true}}.resolve("api-addr", addr, false)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "port "+strconv.Itoa(port)+" on 127.0.0.1 is already in use")
	assert.Contains(t, err.Error(), "omit --api-addr to let the apphost pick a free port")
	if runtime.GOOS == "linux" {
		assert.Contains(t, err.Error(), "by pid "+strconv.Itoa(os.Getpid())+" (", "the holder is named")
	}
}

func TestResolveExplicitFreePortIsKept(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())

	got, err := config{set: map[string]bool{"ui-addr": true}}.resolve("ui-addr", "127.0.0.1:"+strconv.Itoa(port), true)
	require.NoError(t, err)
	assert.Equal(t, endpoint{host: "127.0.0.1", port: port}, got)
	assert.Equal(t, "127.0.0.1:"+strconv.Itoa(port), got.String())
}

func TestResolveExplicitZeroPicksFreePort(t *testing.T) {
	got, err := config{set: map[string]bool{"temporal-addr": true}}.resolve("temporal-addr", "127.0.0.1:0", true)
	require.NoError(t, err)
	assert.Positive(t, got.port)
}

func TestResolveRejectsBadAddresses(t *testing.T) {
	tests := []struct {
		name    string
		give    string
		giveIP  bool
		wantErr string
	}{
		{name: "no port", give: "127.0.0.1", wantErr: "missing port"},
		{name: "bad port", give: "127.0.0.1:http", wantErr: "invalid port"},
		{name: "port out of range", give: "127.0.0.1:70000", wantErr: "invalid port"},
		{name: "no host", give: ":8080", wantErr: "want IP:PORT"},
		{name: "host name where an IP is needed", give: "localhost:7233", giveIP: true, wantErr: "want IP:PORT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config{}.resolve("x-addr", tt.give, tt.giveIP)
			assert.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestParseFlagsRejectsBadScaleOut(t *testing.T) {
	tests := []struct {
		name    string
		give    []string
		wantErr string
	}{
		{name: "no pipeline workers", give: []string{"--pipeline-workers", "0"}, wantErr: "--pipeline-workers 0: want at least 1"},
		{name: "no shards", give: []string{"--history-shards", "0"}, wantErr: "--history-shards 0: want at least 1"},
		{name: "not postgres", give: []string{"--temporal-db", "mysql://db/temporal"}, wantErr: `--temporal-db: parse temporal database url: scheme "mysql", want postgres`},
		{name: "no backoff", give: []string{"--restart-backoff", "0s"}, wantErr: "--restart-backoff 0s: want more than 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseFlags(tt.give, io.Discard)
			assert.ErrorContains(t, err, tt.wantErr)
		})
	}
}
