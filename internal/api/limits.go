package api

import (
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limits bounds what one caller (an API key or an OIDC subject) may do:
// requests per second with a burst, uploads at once, and event streams
// held open at once. Each caller's
// state is kept for the life of the process; callers are API keys and
// people, a set that grows slowly.
type limits struct {
	rate    rate.Limit
	burst   int
	uploads int
	streams int

	mu     sync.Mutex
	actors map[string]*actorLimits
}

type actorLimits struct {
	requests *rate.Limiter
	uploads  int
	streams  int
}

func newLimits(perSecond float64, burst, uploads, streams int) *limits {
	return &limits{rate: rate.Limit(perSecond), burst: burst, uploads: uploads, streams: streams, actors: map[string]*actorLimits{}}
}

func (l *limits) actor(name string) *actorLimits {
	a, ok := l.actors[name]
	if !ok {
		a = &actorLimits{requests: rate.NewLimiter(l.rate, l.burst)}
		l.actors[name] = a
	}
	return a
}

// allow takes one request from the caller's budget, or says how long to
// wait.
func (l *limits) allow(name string) error {
	l.mu.Lock()
	a := l.actor(name)
	l.mu.Unlock()
	res := a.requests.Reserve()
	if d := res.Delay(); d > 0 {
		res.Cancel()
		return &tooManyError{msg: fmt.Sprintf("rate limit of %g requests/s (burst %d) reached", float64(l.rate), l.burst), retryAfter: d}
	}
	return nil
}

// startUpload takes one of the caller's upload slots; release gives it back.
func (l *limits) startUpload(name string) (release func(), err error) {
	return l.take(name, func(a *actorLimits) *int { return &a.uploads }, l.uploads, "uploads")
}

// startStream takes one of the caller's event-stream slots; release gives
// it back. The request rate alone does not bound streams: each lasts as
// long as its batch runs.
func (l *limits) startStream(name string) (release func(), err error) {
	return l.take(name, func(a *actorLimits) *int { return &a.streams }, l.streams, "event streams")
}

// take counts one more of what slot points to for the caller, up to most.
func (l *limits) take(name string, slot func(*actorLimits) *int, most int, what string) (release func(), err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := slot(l.actor(name))
	if *n >= most {
		return nil, &tooManyError{msg: fmt.Sprintf("at most %d %s at once per caller", most, what), retryAfter: time.Second}
	}
	*n++
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		*n--
	}, nil
}
