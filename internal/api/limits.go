package api

import (
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limits bounds what one caller (an API key or an OIDC subject) may do:
// requests per second with a burst, and uploads at once. Each caller's
// state is kept for the life of the process; callers are API keys and
// people, a set that grows slowly.
type limits struct {
	rate    rate.Limit
	burst   int
	uploads int

	mu     sync.Mutex
	actors map[string]*actorLimits
}

type actorLimits struct {
	requests *rate.Limiter
	uploads  int
}

func newLimits(perSecond float64, burst, uploads int) *limits {
	return &limits{rate: rate.Limit(perSecond), burst: burst, uploads: uploads, actors: map[string]*actorLimits{}}
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
	l.mu.Lock()
	defer l.mu.Unlock()
	a := l.actor(name)
	if a.uploads >= l.uploads {
		return nil, &tooManyError{msg: fmt.Sprintf("at most %d uploads at once per caller", l.uploads), retryAfter: time.Second}
	}
	a.uploads++
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		a.uploads--
	}, nil
}
