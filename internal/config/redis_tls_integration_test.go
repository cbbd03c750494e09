package config_test

import (
	"context"
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/invitepipe/invitepipe/internal/config"
	"github.com/invitepipe/invitepipe/internal/testenv"
)

// Against a private Redis that accepts TLS only, with a certificate from the shared test
// CA: the client that config builds from a rediss:// URL answers the readiness PING when
// INVITEPIPE_REDIS_TLS_CA_FILE names that CA, and fails the handshake with an
// unknown-authority error when it is left to the system roots.

// redisTLSTimeout bounds each PING; a refused handshake must end well before it.
const redisTLSTimeout = 30 * time.Second

func TestRedisTLSPing(t *testing.T) {
	server := testenv.StartRedisTLS(t)
	tests := []struct {
		name        string
		caFile      string
		wantRefused bool
	}{
		{name: "with the CA file the PING is answered", caFile: server.CAFile},
		{name: "with the system roots the handshake is refused", wantRefused: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := config.Redis{URL: server.URL, Mode: "single", TLSCAFile: tt.caFile}
			if err := r.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			client, err := r.Client()
			if err != nil {
				t.Fatalf("Client: %v", err)
			}
			defer client.Close()
			ctx, cancel := context.WithTimeout(context.Background(), redisTLSTimeout)
			defer cancel()

			err = client.Ping(ctx).Err()

			var unknown x509.UnknownAuthorityError
			switch {
			case !tt.wantRefused && err != nil:
				t.Fatalf("PING over TLS with the CA: %v", err)
			case tt.wantRefused && !errors.As(err, &unknown):
				t.Fatalf("PING over TLS without the CA: %v, want an x509.UnknownAuthorityError", err)
			case tt.wantRefused && ctx.Err() != nil:
				t.Fatalf("the refusal came only at the deadline: %v", err)
			}
		})
	}
}
