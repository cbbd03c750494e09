package kafkaconn_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/invitepipe/invitepipe/internal/config"
	"github.com/invitepipe/invitepipe/internal/kafkaconn"
	"github.com/invitepipe/invitepipe/internal/testenv"
)

// Against the shared broker's SASL listener: each mechanism kafkaconn offers authenticates
// the transport (admin calls and writers) and the dialer (consumer groups), and a wrong
// password is refused with Kafka's authentication error rather than retried until a
// deadline.

// saslTimeout bounds each scenario; a refusal must arrive well before it.
const saslTimeout = time.Minute

var mechanisms = []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}

func TestSASLRoundTrip(t *testing.T) {
	brokers, username, password := testenv.KafkaSASL(t)
	for _, mechanism := range mechanisms {
		t.Run(mechanism, func(t *testing.T) {
			t.Parallel()
			conn := newConn(t, config.Kafka{Brokers: brokers, SASLMechanism: mechanism, SASLUsername: username, SASLPassword: password})
			testenv.RoundTrip(t, conn.Brokers, conn.Dialer, conn.Transport)
		})
	}
}

func TestSASLWrongPasswordIsRefused(t *testing.T) {
	brokers, username, _ := testenv.KafkaSASL(t)
	paths := append(connectPaths, connectPath{name: "writer", connect: func(ctx context.Context, conn *kafkaconn.Conn) error {
		// The topic is never created: the writer cannot authenticate to ask for it.
		w := &kafka.Writer{Addr: kafka.TCP(conn.Brokers...), Topic: "invitepipe.sasl.refused", Transport: conn.Transport}
		defer w.Close()
		return w.WriteMessages(ctx, kafka.Message{Value: []byte("never stored")})
	}})
	for _, mechanism := range mechanisms {
		for _, path := range paths {
			t.Run(mechanism+"/"+path.name, func(t *testing.T) {
				t.Parallel()
				conn := newConn(t, config.Kafka{Brokers: brokers, SASLMechanism: mechanism, SASLUsername: username, SASLPassword: "not-the-password"})
				ctx, cancel := context.WithTimeout(context.Background(), saslTimeout)
				defer cancel()

				err := path.connect(ctx, conn)

				if !errors.Is(err, kafka.SASLAuthenticationFailed) {
					t.Fatalf("connect with a wrong password: %v, want %v", err, kafka.SASLAuthenticationFailed)
				}
			})
		}
	}
}

func newConn(t *testing.T, cfg config.Kafka) *kafkaconn.Conn {
	t.Helper()
	conn, err := kafkaconn.New(cfg)
	if err != nil {
		t.Fatalf("kafkaconn.New: %v", err)
	}
	return conn
}

// connectPath is one way the product reaches the brokers.
type connectPath struct {
	name    string
	connect func(ctx context.Context, conn *kafkaconn.Conn) error
}

// connectPaths are the ways every part of invitepipe connects: the dialer of readers and
// consumer groups, and the transport of writers and admin calls.
var connectPaths = []connectPath{
	{name: "dialer (readers and consumer groups)", connect: func(ctx context.Context, conn *kafkaconn.Conn) error {
		c, err := conn.Dialer.DialContext(ctx, "tcp", conn.Brokers[0])
		if err == nil {
			c.Close()
		}
		return err
	}},
	{name: "transport (writers and admin calls)", connect: func(ctx context.Context, conn *kafkaconn.Conn) error {
		client := &kafka.Client{Addr: kafka.TCP(conn.Brokers...), Transport: conn.Transport}
		_, err := client.Metadata(ctx, &kafka.MetadataRequest{})
		return err
	}},
}
