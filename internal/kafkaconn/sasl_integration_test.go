package kafkaconn_test

import (
	"bytes"
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
			client := &kafka.Client{Addr: kafka.TCP(conn.Brokers...), Transport: conn.Transport}
			topic := testenv.UniqueName(t, "sasl")
			group := testenv.UniqueName(t, "sasl")
			testenv.CreateTopicVia(t, client, topic, 1)
			ctx, cancel := context.WithTimeout(context.Background(), saslTimeout)
			defer cancel()

			w := &kafka.Writer{Addr: kafka.TCP(conn.Brokers...), Topic: topic, Transport: conn.Transport, RequiredAcks: kafka.RequireAll, BatchSize: 1}
			defer w.Close()
			want := kafka.Message{Key: []byte("row-1"), Value: []byte("sent with " + mechanism)}
			if err := w.WriteMessages(ctx, want); err != nil {
				t.Fatalf("write: %v", err)
			}

			r := kafka.NewReader(kafka.ReaderConfig{
				Brokers: conn.Brokers, Topic: topic, GroupID: group, Dialer: conn.Dialer,
				StartOffset: kafka.FirstOffset, MaxWait: 100 * time.Millisecond,
			})
			defer r.Close()
			got, err := r.FetchMessage(ctx)
			if err != nil {
				t.Fatalf("fetch: %v", err)
			}
			if !bytes.Equal(got.Key, want.Key) || !bytes.Equal(got.Value, want.Value) {
				t.Fatalf("fetched key %q value %q, want key %q value %q", got.Key, got.Value, want.Key, want.Value)
			}
			if err := r.CommitMessages(ctx, got); err != nil {
				t.Fatalf("commit: %v", err)
			}
			committed := testenv.CommittedOffsets(client, group, topic, []int{got.Partition})
			if committed[got.Partition] != got.Offset+1 {
				t.Fatalf("committed offsets %v, want %d on partition %d", committed, got.Offset+1, got.Partition)
			}
		})
	}
}

func TestSASLWrongPasswordIsRefused(t *testing.T) {
	brokers, username, _ := testenv.KafkaSASL(t)
	paths := []struct {
		name    string
		connect func(ctx context.Context, conn *kafkaconn.Conn) error
	}{
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
		{name: "writer", connect: func(ctx context.Context, conn *kafkaconn.Conn) error {
			// The topic is never created: the writer cannot authenticate to ask for it.
			w := &kafka.Writer{Addr: kafka.TCP(conn.Brokers...), Topic: "invitepipe.sasl.refused", Transport: conn.Transport}
			defer w.Close()
			return w.WriteMessages(ctx, kafka.Message{Value: []byte("never stored")})
		}},
	}
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
