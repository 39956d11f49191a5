package api

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/auth"
)

// issuer is an OIDC provider on loopback: discovery document, JWKS and a
// signing key.
type issuer struct {
	t   *testing.T
	srv *httptest.Server
	key *rsa.PrivateKey
}

const oidcKeyID = "test-key"

func newIssuer(t *testing.T) *issuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	is := &issuer{t: t, key: key}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                is.srv.URL,
			"jwks_uri":                              is.srv.URL + "/keys",
			"authorization_endpoint":                is.srv.URL + "/authorize",
			"token_endpoint":                        is.srv.URL + "/token",
			"response_types_supported":              []string{"code"},
			"subject_types_supported":               []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
			{Key: &key.PublicKey, KeyID: oidcKeyID, Algorithm: string(jose.RS256), Use: "sig"},
		}})
	})
	is.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		is.srv.Close()
		// The verifier fetched the JWKS with the default client.
		http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	})
	return is
}

// token signs claims with key under the issuer's key id.
func (is *issuer) token(key *rsa.PrivateKey, claims jwt.Claims, extra map[string]any) string {
	is.t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: oidcKeyID}},
		(&jose.SignerOptions{}).WithType("JWT"))
	require.NoError(is.t, err)
	raw, err := jwt.Signed(signer).Claims(claims).Claims(extra).Serialize()
	require.NoError(is.t, err)
	return raw
}

// TestOIDCTokens verifies JWTs against an issuer's discovery document and
// JWKS: a valid token with an instructor role gets in; a token for another
// audience, an expired one, one signed by another key and one from another
// issuer are 401 with WWW-Authenticate: Bearer and a JSON error.
func TestOIDCTokens(t *testing.T) {
	is := newIssuer(t)
	e := newEnv(t, func(p *Params) {
		p.Auth = auth.Config{OIDCIssuer: is.srv.URL, OIDCAudience: "zinc"}
	})
	f := e.courseFixture("oidc")
	target := "/v1/collections/" + f.collection.ID + "/deliveries"
	instructor := map[string]any{"zinc_roles": []string{"instructor:" + f.course.ID}, "preferred_username": "prof"}
	now := time.Now()
	valid := jwt.Claims{
		Issuer: is.srv.URL, Subject: "prof-1", Audience: jwt.Audience{"zinc"},
		IssuedAt: jwt.NewNumericDate(now.Add(-time.Minute)), Expiry: jwt.NewNumericDate(now.Add(time.Hour)),
	}

	r := e.as(is.token(is.key, valid, instructor)).do(http.MethodGet, target, nil, "")
	require.Equal(t, http.StatusOK, r.code, "body: %s", r.body)
	assert.Len(t, object(t, r)["items"], 2)

	// The same instructor may not read another course's collection.
	other := e.courseFixture("other")
	r = e.as(is.token(is.key, valid, instructor)).do(http.MethodGet, "/v1/collections/"+other.collection.ID+"/deliveries", nil, "")
	requireError(t, r, http.StatusNotFound, "not found")

	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	tests := []struct {
		name      string
		key       *rsa.PrivateKey
		change    func(*jwt.Claims)
		wantError string
	}{
		{"wrong audience", is.key, func(c *jwt.Claims) { c.Audience = jwt.Audience{"someone-else"} }, "audience"},
		{"expired", is.key, func(c *jwt.Claims) {
			c.IssuedAt, c.Expiry = jwt.NewNumericDate(now.Add(-2*time.Hour)), jwt.NewNumericDate(now.Add(-time.Hour))
		}, "expired"},
		{"wrong signature", otherKey, func(*jwt.Claims) {}, "signature"},
		{"wrong issuer", is.key, func(c *jwt.Claims) { c.Issuer = "https://issuer.invalid" }, "issued by a different provider"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			claims := valid
			tt.change(&claims)
			r := e.as(is.token(tt.key, claims, instructor)).do(http.MethodGet, target, nil, "")
			requireError(t, r, http.StatusUnauthorized, tt.wantError)
			assert.Equal(t, "Bearer", r.header.Get("WWW-Authenticate"))
		})
	}

	t.Run("not a JWT", func(t *testing.T) {
		r := e.as("not.a.jwt").do(http.MethodGet, target, nil, "")
		requireError(t, r, http.StatusUnauthorized, "")
		assert.Equal(t, "Bearer", r.header.Get("WWW-Authenticate"))
	})
}
