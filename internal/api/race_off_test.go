//go:build !race

package api

// raceEnabled reports a test binary built with -race, whose memory use the
// race detector multiplies.
const raceEnabled = false
