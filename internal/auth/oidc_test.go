package auth_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zinc-edu/orchestrator/internal/auth"
)

func TestNewOIDCRejectsBadIssuer(t *testing.T) {
	for _, issuer := range []string{"keycloak.example/realms/zinc", "ftp://keycloak.example", "https://", "https://%zz"} {
		t.Run(issuer, func(t *testing.T) {
			_, err := auth.NewOIDC(auth.Config{OIDCIssuer: issuer, OIDCAudience: "zinc"})
			require.ErrorContains(t, err, "ZINC_OIDC_ISSUER")
		})
	}
}

func TestNewOIDCAcceptsIssuer(t *testing.T) {
	o, err := auth.NewOIDC(auth.Config{OIDCIssuer: "https://keycloak.example/realms/zinc", OIDCAudience: "zinc"})
	require.NoError(t, err)
	require.NotNil(t, o)

	_, err = auth.NewOIDC(auth.Config{OIDCIssuer: "https://keycloak.example/realms/zinc"})
	require.ErrorContains(t, err, "ZINC_OIDC_AUDIENCE")
}
