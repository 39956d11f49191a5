package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/zinc-edu/orchestrator/internal/grading"
)

// ErrUnauthenticated reports missing, unknown, expired or revoked
// credentials. Its wrapped message says which, for the client.
var ErrUnauthenticated = errors.New("unauthenticated")

// KeyStore finds API keys by the hash of the key.
type KeyStore interface {
	APIKeyByHash(ctx context.Context, hash string) (grading.APIKey, error)
}

// Authenticator turns a bearer credential into a Principal.
type Authenticator struct {
	keys KeyStore
	oidc *OIDC
	now  func() time.Time
}

// NewAuthenticator returns an Authenticator over keys; a nil oidc refuses
// every JWT.
func NewAuthenticator(keys KeyStore, oidc *OIDC) *Authenticator {
	return &Authenticator{keys: keys, oidc: oidc, now: time.Now}
}

// Authenticate verifies token, an API key or an OIDC JWT.
func (a *Authenticator) Authenticate(ctx context.Context, token string) (Principal, error) {
	if token == "" {
		return Principal{}, fmt.Errorf("%w: no credentials: send Authorization: Bearer <api key or token>", ErrUnauthenticated)
	}
	if IsKey(token) {
		return a.key(ctx, token)
	}
	if a.oidc == nil {
		return Principal{}, fmt.Errorf("%w: not an API key, and OIDC is not configured", ErrUnauthenticated)
	}
	return a.oidc.Verify(ctx, token)
}

func (a *Authenticator) key(ctx context.Context, token string) (Principal, error) {
	k, err := a.keys.APIKeyByHash(ctx, HashKey(token))
	if errors.Is(err, grading.ErrNotFound) {
		return Principal{}, fmt.Errorf("%w: unknown API key", ErrUnauthenticated)
	}
	if err != nil {
		return Principal{}, fmt.Errorf("authenticate api key: %w", err)
	}
	switch now := a.now(); {
	case k.RevokedAt != nil:
		return Principal{}, fmt.Errorf("%w: API key %s is revoked", ErrUnauthenticated, k.ID)
	case !k.Usable(now):
		return Principal{}, fmt.Errorf("%w: API key %s has expired", ErrUnauthenticated, k.ID)
	}
	return fromKey(k), nil
}
