package dist

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAuth: a server started with a token, a user and password, or TLS accepts the clients
// whose --queue URL carries them and refuses the others.
func TestAuth(t *testing.T) {
	dir := t.TempDir()
	cert, key, ca := selfSigned(t, dir)
	tests := []struct {
		name   string
		opts   ServerOptions
		good   func(hostPort string) string
		bad    func(hostPort string) string
		badErr string
	}{
		{name: "token", opts: ServerOptions{Token: "s3cret"},
			good: func(hp string) string { return "nats://s3cret@" + hp },
			bad:  func(hp string) string { return "nats://wrong@" + hp }, badErr: "authorization"},
		{name: "user", opts: ServerOptions{User: "wit", Password: "pw"},
			good: func(hp string) string { return "nats://wit:pw@" + hp },
			bad:  func(hp string) string { return "nats://wit:nope@" + hp }, badErr: "authorization"},
		{name: "tls", opts: ServerOptions{TLSCert: cert, TLSKey: key},
			good: func(hp string) string { return "tls://" + hp + "?ca=" + ca },
			bad:  func(hp string) string { return "tls://" + hp }, badErr: "certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.opts
			o.Listen, o.StoreDir = "127.0.0.1:0", t.TempDir()
			srv, err := StartServer(o)
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Shutdown()
			hp := srv.ns.Addr().(*net.TCPAddr).String()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			c, err := Connect(ctx, tt.good(hp), Settings{}, nil)
			if err != nil {
				t.Fatalf("%s: %v", tt.good(hp), err)
			}
			c.Close()
			if c, err := Connect(ctx, tt.bad(hp), Settings{}, nil); err == nil {
				c.Close()
				t.Fatalf("%s: connected", tt.bad(hp))
			} else if !strings.Contains(strings.ToLower(err.Error()), tt.badErr) {
				t.Errorf("%s: error %v, want %q", tt.bad(hp), err, tt.badErr)
			} else if strings.Contains(err.Error(), "nope") || strings.Contains(err.Error(), "wrong@") {
				t.Errorf("the error shows the credentials: %v", err)
			}
		})
	}
}

// selfSigned writes a certificate for 127.0.0.1, its key, and the certificate as a CA file.
func selfSigned(t *testing.T, dir string) (cert, key, ca string) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "wit test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	return cert, key, cert
}
