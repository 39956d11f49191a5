package devstack_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/metric/noop"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/zinc-edu/orchestrator/internal/devstack"
	"github.com/zinc-edu/orchestrator/internal/temporal"
)

// testCA issues certificates for the mTLS test.
type testCA struct {
	t    *testing.T
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return &testCA{t: t, cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue writes a certificate for name (valid for 127.0.0.1) and its key
// under dir and returns their paths.
func (ca *testCA) issue(dir, name string, usage ...x509.ExtKeyUsage) (certFile, keyFile string) {
	t := ca.t
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  usage,
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600))
	return certFile, keyFile
}

// TestTemporalMutualTLS starts the embedded server with its frontend on
// mutual TLS under a CA made here. A client configured the way ZINC's
// processes are (TEMPORAL_TLS_* read by temporal.LoadConfig, then
// temporal.Dial) works; a client without a certificate, one whose
// certificate another CA signed, and one without TLS are refused.
func TestTemporalMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, "zinc test ca")
	caFile := filepath.Join(dir, "ca.crt")
	require.NoError(t, os.WriteFile(caFile, ca.pem, 0o600))
	serverCert, serverKey := ca.issue(dir, "temporal", x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth)
	clientCert, clientKey := ca.issue(dir, "zinc-api", x509.ExtKeyUsageClientAuth)
	rogue := newTestCA(t, "rogue ca")
	rogueCert, rogueKey := rogue.issue(dir, "rogue", x509.ExtKeyUsageClientAuth)

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	srv, err := devstack.StartTemporal(ctx, devstack.TemporalOptions{
		UIPort:     -1,
		Namespaces: []string{"zinc-mtls"},
		TLS:        &devstack.TemporalTLS{CAFile: caFile, CertFile: serverCert, KeyFile: serverKey},
	})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, srv.Stop()) })

	// The product's configuration path: TEMPORAL_* variables.
	t.Setenv("TEMPORAL_ADDRESS", srv.Address())
	t.Setenv("TEMPORAL_NAMESPACE", "zinc-mtls")
	t.Setenv("TEMPORAL_TLS_CLIENT_CERT_PATH", clientCert)
	t.Setenv("TEMPORAL_TLS_CLIENT_KEY_PATH", clientKey)
	t.Setenv("TEMPORAL_TLS_SERVER_CA_CERT_PATH", caFile)
	cfg, err := temporal.LoadConfig()
	require.NoError(t, err)
	require.NotNil(t, cfg.Options.ConnectionOptions.TLS, "TEMPORAL_TLS_* give the client TLS")
	good, err := temporal.Dial(ctx, cfg, slog.New(slog.DiscardHandler), tracenoop.NewTracerProvider(), noop.NewMeterProvider())
	require.NoError(t, err)
	defer good.Close()
	ns, err := good.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: "zinc-mtls"})
	require.NoError(t, err)
	assert.Equal(t, "zinc-mtls", ns.GetNamespaceInfo().GetName())
	_, err = good.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: "zinc-mtls"})
	require.NoError(t, err)

	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(ca.pem))
	rogueKeyPair, err := tls.LoadX509KeyPair(rogueCert, rogueKey)
	require.NoError(t, err)
	refused := []struct {
		name string
		tls  *tls.Config
	}{
		{"no client certificate", &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
		{"certificate of another CA", &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{rogueKeyPair}, MinVersion: tls.VersionTLS12}},
		{"no TLS", nil},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			c, err := client.DialContext(ctx, client.Options{
				HostPort: srv.Address(), Namespace: "zinc-mtls",
				ConnectionOptions: client.ConnectionOptions{TLS: tt.tls},
				Logger:            sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)),
			})
			if err == nil {
				// Dialing may succeed lazily; the first call cannot.
				defer c.Close()
				_, err = c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: "zinc-mtls"})
			}
			require.Error(t, err, "the frontend must refuse this client")
			t.Logf("refused: %v", err)
		})
	}
}
