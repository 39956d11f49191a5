package auth

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/zinc-edu/orchestrator/internal/grading"
)

// Config is how people authenticate. Without an issuer only API keys work.
type Config struct {
	// OIDCIssuer is the issuer URL whose discovery document and JWKS verify
	// tokens.
	OIDCIssuer string `env:"ZINC_OIDC_ISSUER"`
	// OIDCAudience is the audience (client id) tokens must be issued for.
	OIDCAudience string `env:"ZINC_OIDC_AUDIENCE"`
	// OIDCRolesClaim names the claim holding the caller's roles: a list of
	// "admin" or "<role>:<course id>" strings.
	OIDCRolesClaim string `env:"ZINC_OIDC_ROLES_CLAIM" envDefault:"zinc_roles"`
	// OIDCUserClaim names the claim holding the user name a student
	// submits as.
	OIDCUserClaim string `env:"ZINC_OIDC_USER_CLAIM" envDefault:"preferred_username"`
	// AdminKey, when set, is an API key with the admin role that the API
	// creates at start if it does not exist: the bootstrap credential.
	AdminKey string `env:"ZINC_ADMIN_KEY"`
}

// OIDC verifies JWTs from one issuer. Discovery happens at the first token,
// so the API starts even while the issuer is unreachable.
type OIDC struct {
	cfg Config

	mu       sync.Mutex
	verifier *oidc.IDTokenVerifier
}

// NewOIDC returns a verifier for cfg's issuer, or nil when none is set.
func NewOIDC(cfg Config) (*OIDC, error) {
	if cfg.OIDCIssuer == "" {
		return nil, nil
	}
	// Discovery happens at the first token, so a malformed issuer would
	// otherwise show only as every OIDC request failing.
	if u, err := url.Parse(cfg.OIDCIssuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("new oidc verifier: ZINC_OIDC_ISSUER %q is not an https (or http) URL", cfg.OIDCIssuer)
	}
	if cfg.OIDCAudience == "" {
		return nil, fmt.Errorf("new oidc verifier: ZINC_OIDC_AUDIENCE is required with ZINC_OIDC_ISSUER")
	}
	if cfg.OIDCRolesClaim == "" {
		cfg.OIDCRolesClaim = "zinc_roles"
	}
	if cfg.OIDCUserClaim == "" {
		cfg.OIDCUserClaim = "preferred_username"
	}
	return &OIDC{cfg: cfg}, nil
}

func (o *OIDC) idVerifier(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.verifier != nil {
		return o.verifier, nil
	}
	// The provider's key set outlives this request: it refreshes keys
	// with its own context.
	p, err := oidc.NewProvider(context.WithoutCancel(ctx), o.cfg.OIDCIssuer)
	if err != nil {
		return nil, fmt.Errorf("discover oidc issuer %s: %w", o.cfg.OIDCIssuer, err)
	}
	o.verifier = p.Verifier(&oidc.Config{ClientID: o.cfg.OIDCAudience})
	return o.verifier, nil
}

// Verify checks the token's signature, issuer, audience and expiry, and
// reads the caller's roles and user name from its claims.
func (o *OIDC) Verify(ctx context.Context, raw string) (Principal, error) {
	v, err := o.idVerifier(ctx)
	if err != nil {
		return Principal{}, err
	}
	tok, err := v.Verify(ctx, raw)
	if err != nil {
		return Principal{}, fmt.Errorf("%w: %v", ErrUnauthenticated, err)
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return Principal{}, fmt.Errorf("%w: read claims: %v", ErrUnauthenticated, err)
	}
	p := Principal{Actor: "oidc:" + tok.Subject, Courses: map[string]grading.Role{}}
	p.User, _ = claims[o.cfg.OIDCUserClaim].(string)
	roles, _ := claims[o.cfg.OIDCRolesClaim].([]any)
	for _, r := range roles {
		s, _ := r.(string)
		if s == string(grading.RoleAdmin) {
			p.Admin = true
			continue
		}
		role, course, ok := strings.Cut(s, ":")
		if ok && course != "" && grading.Role(role).Valid() && grading.Role(role) != grading.RoleAdmin {
			p.Courses[course] = grading.Role(role)
		}
	}
	return p, nil
}
