package kafkaconn

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/invitepipe/invitepipe/internal/config"
)

func TestNew(t *testing.T) {
	caFile := writeCA(t)
	notPEM := filepath.Join(t.TempDir(), "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		cfg       config.Kafka
		wantTLS   bool
		wantRoots bool
		wantSASL  string
		wantErr   string
	}{
		{name: "plaintext", cfg: config.Kafka{}},
		{name: "TLS with system roots", cfg: config.Kafka{TLS: true}, wantTLS: true},
		{name: "TLS with a CA file", cfg: config.Kafka{TLS: true, TLSCAFile: caFile}, wantTLS: true, wantRoots: true},
		{name: "CA file missing", cfg: config.Kafka{TLS: true, TLSCAFile: filepath.Join(t.TempDir(), "none.pem")}, wantErr: "INVITEPIPE_KAFKA_TLS_CA_FILE: open"},
		{name: "CA file not PEM", cfg: config.Kafka{TLS: true, TLSCAFile: notPEM}, wantErr: "holds no PEM certificate"},
		{name: "SASL PLAIN", cfg: config.Kafka{SASLMechanism: "PLAIN", SASLUsername: "u", SASLPassword: "p"}, wantSASL: "PLAIN"},
		{name: "SASL SCRAM-SHA-256", cfg: config.Kafka{SASLMechanism: "SCRAM-SHA-256", SASLUsername: "u", SASLPassword: "p"}, wantSASL: "SCRAM-SHA-256"},
		{name: "SASL SCRAM-SHA-512 over TLS", cfg: config.Kafka{TLS: true, SASLMechanism: "SCRAM-SHA-512", SASLUsername: "u", SASLPassword: "p"}, wantTLS: true, wantSASL: "SCRAM-SHA-512"},
		{name: "unknown mechanism", cfg: config.Kafka{SASLMechanism: "GSSAPI"}, wantErr: "use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("New error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (c.Dialer.TLS != nil) != tt.wantTLS || (c.Transport.TLS != nil) != tt.wantTLS {
				t.Errorf("TLS on dialer %v, transport %v; want %v", c.Dialer.TLS != nil, c.Transport.TLS != nil, tt.wantTLS)
			}
			if tt.wantTLS && (c.Dialer.TLS.RootCAs != nil) != tt.wantRoots {
				t.Errorf("custom roots = %v, want %v", c.Dialer.TLS.RootCAs != nil, tt.wantRoots)
			}
			got := ""
			if c.Dialer.SASLMechanism != nil {
				got = c.Dialer.SASLMechanism.Name()
			}
			if got != tt.wantSASL || (c.Transport.SASL == nil) != (tt.wantSASL == "") {
				t.Errorf("SASL mechanism %q, want %q", got, tt.wantSASL)
			}
		})
	}
}

// writeCA writes a self-signed CA certificate and returns its path.
func writeCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
