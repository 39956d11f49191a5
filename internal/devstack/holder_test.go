package devstack

import (
	"fmt"
	"net"
	"os"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPortHolderFindsTheListener(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	port := l.Addr().(*net.TCPAddr).Port

	assert.Contains(t, PortHolder(port), fmt.Sprintf("pid %d (", os.Getpid()))
}

func TestPortHolderOfFreePort(t *testing.T) {
	port, err := FreePort("127.0.0.1")
	require.NoError(t, err)
	assert.Empty(t, PortHolder(port))
}
