package devstack

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// FreePort returns a TCP port on ip that nothing listens on right now.
// Another process may take it before the caller binds it; callers that can
// listen on port 0 themselves should prefer that. The port is picked below
// the kernel's ephemeral range where it can be: there only an explicit bind
// takes it, never the automatic port of an outgoing connection, which on a
// busy machine can take a port the kernel handed out a moment earlier.
func FreePort(ip string) (int, error) {
	if low := ephemeralLow(); low > quietPortsFrom+1 {
		for range 32 {
			port := quietPortsFrom + rand.IntN(low-quietPortsFrom)
			if portFree(ip, port) && handedOut.claim(port) {
				return port, nil
			}
		}
	}
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

// handedOut remembers the ports FreePort gave this process lately: until
// its caller binds one, a port is still free, and a second random pick
// (the API's port after its health port, say) could return it again. The
// set is process-wide because what it guards is: one process's picks.
var handedOut = &recentPorts{at: map[int]time.Time{}}

// recentPortsFor is how long a handed-out port is not handed out again.
const recentPortsFor = 5 * time.Minute

type recentPorts struct {
	mu sync.Mutex
	at map[int]time.Time
}

// claim records port and reports whether it was not handed out lately.
func (r *recentPorts) claim(port int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	for p, t := range r.at {
		if now.Sub(t) > recentPortsFor {
			delete(r.at, p)
		}
	}
	if _, taken := r.at[port]; taken {
		return false
	}
	r.at[port] = now
	return true
}

// quietPortsFrom is where FreePort's own range starts: above the ports
// services are usually configured on.
const quietPortsFrom = 20000

// ephemeralLow reads the first port of the kernel's ephemeral range; 0 when
// it cannot be read (not Linux).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	fields := strings.Fields(string(b))
	if len(fields) == 0 {
		return 0
	}
	low, _ := strconv.Atoi(fields[0])
	return low
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
