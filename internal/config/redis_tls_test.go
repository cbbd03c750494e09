package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestRedisTLSCAFile(t *testing.T) {
	dir := t.TempDir()
	caPEM := selfSignedPEM(t)
	caFile := writeFile(t, dir, "ca.pem", caPEM)
	notPEM := writeFile(t, dir, "ca.txt", []byte("not a certificate"))
	want := x509.NewCertPool()
	want.AppendCertsFromPEM(caPEM)

	tests := []struct {
		name, mode, url, caFile string
		wantProblem             string // substring of the INVITEPIPE_REDIS_TLS_CA_FILE problem; "" for none
	}{
		{name: "single over TLS trusts the file", mode: "single", url: "rediss://:pw@redis:6379/0", caFile: caFile},
		{name: "cluster over TLS trusts the file", mode: "cluster", url: "rediss://:pw@redis-0:6379?addr=redis-1:6379", caFile: caFile},
		{name: "sentinel over TLS trusts the file", mode: "sentinel", url: "rediss://:pw@sentinel-0:26379?master_name=ledger", caFile: caFile},
		{name: "without a CA file the system roots stay", mode: "single", url: "rediss://:pw@redis:6379/0"},
		{name: "CA file without TLS", mode: "single", url: "redis://:pw@redis:6379/0", caFile: caFile, wantProblem: "set while the URL is not rediss://"},
		{name: "missing CA file", mode: "cluster", url: "rediss://redis-0:6379", caFile: filepath.Join(dir, "absent.pem"), wantProblem: "no such file"},
		{name: "CA file without PEM", mode: "sentinel", url: "rediss://sentinel-0:26379?master_name=ledger", caFile: notPEM, wantProblem: "holds no PEM certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Redis{URL: tt.url, Mode: tt.mode, TLSCAFile: tt.caFile}

			validateErr := r.Validate()
			client, err := r.Client()

			if tt.wantProblem != "" {
				var fe *FieldError
				if !errors.As(err, &fe) || fe.Var != "INVITEPIPE_REDIS_TLS_CA_FILE" || !strings.Contains(fe.Problem, tt.wantProblem) {
					t.Fatalf("Client() error = %v, want INVITEPIPE_REDIS_TLS_CA_FILE: ...%s...", err, tt.wantProblem)
				}
				if validateErr == nil || !strings.Contains(validateErr.Error(), "INVITEPIPE_REDIS_TLS_CA_FILE") {
					t.Fatalf("Validate() = %v, want it to name INVITEPIPE_REDIS_TLS_CA_FILE", validateErr)
				}
				return
			}
			if err != nil || validateErr != nil {
				t.Fatalf("Client() = %v, Validate() = %v; want no error", err, validateErr)
			}
			defer client.Close()
			roots := clientTLS(t, client).RootCAs
			if tt.caFile == "" && roots != nil || tt.caFile != "" && !want.Equal(roots) {
				t.Fatalf("RootCAs = %v, want the pool of %q (nil: system roots)", roots, tt.caFile)
			}
		})
	}
}

// clientTLS returns the TLS configuration of a client that Redis.Client built.
func clientTLS(t *testing.T, client redis.UniversalClient) *tls.Config {
	t.Helper()
	var c *tls.Config
	switch cl := client.(type) {
	case *redis.Client:
		c = cl.Options().TLSConfig
	case *redis.ClusterClient:
		c = cl.Options().TLSConfig
	default:
		t.Fatalf("client is a %T", client)
	}
	if c == nil {
		t.Fatal("a rediss:// URL gave a client without TLS")
	}
	return c
}

// selfSignedPEM returns a PEM CA certificate.
func selfSignedPEM(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "config test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
