package sandbox

import "sync"

// capture keeps the first limit bytes written to it and counts the rest. It
// never refuses a write, so the command is never blocked on a full pipe; once
// the total passes flood it calls onFlood (once) so the runner can stop a
// command that would otherwise stream forever.
type capture struct {
	mu        sync.Mutex
	buf       []byte
	limit     int64
	flood     int64
	total     int64
	onFlood   func()
	floodOnce sync.Once
}

func newCapture(limit int64, onFlood func()) *capture {
	return &capture{
		limit: limit,
		// Far beyond means four times the cap plus a mebibyte: enough slack
		// for a program that prints a little too much to finish normally.
		flood:   4*limit + 1<<20,
		onFlood: onFlood,
	}
}

// Write implements io.Writer.
func (c *capture) Write(p []byte) (int, error) {
	c.mu.Lock()
	if room := c.limit - int64(len(c.buf)); room > 0 {
		c.buf = append(c.buf, p[:min(int64(len(p)), room)]...)
	}
	c.total += int64(len(p))
	flooded := c.total > c.flood
	c.mu.Unlock()
	if flooded {
		c.floodOnce.Do(c.onFlood)
	}
	return len(p), nil
}

// result returns the kept bytes, whether anything was dropped, and whether
// the flood threshold was passed.
func (c *capture) result() (data []byte, truncated, flooded bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf, c.total > c.limit, c.total > c.flood
}
