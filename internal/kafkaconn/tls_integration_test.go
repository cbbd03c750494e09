package kafkaconn_test

import (
	"context"
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/invitepipe/invitepipe/internal/config"
	"github.com/invitepipe/invitepipe/internal/testenv"
)

// Against the shared broker's SSL listener, whose certificate a test CA signs: with that CA
// as TLSCAFile the transport (admin calls and writers) and the dialer (consumer groups)
// carry a message there and back; with the system roots instead, every path fails the
// handshake with an unknown-authority error rather than retrying until a deadline.

// tlsTimeout bounds each scenario; a refused handshake must end well before it.
const tlsTimeout = time.Minute

func TestTLSRoundTrip(t *testing.T) {
	brokers, caFile := testenv.KafkaTLS(t)
	conn := newConn(t, config.Kafka{Brokers: brokers, TLS: true, TLSCAFile: caFile})
	testenv.RoundTrip(t, conn.Brokers, conn.Dialer, conn.Transport)
}

func TestTLSWithoutTheCAIsRefused(t *testing.T) {
	brokers, _ := testenv.KafkaTLS(t)
	for _, path := range connectPaths {
		t.Run(path.name, func(t *testing.T) {
			t.Parallel()
			// No TLSCAFile: the system roots, which do not hold the test CA.
			conn := newConn(t, config.Kafka{Brokers: brokers, TLS: true})
			ctx, cancel := context.WithTimeout(context.Background(), tlsTimeout)
			defer cancel()

			err := path.connect(ctx, conn)

			var unknown x509.UnknownAuthorityError
			if !errors.As(err, &unknown) {
				t.Fatalf("connect without the test CA: %v, want an x509.UnknownAuthorityError", err)
			}
			if ctx.Err() != nil {
				t.Fatalf("the refusal came only at the deadline: %v", err)
			}
		})
	}
}
