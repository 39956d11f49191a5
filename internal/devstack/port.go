package devstack

import (
	"fmt"
	"net"
	"strconv"
)

// FreePort returns a TCP port on ip that nothing listens on right now.
// Another process may take it before the caller binds it; callers that can
// listen on port 0 themselves should prefer that.
func FreePort(ip string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return 0, fmt.Errorf("find free port on %s: %w", ip, err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return 0, fmt.Errorf("release probe listener: %w", err)
	}
	return port, nil
}

// PreferPort returns port when it is free on ip, and otherwise (or when port is
// not positive) a free port, so a documented default can yield to whatever
// already holds it.
func PreferPort(ip string, port int) (int, error) {
	if port > 0 && portFree(ip, port) {
		return port, nil
	}
	return FreePort(ip)
}

// portFree reports whether ip:port can be bound right now.
func portFree(ip string, port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}
