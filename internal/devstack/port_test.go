package devstack_test

import (
	"net"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/ci"
	"github.com/zinc-edu/orchestrator/internal/devstack"
)

func TestFreePortIsBindable(t *testing.T) {
	port, err := devstack.FreePort("127.0.0.1")
	require.NoError(t, err)
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	require.NoError(t, err)
	assert.NoError(t, l.Close())
}

// Ports handed out but not yet bound are still free: FreePort must not hand
// one out twice (the API's port after its health port; it did, and the API
// could never start).
func TestFreePortNeverRepeatsUnboundPorts(t *testing.T) {
	seen := map[int]bool{}
	for range 500 {
		port, err := devstack.FreePort("127.0.0.1")
		require.NoError(t, err)
		require.False(t, seen[port], "port %d handed out twice", port)
		seen[port] = true
	}
}

func TestFreePortBadIP(t *testing.T) {
	_, err := devstack.FreePort("203.0.113.7") // TEST-NET-3: never a local address
	assert.ErrorContains(t, err, "find free port")
}

func TestPreferPortKeepsFreePort(t *testing.T) {
	want, err := devstack.FreePort("127.0.0.1")
	require.NoError(t, err)
	got, err := devstack.PreferPort("127.0.0.1", want)
	require.NoError(t, err)
	assert.Equal(t, want, got)
}

func TestPreferPortFallsBackWhenTaken(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	taken := l.Addr().(*net.TCPAddr).Port

	got, err := devstack.PreferPort("127.0.0.1", taken)
	require.NoError(t, err)
	assert.NotEqual(t, taken, got)
	assert.Positive(t, got)
}

func TestPreferPortZeroPicksFreePort(t *testing.T) {
	got, err := devstack.PreferPort("127.0.0.1", 0)
	require.NoError(t, err)
	assert.Positive(t, got)
}

// Outgoing connections take their ports from the ephemeral range: a port
// picked below it cannot be taken by one between pick and bind.
func TestFreePortAvoidsTheEphemeralRange(t *testing.T) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		ci.SkipUnlessCI(t, "no ephemeral range to avoid on this system")
	}
	low, err := strconv.Atoi(strings.Fields(string(b))[0])
	require.NoError(t, err)
	for range 20 {
		port, err := devstack.FreePort("127.0.0.1")
		require.NoError(t, err)
		assert.Less(t, port, low)
	}
}
